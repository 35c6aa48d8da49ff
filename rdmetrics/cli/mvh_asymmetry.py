"""``rdmetrics mvh`` report section: directional-confusion asymmetry per observer and human-likeness per model.

Adds to the report (``report.json``): ``asymmetry`` (experiment -> observer -> per-level statistics of
:func:`rdmetrics.functional.confusion_asymmetry` and their error-weighted mean over levels) and ``human_likeness``
(experiment -> model -> z per signature and the combined distance, plus the subjects' leave-one-out distances; see
:mod:`rdmetrics.datasets.human_likeness`); the tables ``asymmetry.csv`` and ``human_likeness.csv``; and two blocks
of the printed summary.
"""

from __future__ import annotations

import math
from typing import Any

from rdmetrics.cli._format import fmt

_LEVEL_KEYS = ("asymmetry", "asymmetry_null", "asymmetry_excess", "top1_error_share", "effective_wrong_answers")


def _f(x: float, nd: int = 2) -> str:
    return fmt(x, nd) if x is not None and math.isfinite(x) else "-"


def asymmetry_section(ctx: Any) -> None:
    """Asymmetry of every observer (per level + error-weighted) and human-likeness of every model."""
    from rdmetrics.datasets.human_likeness import SIGNATURES, error_weighted_asymmetry, mvh_human_likeness
    from rdmetrics.functional import confusion_asymmetry

    args, data = ctx.args, ctx.data
    report: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    lines = ["== directional-confusion asymmetry (error-weighted mean over levels; null = symmetric observer)"]
    lines.append(f"{'experiment':<20} {'observer':<24} {'asym':>6} {'null':>6} {'excess':>7} {'top1':>6} {'eff':>6}")
    for name, exp in data.items():
        report[name] = {}
        for obs in exp.observers:
            cm = exp.confmat(obs)
            res = confusion_asymmetry(cm, args.prior)
            summary = error_weighted_asymmetry(cm, prior=args.prior)
            report[name][obs] = {
                "levels": {k: res[k].tolist() for k in (*_LEVEL_KEYS, "asymmetric_pairs", "error_rate")},
                "mean": summary,
            }
            for i, cond in enumerate(exp.conditions):
                rows.append(
                    {"experiment": name, "observer": obs, "level": i, "condition": cond}
                    | {k: float(res[k][i]) for k in (*_LEVEL_KEYS, "asymmetric_pairs", "error_rate")}
                )
            s = summary
            lines.append(
                f"{name:<20} {obs:<24} {_f(s['asymmetry']):>6} {_f(s['asymmetry_null']):>6} "
                f"{_f(s['asymmetry_excess']):>7} {_f(s['top1_error_share']):>6} {_f(s['effective_wrong_answers']):>6}"
            )
    ctx.report["asymmetry"] = report
    ctx.tables["asymmetry.csv"] = rows
    rd_kwargs: dict[str, Any] = {"prior": args.prior, "correction": args.correction}
    if getattr(args, "method", None) is not None:
        rd_kwargs["method"] = args.method
    if getattr(args, "axis", None) is not None:
        rd_kwargs["axis"] = args.axis
    likeness = mvh_human_likeness(data, **rd_kwargs)
    ctx.report["human_likeness"] = {"signatures": list(SIGNATURES), "experiments": likeness}
    hl_rows = []
    lines += ["", "== human-likeness: z = (model - subjects' mean) / subjects' SD; distance = RMS of the z's"]
    lines.append(f"{'experiment':<20} {'model':<24} {'distance':>8} " + " ".join(f"{k[:8]:>8}" for k in SIGNATURES))
    for name, entry in likeness.items():
        for m, r in entry["models"].items():
            hl_rows.append(
                {"experiment": name, "model": m, "distance": r["distance"], "at": r["at"]}
                | {f"z_{k}": r["z"][k] for k in SIGNATURES}
                | {k: r["signatures"][k] for k in SIGNATURES}
            )
            zs = " ".join(f"{_f(r['z'][k], 1):>8}" for k in SIGNATURES)
            lines.append(f"{name:<20} {m:<24} {_f(r['distance'], 2):>8} {zs}")
        loo = [v for v in entry["subjects"].values() if math.isfinite(v)]
        if loo:
            lines.append(f"{name:<20} {'(subjects, leave-one-out)':<24} {_f(min(loo))}-{_f(max(loo))}")
    ctx.tables["human_likeness.csv"] = hl_rows
    ctx.lines += ["", *lines, ""]


__all__ = ["asymmetry_section"]
