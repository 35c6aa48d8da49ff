"""``rdmetrics mvh``: rate-distortion report of humans and models from model-vs-human raw-data CSVs.

The command is a list of report sections (:data:`SECTIONS`). Each section is a small function that reads the
loaded data from an :class:`MvhContext` and adds to it: a key of the JSON report, CSV tables, figures and lines of
the printed summary. A new analysis adds its options in a function appended to :data:`OPTIONS` and its section to
:data:`SECTIONS`; loading, output checks, staging and writing stay here, in one place.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rdmetrics.cli._common import progress
from rdmetrics.cli._format import fmt_ci
from rdmetrics.cli._io import csv_text
from rdmetrics.cli._output import StagedDir
from rdmetrics.cli._rd import (
    add_signature_options,
    explanation_lines,
    levels_and_signature,
    matched_distortion,
    signature_columns,
    signature_kwargs,
    signature_usage_error,
)
from rdmetrics.cli.mvh_asymmetry import asymmetry_section
from rdmetrics.datasets import mvh_sections
from rdmetrics.utilities.data import _to_jsonable


@dataclass
class MvhContext:
    """What the report sections share: the options, the data, and the outputs they add to."""

    args: argparse.Namespace
    #: the loaded :class:`rdmetrics.datasets.ModelVsHuman` (experiment name -> ExperimentData)
    data: Any
    #: the JSON report (``report.json``): ``settings`` plus one key per section
    report: dict[str, Any] = field(default_factory=dict)
    #: CSV tables, file name -> rows (dicts with the same keys)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: figures, file name -> function writing the figure to the path it is given (skipped with ``--no-plots``)
    figures: dict[str, Callable[[Path], None]] = field(default_factory=dict)
    #: lines of the printed summary
    lines: list[str] = field(default_factory=list)


def observer_kind(exp: Any, obs: str) -> str:
    """``"subject"``, ``"model"`` or ``"humans"`` (the pooled subjects)."""
    if obs in exp.subjects:
        return "subject"
    if obs in exp.models:
        return "model"
    return "humans"


def plot_frontiers(exp: Any, levels: dict[str, dict[str, list[float]]], path: Path) -> None:
    """RD operating points per level of every observer of one experiment, with the Hamming bound."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from rdmetrics.functional import hamming_rd_bound

    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    grid = torch.linspace(0, 1, 201, dtype=torch.float64)
    ax.plot(grid, hamming_rd_bound(grid, 16), ":", color="0.5", label="Hamming bound (M=16)")
    colours = plt.get_cmap("tab10")
    for i, m in enumerate(exp.models):
        if m in levels:
            lv = levels[m]
            ax.plot(lv["distortion"], lv["rate"], "s--", color=colours(i), ms=4, lw=1.2, label=m)
    for s in exp.subjects:
        if s in levels:
            ax.plot(levels[s]["distortion"], levels[s]["rate"], "-", color="0.65", lw=0.8)
    if "humans" in levels:
        lv = levels["humans"]
        ax.plot(lv["distortion"], lv["rate"], "o-", color="black", lw=2.2, label="humans (pooled)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 4.2)
    ax.set_xlabel("distortion D = 1 - accuracy")
    ax.set_ylabel("rate I(X;Y) [bits]")
    ax.set_title(f"{exp.name}: RD operating points per level" + ("" if exp.monotone else " (no monotone severity)"))
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------------------------------------------- options


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="raw-data folder (one sub-folder per experiment) or one experiment folder")
    p.add_argument("--experiments", nargs="+", default=None, help="experiment folder names (default: all)")
    p.add_argument("--observers", nargs="+", default=None, help="observers to keep: humans, subject-01, resnet50, ...")


def _output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        default=None,
        help="folder for levels.csv, signatures.csv, report.json, frontier_*.png (+ raw-data/ with --add-model)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --out folder as a whole")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")


def _signature_options(p: argparse.ArgumentParser) -> None:
    add_signature_options(p, n_bootstrap=200, allow_matched=True)


