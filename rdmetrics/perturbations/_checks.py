"""Severity validation shared by the families."""

from __future__ import annotations

import math
import numbers
from typing import Any

from torch import Tensor


def _as_real(name: str, severity: Any) -> float:
    """``float(severity)`` for a real number (Python, NumPy or a one-element real tensor); ``TypeError`` otherwise."""
    if isinstance(severity, Tensor) and severity.numel() == 1 and not severity.is_complex():
        severity = severity.item()
    if isinstance(severity, bool) or not isinstance(severity, numbers.Real):
        raise TypeError(f"{name}: severity must be a real number, got {severity!r}")
    value = float(severity)
    if math.isnan(value):
        raise ValueError(f"{name}: severity is NaN")
    return value


def _check_severity(name: str, severity: Any, low: float, high: float, *, allow_inf: bool = False) -> float:
    """``float(severity)`` after checking it is a real number in ``[low, high]`` (or ``+inf`` if allowed)."""
    value = _as_real(name, severity)
    if allow_inf and value == math.inf:
        return value
    if not low <= value <= high:
        raise ValueError(f"{name}: severity must lie in [{low:g}, {high:g}], got {severity!r}")
    return value


def _check_int_severity(name: str, severity: Any, low: int, high: int) -> int:
    """``int(severity)`` after checking it is an integer-valued real number in ``[low, high]``."""
    value = _as_real(name, severity)
    if not (value.is_integer() and low <= value <= high):
        raise ValueError(f"{name}: severity must be an integer in [{low}, {high}], got {severity!r}")
    return int(value)
