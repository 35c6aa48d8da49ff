"""What the rate-distortion commands (``mvh``, ``confusion``) share: options, signature call and table columns."""

from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from rdmetrics.cli._common import finite_float, int_at_least, probability, probability_open
from rdmetrics.cli._format import as_float, interval
from rdmetrics.functional.bootstrap import _CI_METHODS
from rdmetrics.functional.information import CORRECTIONS
from rdmetrics.functional.rate_distortion import DEFAULT_CI_METHOD, DEFAULT_CORRECTION
from rdmetrics.utilities.data import _to_jsonable

METHODS = ("quadratic", "exponential", "pchip", "hull")
AXES = ("distortion", "severity")
#: signature outputs copied into the reports (and their intervals)
REPORTED = ("beta", "kappa", "auc", "secant_slope", "excess_rate")


def matched_distortion(distortions: Sequence[Sequence[float]]) -> float | None:
    """Common reference distortion for systems compared "at matched accuracy".

    ``D* = (max_s min_l D_{s,l} + min_s max_l D_{s,l}) / 2``: the midpoint of the intersection of the systems'
    observed D ranges, so every frontier is read inside its own data. ``None`` when the ranges do not overlap.

    Example:
        >>> matched_distortion([[0.1, 0.5, 0.9], [0.3, 0.7]])
        0.5
        >>> matched_distortion([[0.0, 0.1], [0.3, 0.7]]) is None
        True
    """
    lo = max(min(d) for d in distortions)
    hi = min(max(d) for d in distortions)
    return (lo + hi) / 2 if hi > lo else None