#: functions adding the command's options, in the order they appear in ``--help``
OPTIONS: list[Callable[[argparse.ArgumentParser], None]] = [
    _data_options,
    _output_options,
    _signature_options,
    mvh_sections.add_options,
]


# ------------------------------------------------------------------------------------------------------- sections


def signatures_section(ctx: MvhContext) -> None:
    """Per experiment and observer: accuracy, D and rate per level and the RD signature with intervals.

    Adds ``experiments`` to the report, ``levels.csv``, ``signatures.csv`` and one ``frontier_<experiment>.png``
    per experiment.
    """
    args, data = ctx.args, ctx.data
    matched: dict[str, float | None] = {}
    if args.at == "matched":
        from rdmetrics.functional import rate_distortion_points

        for name, exp in data.items():
            d, _ = rate_distortion_points(torch.stack([exp.confmat(o) for o in exp.observers]), prior=args.prior)
            matched[name] = matched_distortion(d.tolist())
    experiments: dict[str, Any] = {}
    level_rows: list[dict[str, Any]] = []
    sig_rows: list[dict[str, Any]] = []
    per_exp_levels: dict[str, dict[str, dict[str, list[float]]]] = {}
    jobs = [(e, o) for e in data for o in data[e].observers]
    for name, obs in progress(jobs, desc="mvh", unit="observer"):
        exp = data[name]
        at = matched.get(name)
        levels, sig, note = levels_and_signature(exp.confmat(obs), exp.conditions, args, at)
        if args.at == "matched" and at is None:
            note = "no common D range across observers (at=matched); " + (note or "read at own midpoint")
        kind = observer_kind(exp, obs)
        per_exp_levels.setdefault(name, {})[obs] = levels
        entry = experiments.setdefault(
            name,
            {"conditions": list(exp.conditions), "monotone": exp.monotone, "at": matched.get(name), "observers": {}},
        )
        entry["observers"][obs] = {"kind": kind, "levels": _to_jsonable(levels), "signature": sig, "note": note}
        for i, cond in enumerate(exp.conditions):
            level_rows.append(
                {"experiment": name, "observer": obs, "kind": kind, "level": i}
                | {k: levels[k][i] for k in levels}
                | {"condition": cond}
            )
        sig_rows.append(
            {"experiment": name, "observer": obs, "kind": kind, "monotone": exp.monotone}
            | signature_columns(sig)
            | {"note": note}
        )
    ctx.report["experiments"] = experiments
    ctx.tables["levels.csv"] = level_rows
    ctx.tables["signatures.csv"] = sig_rows
    for name in data:

        def figure(path: Path, exp: Any = data[name], levels: Any = per_exp_levels[name]) -> None:
            plot_frontiers(exp, levels, path)

        ctx.figures[f"frontier_{name}.png"] = figure
    ctx.lines += _signature_lines(data, experiments)


def _signature_lines(data: Any, experiments: dict[str, Any]) -> list[str]:
    lines = []
    any_floor, seen = False, set()
    for name, entry in experiments.items():
        exp = data[name]
        flag = "" if exp.monotone else "  [no monotone severity order]"
        lines.append(f"== {name}: levels {' '.join(exp.conditions)}{flag}")
        lines.append(
            f"{'observer':<24} {'accuracy per level':<48} {'beta [CI]':<24} {'kappa [CI]':<24} {'AUC [CI]':<24}"
        )
        for obs, o in entry["observers"].items():
            acc = " ".join(f"{a:.2f}" for a in o["levels"]["accuracy"])
            s = signature_columns(o["signature"])
            cols = [fmt_ci(s[k], s[f"{k}_lo"], s[f"{k}_hi"]) for k in ("beta", "kappa", "auc")]
            line = f"{obs:<24} {acc:<48} {cols[0]:<24} {cols[1]:<24} {cols[2]:<24}"
            lines.append(line.rstrip() + (f"  ({o['note']})" if o["note"] else ""))
            seen.update(o["signature"].get("warnings", ()))
        floor = {
            obs: [c for c, w in zip(exp.conditions, o["levels"]["within_floor"]) if w]
            for obs, o in entry["observers"].items()
        }
        floor = {obs: c for obs, c in floor.items() if c}
        if floor:
            any_floor = True
            lines.append("rate <= null floor at: " + "; ".join(f"{o} {' '.join(c)}" for o, c in floor.items()))
        lines.append("")
    return [*explanation_lines(any_floor, sorted(seen)), "", *lines]


