"""LinearCKA learns its feature sizes (issue: ``LinearCKA()`` without sizes refused to work even on one process).

References: the float64 ``n x n`` Gram-matrix CKA of tests/cases/similarity.py.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from cases.similarity import gram_cka
from harness import run_ddp

from rdmetrics import LinearCKA


def _data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    y = x @ torch.randn(5, 3, generator=g, dtype=torch.float64) + torch.randn(n, 3, generator=g, dtype=torch.float64)
    return x, y


def test_sizes_learnt_then_enforced_and_merge_with_unsized() -> None:
    x, y = _data()
    metric = LinearCKA()
    metric.update(x[:0], y[:0])  # empty: a no-op that does not fix the sizes
    metric.update(x[:15], y[:15])
    with pytest.raises(ValueError, match="expected 5"):
        metric.update(x[:4, :4], y[:4])
    sized = LinearCKA(5, 3)
    sized.update(x[15:], y[15:])
    unsized_empty = LinearCKA()
    metric.merge_state(sized)
    metric.merge_state(unsized_empty)  # an unused metric of unknown sizes merges as nothing
    expected = gram_cka(x.numpy(), y.numpy(), debiased=False)
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-12)
    fresh = LinearCKA()
    fresh.merge_state(metric)  # adopts the sizes
    assert float(fresh.compute()) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="different feature dimensions"):
        other = LinearCKA()
        other.update(x[:, :4], y)
        metric.merge_state(other)
    with pytest.raises(ValueError, match="dist_sync_on_step"):
        LinearCKA(dist_sync_on_step=True)


def test_forward_batch_value_none_below_four_samples_debiased() -> None:
    x, y = _data()
    metric = LinearCKA(debiased=True)
    assert metric(x[:3], y[:3]) is None  # the unbiased estimator needs 4 samples: no batch value
    out = metric(x[3:20], y[3:20])
    assert float(out) == pytest.approx(gram_cka(x[3:20].numpy(), y[3:20].numpy(), debiased=True), abs=1e-12)
    with pytest.raises(ValueError, match="non-finite"):
        metric(x[20:], torch.full_like(y[20:], float("nan")))  # rejected: the state is kept
    metric(x[20:], y[20:])
    assert float(metric.compute()) == pytest.approx(gram_cka(x.numpy(), y.numpy(), debiased=True), abs=1e-12)


def _mismatched_sizes(rank: int, world_size: int) -> str:
    x, y = _data(12, seed=rank)
    metric = LinearCKA()
    metric.update(x if rank == 0 else x[:, :4], y)
    try:
        metric.compute()
    except ValueError as err:
        return str(err)
    return "no error"


@pytest.mark.ddp
def test_ddp_ranks_with_different_sizes_all_raise() -> None:
    """Every rank raises the same clear error (the sizes are gathered first), none hangs in the state gather."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = run_ddp(_mismatched_sizes)
    assert all("different sizes" in out and "(5, 3)" in out and "(4, 3)" in out for out in outs), outs
