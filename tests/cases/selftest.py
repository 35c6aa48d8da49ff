"""A tiny metric that exercises the harness itself (sum state + 2-D cat list state), with a numpy reference."""

from __future__ import annotations

import numpy as np
import torch
from harness import MetricCase
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.utilities.checks import _check_finite, _check_tensor
from rdmetrics.utilities.data import _cat_rows, _flatten_rows
from rdmetrics.utilities.forward import BatchValueForwardMixin


class SumAndSpread(BatchValueForwardMixin, Metric):
    """Total of ``x`` (sum state) and the std of all rows' norms (2-D cat state); the model of a conforming metric."""

    full_state_update = False
    is_differentiable = False
    higher_is_better = None

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("rows", [], dist_reduce_fx="cat")  # flattened rows (see rdmetrics.utilities.data)
        self.set_dtype(torch.float64)

    def update(self, x: Tensor) -> None:
        _check_finite(_check_tensor(x, "x"), "x")
        self.total += x.double().sum()
        self.rows.append(_flatten_rows(x, self.dtype))

    def compute(self) -> dict[str, Tensor]:
        rows = _cat_rows(self.rows, 3, torch.float64)
        if rows.numel() == 0:
            raise ValueError("SumAndSpread: empty state, call update() first")
        return {"total": self.total.clone(), "spread": rows.norm(dim=1).std()}


class MeanOfBatchMeans(SumAndSpread):
    """Deliberately wrong: depends on how the data were split into batches."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("batch_means", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n_batches", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, x: Tensor) -> None:
        super().update(x)
        self.batch_means += x.double().mean()
        self.n_batches += 1

    def compute(self) -> dict[str, Tensor]:
        if self.n_batches == 0:
            raise ValueError("empty state")
        return {"total": self.batch_means / self.n_batches}


def make_batches(seed: int):
    g = torch.Generator().manual_seed(seed)
    sizes = [5, 7, 3, 6]
    return [((torch.randn(n, 3, generator=g, dtype=torch.float64),), {}) for n in sizes]


def reference(batches):
    x = np.concatenate([b[0][0].numpy() for b in batches])
    return {"total": float(x.sum()), "spread": float(np.linalg.norm(x, axis=1).std(ddof=1))}


CASES = [MetricCase("selftest-sum-and-spread", SumAndSpread, make_batches, reference, atol=1e-10, rtol=1e-10)]
