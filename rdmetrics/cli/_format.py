"""Number formatting for the command line's tables (NaN / missing values print as ``nan``)."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor


def as_float(x: Any) -> float:
    """A scalar (Python number, 0-d or 1-element tensor, ``None``) as a float; ``nan`` for ``None`` / empty.

    Example:
        >>> as_float(None), as_float(2), as_float(__import__("torch").tensor([0.5]))
        (nan, 2.0, 0.5)
    """
    if x is None:
        return math.nan
    if isinstance(x, Tensor):
        return float(x.detach().cpu().double().reshape(-1)[0]) if x.numel() else math.nan
    return float(x)


def interval(res: dict[str, Any], key: str) -> tuple[float, float]:
    """``res[f"{key}_ci"]`` as ``(lo, hi)`` floats; ``(nan, nan)`` when there is no interval.

    Example:
        >>> interval({"beta_ci": [1.0, 2.0]}, "beta"), interval({}, "beta")
        ((1.0, 2.0), (nan, nan))
    """
    ci = res.get(f"{key}_ci")
    if ci is None:
        return math.nan, math.nan
    if isinstance(ci, Tensor):
        ci = ci.detach().cpu().double().reshape(-1).tolist()
    return as_float(ci[0]), as_float(ci[1])


def fmt(x: float | None, nd: int = 3) -> str:
    """``x`` with ``nd`` decimals, ``nan`` for missing / non-finite values.

    Example:
        >>> fmt(1 / 3), fmt(None), fmt(float("inf"), 1)
        ('0.333', 'nan', 'nan')
    """
    return "nan" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def fmt_ci(value: float | None, lo: float | None, hi: float | None, nd: int = 3) -> str:
    """``value [lo, hi]``, or just ``value`` when the interval is missing.

    Example:
        >>> fmt_ci(0.5, 0.25, 0.75), fmt_ci(0.5, float("nan"), float("nan")), fmt_ci(0.5, None, None, 1)
        ('0.500 [0.250, 0.750]', '0.500', '0.5')
    """
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return fmt(value, nd)
    return f"{fmt(value, nd)} [{fmt(lo, nd)}, {fmt(hi, nd)}]"


__all__ = ["as_float", "fmt", "fmt_ci", "interval"]
