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


def test_registry_picks_up_every_case_module() -> None:
    """A new ``tests/cases/<area>.py`` is registered by existing: no list to edit."""
    from pathlib import Path

    from cases import CASE_MODULES

    files = {p.stem for p in (Path(__file__).parent / "cases").glob("*.py") if not p.stem.startswith("_")}
    assert {m.split(".", 1)[1] for m in CASE_MODULES} == files


def test_meta_and_empty_batch_helpers() -> None:
    import torch
    from harness import empty_batch, meta_batch

    batch = ((torch.randn(4, 3), 7), {"real": torch.ones(4, dtype=torch.bool)})
    (x, seven), kw = empty_batch(batch)
    assert x.shape == (0, 3) and seven == 7 and kw["real"].shape == (0,) and kw["real"].dtype == torch.bool
    (x, _), kw = meta_batch(batch)
    assert x.is_meta and kw["real"].is_meta and x.shape == (4, 3)