def _at_or_matched(value: str) -> float | str:
    if value == "matched":
        return value
    try:
        return finite_float(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number or 'matched', got {value!r}") from None


def add_signature_options(p: argparse.ArgumentParser, *, n_bootstrap: int, allow_matched: bool = False) -> None:
    """The RD signature options; ``allow_matched`` lets ``--at`` also take ``matched`` (several systems)."""
    p.add_argument("--method", choices=METHODS, default=None, help="frontier fit (default: the library default)")
    p.add_argument(
        "--axis",
        choices=AXES,
        default=None,
        help="x axis of the frontier: distortion D = 1 - accuracy (default), or severity: the condition labels "
        "when they are strictly monotone numbers, else their rank 0..L-1",
    )
    where = p.add_mutually_exclusive_group()
    at_help = "reference point x* at which beta/kappa are read (a distortion in [0, 1] on the default axis)"
    if allow_matched:
        at_help += "; 'matched': one common D per experiment, inside every observer's range"
    where.add_argument("--at", type=_at_or_matched if allow_matched else finite_float, default=None, help=at_help)
    where.add_argument(
        "--at-accuracy",
        type=probability,
        default=None,
        metavar="A",
        help="read beta/kappa where the frontier reaches accuracy A (matched-accuracy comparisons)",
    )
    p.add_argument(
        "--correction",
        choices=CORRECTIONS,
        default=DEFAULT_CORRECTION,
        help=f"rate estimator (MI bias correction; default {DEFAULT_CORRECTION})",
    )
    p.add_argument(
        "--ci-method",
        choices=_CI_METHODS,
        default=DEFAULT_CI_METHOD,
        help=f"bootstrap interval method (default {DEFAULT_CI_METHOD})",
    )
    p.add_argument("--prior", choices=("uniform", "empirical"), default="uniform", help="class prior p(x)")
    p.add_argument(
        "--n-bootstrap", type=int_at_least(0), default=n_bootstrap, help="bootstrap resamples for the CIs (0: none)"
    )
    p.add_argument("--ci", type=probability_open, default=0.95, help="confidence level of the intervals, in (0, 1)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="bootstrap seed")


def signature_usage_error(args: argparse.Namespace) -> str | None:
    """Combinations of the signature options that cannot work (reported as usage errors), or ``None``."""
    severity = args.axis == "severity"
    if args.at == "matched" and severity:
        return "--at matched compares systems at a common distortion; it needs --axis distortion"
    if isinstance(args.at, float) and not severity and not 0.0 <= args.at <= 1.0:
        return f"--at {args.at:g}: a distortion must lie in [0, 1]"
    return None


def signature_kwargs(args: argparse.Namespace, at: float | None = None) -> dict[str, Any]:
    """Keyword arguments for :func:`rdmetrics.functional.rate_distortion_signature` (options left at their
    default are not passed, so the library's defaults apply)."""
    kw: dict[str, Any] = {"prior": args.prior, "correction": args.correction, "ci_method": args.ci_method}
    if args.method is not None:
        kw["method"] = args.method
    if args.axis is not None:
        kw["axis"] = args.axis
    at = at if at is not None else (args.at if isinstance(args.at, float) else None)
    if at is not None:
        kw["at"] = at
    if args.at_accuracy is not None:
        kw["at_accuracy"] = args.at_accuracy
    kw["n_bootstrap"] = args.n_bootstrap
    kw["ci"] = args.ci
    kw["seed"] = args.seed
    return kw


def levels_and_signature(
    cm: Tensor,
    conditions: Sequence[str],
    args: argparse.Namespace,
    at: float | None = None,
) -> tuple[dict[str, list[Any]], dict[str, Any], str]:
    """Per-level accuracy / D / plug-in and corrected rate / null floor, the RD signature (JSON-ready) and a note.

    The note says why there is no signature (e.g. too few levels for the frontier method). Per level, ``rate_floor``
    and ``rate_floor_hi`` are the mean and 95 % quantile of the rate estimator on permutation-null tables (same
    totals, no dependence) and ``within_floor`` flags a rate at or below ``rate_floor_hi``: no information is
    detectable there beyond the estimator's small-sample floor. The library's warnings about the floor and about
    few trials per class are returned with the signature (``warnings``) instead of being printed once per observer.
    On the severity axis the condition labels are the x values (the library's rule: the numbers themselves when
    every label is a number and they are strictly monotone, otherwise the rank ``0, 1, ..., L-1``).
    """
    from rdmetrics.functional import rate_distortion_points, rate_distortion_signature

    d, plug = rate_distortion_points(cm, prior=args.prior, correction="none")
    corr = (
        plug
        if args.correction == "none"
        else rate_distortion_points(cm, prior=args.prior, correction=args.correction)[1]
    )
    levels: dict[str, list[Any]] = {
        "condition": list(conditions),
        "n_trials": cm.sum((1, 2)).tolist(),
        "accuracy": (1.0 - d).tolist(),
        "distortion": d.tolist(),
        "rate_plugin": plug.tolist(),
        "rate": corr.tolist(),
    }
    kw = signature_kwargs(args, at)
    if args.axis == "severity":
        kw["conditions"] = list(conditions)
    note = ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sig = rate_distortion_signature(cm, **kw)
        except ValueError as err:  # e.g. too few levels for the chosen frontier method
            sig, note = {}, f"no signature: {' '.join(str(err).split())}"
    nan = [math.nan] * len(conditions)
    floor = sig["rate_floor"].tolist() if "rate_floor" in sig else nan
    floor_hi = sig["rate_floor_hi"].tolist() if "rate_floor_hi" in sig else nan
    levels["rate_floor"], levels["rate_floor_hi"] = floor, floor_hi
    levels["within_floor"] = [bool(r <= f) for r, f in zip(corr.tolist(), floor_hi)]
    keep = (*REPORTED, "at", "beta_se", *(f"{k}_ci" for k in REPORTED), *(f"{k}_raw" for k in REPORTED))
    out = {k: _to_jsonable(v) for k, v in sig.items() if k in keep}
    if sig and caught:
        out["warnings"] = sorted({" ".join(str(w.message).split()) for w in caught})
    return levels, out, note


def explanation_lines(any_within_floor: bool, warnings_seen: Sequence[str]) -> list[str]:
    """What a reader needs to read the RD tables: bias-corrected values inside their intervals, the null floor and
    (when the library warned) too few trials per class for reliable intervals."""
    lines = [
        "beta/kappa/AUC [95% CI]: with --ci-method smoothed (the default) the value is bias-corrected and lies inside"
        " its interval; the raw estimates are the *_raw columns/keys."
    ]
    if any_within_floor:
        lines.append(
            "null floor: what the rate estimator reports when responses are independent of the class (permutation"
            " null with the same totals; mean and 95% quantile). A rate at or below that quantile ('<= floor')"
            " carries no information detectable beyond the estimator's small-sample bias, so beta, kappa and AUC"
            " near such levels are partly estimator artefacts."
        )
    if any("trials per class" in w for w in warnings_seen):
        lines.append(
            "few trials: below 40 trials per class and condition the intervals under-cover in"
            " benchmarks/rd_calibration.py (at 10 per class: beta 0.97-1.00, AUC and kappa down to 0.75-0.78)."
        )
    return lines


def signature_columns(sig: dict[str, Any]) -> dict[str, float]:
    """Flat table columns: beta, kappa, auc with ``_lo`` / ``_hi`` interval ends, secant slope, excess rate."""
    out: dict[str, float] = {}
    for key in ("beta", "kappa", "auc"):
        out[key] = as_float(sig.get(key))
        out[f"{key}_lo"], out[f"{key}_hi"] = interval(sig, key)
    for key in ("beta", "kappa", "auc"):  # the raw estimate beside a bias-corrected value (NaN when not reported)
        out[f"{key}_raw"] = as_float(sig.get(f"{key}_raw"))
    out["secant_slope"] = as_float(sig.get("secant_slope"))
    out["excess_rate"] = as_float(sig.get("excess_rate"))
    return out


__all__ = [
    "AXES",
    "CORRECTIONS",
    "METHODS",
    "add_signature_options",
    "explanation_lines",
    "levels_and_signature",
    "matched_distortion",
    "signature_columns",
    "signature_kwargs",
    "signature_usage_error",
]
