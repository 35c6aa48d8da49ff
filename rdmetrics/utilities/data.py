"""Helpers for ``dist_reduce_fx="cat"`` list states that must survive DDP with uneven or empty ranks.

torchmetrics replaces the list of a rank that saw no update by a 1-D empty tensor before gathering, and gloo/NCCL
then abort on a shape-rank mismatch if the other ranks hold 2-D rows. Storing rows *flattened* (1-D) and
reshaping at compute time with the row width (kept in a ``"max"``-reduced state) avoids that on every backend.

The placeholder also has the metric's ``dtype`` (``Metric.dtype``, float32 unless ``set_dtype`` was called): rows
must be stored in that dtype, or the gather mixes dtypes and the collective hangs. Metrics that keep float64
features call ``self.set_dtype(torch.float64)`` at the end of ``__init__`` and store ``x.to(self.dtype)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat


def _flatten_rows(x: Tensor, dtype: torch.dtype) -> Tensor:
    """Rows ``[N, d]`` -> a 1-D tensor of the metric's ``dtype`` for a ``"cat"`` list state."""
    return x.reshape(-1).to(dtype)


def _cat_rows(state: Any, width: int | Tensor, dtype: torch.dtype | None = None) -> Tensor:
    """Concatenate a flattened ``"cat"`` state (a list locally, a tensor after sync) back into ``[N, width]`` rows.

    Returns an empty ``[0, width]`` tensor when nothing was stored on any rank.
    """
    width = int(width)
    if isinstance(state, Tensor):
        flat = state
    elif len(state):
        flat = dim_zero_cat(state)
    else:
        flat = torch.zeros(0, dtype=dtype or torch.float32)
    if width <= 0:
        if flat.numel():
            raise RuntimeError("row width unknown although rows were stored")
        return flat.reshape(0, 0)
    if flat.numel() % width:
        raise RuntimeError(f"stored {flat.numel()} values, not a multiple of the row width {width}")
    return flat.reshape(-1, width)


def _cat_values(state: Any, dtype: torch.dtype | None = None) -> Tensor:
    """Concatenate a 1-D ``"cat"`` state (list or synced tensor); empty 1-D tensor if none."""
    if isinstance(state, Tensor):
        return state.reshape(-1)
    if len(state):
        return dim_zero_cat(state).reshape(-1)
    return torch.zeros(0, dtype=dtype or torch.float32)


def _to_jsonable(x: Any) -> Any:
    """Tensors / numpy -> plain Python (lists, floats); NaN/inf -> None so the JSON stays standard."""
    if isinstance(x, Tensor):
        x = x.detach().cpu()
        x = x.item() if x.ndim == 0 else x.tolist()
    elif isinstance(x, np.ndarray):
        x = x.tolist()
    elif isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, dict):
        return {str(k): _to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


__all__ = ["_cat_rows", "_cat_values", "_flatten_rows", "_to_jsonable"]
