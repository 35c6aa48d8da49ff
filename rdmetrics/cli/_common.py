"""Shared pieces of the command line: the user-facing error type, argument types and a progress bar."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any


class CLIError(Exception):
    """A user-facing error: printed as one line ``rdmetrics <command>: error: ...``, exit status 1."""


def int_at_least(low: int) -> Any:
    """An argparse ``type=``: an integer ``>= low`` (otherwise a usage error, exit status 2).

    Example:
        >>> int_at_least(1)("3")
        3
        >>> int_at_least(1)("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: expected an integer >= 1, got '0'
    """

    def parse(value: str) -> int:
        try:
            out = int(value)
        except ValueError:
            out = low - 1
        if out < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {value!r}")
        return out

    return parse


def _float_where(value: str, ok: Any, expected: str) -> float:
    """``float(value)`` when ``ok`` holds for it, else an argparse usage error naming ``expected``."""
    try:
        out = float(value)
    except ValueError:
        out = math.nan
    if not ok(out):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
    return out


def probability_open(value: str) -> float:
    """An argparse ``type=``: a number strictly between 0 and 1 (a confidence level)."""
    return _float_where(value, lambda v: 0.0 < v < 1.0, "a number strictly between 0 and 1")


def probability(value: str) -> float:
    """An argparse ``type=``: a number in ``[0, 1]`` (an accuracy or a distortion)."""
    return _float_where(value, lambda v: 0.0 <= v <= 1.0, "a number in [0, 1]")


def finite_float(value: str) -> float:
    """An argparse ``type=``: a finite number."""
    return _float_where(value, math.isfinite, "a finite number")


def progress(iterable: Any, **kwargs: Any) -> Any:
    """``tqdm`` on stderr, shown only on a terminal, removed when done."""
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, disable=None, leave=False, **kwargs)


__all__ = ["CLIError", "finite_float", "int_at_least", "probability", "probability_open", "progress"]
