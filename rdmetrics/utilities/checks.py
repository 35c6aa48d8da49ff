"""Input validation shared by every functional and metric: one place that names the problem."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _check_not_meta(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` for a ``meta``-device tensor (a shape without data: nothing can be measured on it)."""
    if x.is_meta:
        raise ValueError(
            f"`{name}` is a meta tensor (shape {tuple(x.shape)}, no data): metrics need real values; materialise it"
            " on a real device first (e.g. run the model after `module.to_empty(device=...)` and loading weights)"
        )


def _check_tensor(x: object, name: str) -> Tensor:
    """``x`` must be a ``torch.Tensor`` holding data (not on the ``meta`` device)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor, got {type(x).__name__}")
    _check_not_meta(x, name)
    return x


def _check_finite(x: Tensor, name: str) -> None:
    """Raise ``ValueError`` if a floating tensor holds NaN or inf (or is a meta tensor, which holds nothing).

    Fast path: a finite sum proves every entry finite (NaN and inf propagate through a sum); only when the sum is
    not finite (bad input, or a mere overflow of the sum) are the entries checked one by one.
    """
    _check_not_meta(x, name)
    if x.is_floating_point() or x.is_complex():
        if x.is_floating_point() and (x.numel() == 0 or math.isfinite(float(x.sum()))):
            return
        if not bool(torch.isfinite(x).all()):
            n_nan = int(torch.isnan(x).sum())
            n_inf = int(torch.isinf(x).sum())
            raise ValueError(f"`{name}` contains non-finite values ({n_nan} NaN, {n_inf} inf)")


def _check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return value


def _check_same_num_samples(a: Tensor, b: Tensor, name_a: str, name_b: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same number of samples, got {a.shape[0]} and {b.shape[0]}"
        )


def _check_labels(labels: Tensor, num_classes: int, name: str) -> Tensor:
    """Validate integer class labels in ``[0, num_classes)``; returns them as a flat long tensor."""
    _check_tensor(labels, name)
    if labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"`{name}` must hold integer class labels, got dtype {labels.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D tensor of labels, got shape {tuple(labels.shape)}")
    if labels.numel():
        lo, hi = (int(v) for v in torch.aminmax(labels.long() if labels.dtype == torch.bool else labels))
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"`{name}` has labels out of range [0, {num_classes - 1}]: min {lo}, max {hi}")
    return labels.long()


def _format_predictions(preds: Tensor, num_classes: int, name: str = "preds") -> Tensor:
    """Turn logits / probabilities ``[N, C]`` or labels ``[N]`` into long labels ``[N]``.

    Floating inputs must be ``[N, num_classes]`` scores (argmax is taken; NaN/inf rejected). Integer inputs must be
    ``[N]`` labels in ``[0, num_classes)``.
    """
    _check_tensor(preds, name)
    if preds.is_floating_point():
        if preds.ndim != 2:
            raise ValueError(
                f"floating `{name}` must be [N, {num_classes}] logits or probabilities, got shape {tuple(preds.shape)};"
                " pass integer labels for [N] inputs"
            )
        if preds.shape[1] != num_classes:
            raise ValueError(f"`{name}` has {preds.shape[1]} score columns, expected num_classes={num_classes}")
        _check_finite(preds, name)
        return preds.argmax(dim=1)
    return _check_labels(preds, num_classes, name)


__all__ = [
    "_check_finite",
    "_check_labels",
    "_check_not_meta",
    "_check_positive_int",
    "_check_same_num_samples",
    "_check_tensor",
    "_format_predictions",
]
