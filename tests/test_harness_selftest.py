"""The harness must be able to fail: a batch-split-dependent metric is caught."""

import pytest
from cases.selftest import MeanOfBatchMeans, make_batches
from harness import assert_close, cat_batches, run_metric


def test_split_dependent_metric_is_caught() -> None:
    batches = make_batches(0)
    split = run_metric(MeanOfBatchMeans(), batches).compute()
    whole = run_metric(MeanOfBatchMeans(), [cat_batches(batches)]).compute()
    with pytest.raises(AssertionError):
        assert_close(split, whole, 1e-8, 1e-6)


def test_assert_close_checks_keys_and_values() -> None:
    import torch

    with pytest.raises(AssertionError, match="missing key"):
        assert_close({"a": torch.tensor(1.0)}, {"a": torch.tensor(1.0), "b": torch.tensor(2.0)}, 0, 0)
    with pytest.raises(AssertionError):
        assert_close({"a": torch.tensor(1.0)}, {"a": torch.tensor(1.1)}, 1e-6, 1e-6)
    assert_close({"a": torch.tensor(float("nan"))}, {"a": float("nan")}, 0, 0)