#: the report sections, run in this order on the loaded data
SECTIONS: list[Callable[[MvhContext], None]] = [signatures_section, *mvh_sections.SECTIONS]
SECTIONS.append(asymmetry_section)  # directional-confusion asymmetry + human-likeness


# ----------------------------------------------------------------------------------------------------- the command


def usage_error(args: argparse.Namespace) -> str | None:
    """Problems found without reading the data (reported as usage errors, exit status 2)."""
    msg = signature_usage_error(args) or mvh_sections.usage_error(args)
    if msg is not None:
        return msg
    root = Path(args.path)
    if args.experiments is not None and root.is_dir() and not any(p.suffix.lower() == ".csv" for p in root.iterdir()):
        available = sorted(p.name for p in root.iterdir() if p.is_dir())
        unknown = [e for e in args.experiments if e not in available]
        if unknown:
            return f"unknown experiment(s) {', '.join(unknown)} in {root}; available: {', '.join(available)}"
    return None


def run(args: argparse.Namespace) -> int:
    """Check the output, load the data, run every section, print the summary and write the outputs."""
    from rdmetrics.datasets import load_model_vs_human

    out = StagedDir(args.out, overwrite=args.overwrite) if args.out is not None else None
    try:  # --add-model: the model's CSVs go into the staged output (OUT/raw-data/), read together with PATH
        added, extra = mvh_sections.add_model(args, out.dir if out is not None and args.add_model else None)
        data = load_model_vs_human(
            args.path, experiments=args.experiments, observers=args.observers, on_error="skip", extra_roots=extra
        )
        ctx = MvhContext(args=args, data=data, lines=[*added, *mvh_sections.skipped_lines(data)])
        ctx.report["settings"] = signature_kwargs(args) | {"path": str(data.root)}
        if extra:
            ctx.report["settings"]["added_raw_data"] = str(Path(args.out) / mvh_sections.ADDED_RAW_DATA)
        for section in SECTIONS:
            try:
                section(ctx)
            except ValueError as err:  # one analysis failing does not lose the others
                name = section.__name__.removesuffix("_section")
                ctx.lines += [f"== {name}: not computed ({' '.join(str(err).split())})", ""]
        print("\n".join(ctx.lines))
    except BaseException:
        if out is not None:
            out.abort()  # no staging folder (with the added model's CSVs) left behind
        raise
    if out is not None:
        with out:
            for name, rows in ctx.tables.items():
                if rows:  # a section with nothing to tabulate writes no file
                    out.write_text(name, csv_text(rows))
            out.write_text("report.json", json.dumps(_to_jsonable(ctx.report), indent=1))
            if not args.no_plots:
                for name, draw in progress(list(ctx.figures.items()), desc="plots", unit="plot"):
                    draw(out.path(name))
            n_files = len(list(out.dir.iterdir()))
        print(f"wrote {n_files} files to {args.out}")
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``mvh`` on the ``rdmetrics`` sub-command parsers."""
    p = sub.add_parser("mvh", help="RD signatures of humans and models from model-vs-human raw-data CSVs")
    for add in OPTIONS:
        add(p)
    p.set_defaults(handler=run, usage_check=usage_error)
    return p


__all__ = [
    "OPTIONS",
    "SECTIONS",
    "MvhContext",
    "add_parser",
    "observer_kind",
    "plot_frontiers",
    "run",
    "signatures_section",
]
