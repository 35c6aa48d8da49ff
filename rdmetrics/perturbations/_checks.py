"""Severity validation shared by the families."""

from __future__ import annotations

import math
from typing import Any


def _check_severity(name: str, severity: Any, low: float, high: float, *, allow_inf: bool = False) -> float:
    """``float(severity)`` after checking it is a real number in ``[low, high]`` (or ``+inf`` if allowed)."""
    if isinstance(severity, bool) or not isinstance(severity, (int, float)):
        try:
            import torch

            if isinstance(severity, torch.Tensor) and severity.numel() == 1 and not severity.is_complex():
                severity = float(severity)
            else:
                raise TypeError
        except TypeError:
            raise TypeError(f"{name}: severity must be a real number, got {severity!r}") from None
    value = float(severity)
    if math.isnan(value):
        raise ValueError(f"{name}: severity is NaN")
    if allow_inf and value == math.inf:
        return value
    if not low <= value <= high:
        raise ValueError(f"{name}: severity must lie in [{low:g}, {high:g}], got {severity!r}")
    return value
