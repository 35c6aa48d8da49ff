"""The model-vs-human analyses of ``rdmetrics mvh`` beyond RD signatures: error consistency, shape bias, the
benchmark tables and adding your own model. The CLI (:mod:`rdmetrics.cli.mvh`) appends :func:`add_options` to its
options and the ``*_section`` functions to its report sections; each section reads ``ctx.args`` / ``ctx.data`` and
adds to ``ctx.report`` (JSON), ``ctx.tables`` (file name -> rows), ``ctx.figures`` (file name -> draw(path)) and
``ctx.lines`` (printed summary). A dataset a section cannot handle is reported in the summary and skipped; the other
datasets still run.
"""

from __future__ import annotations

import argparse
import importlib
import math
from pathlib import Path
from typing import Any

from rdmetrics.datasets.benchmark import (
    BENCHMARK_COLUMNS,
    PAIR_METRICS,
    _benchmark_dataset,
    barplot,
    datasets_plot,
    format_leaderboards,
    mvh_benchmark,
)
from rdmetrics.datasets.cue_conflict import SHAPE_BIAS_COLUMNS, shape_bias, shape_bias_plot
from rdmetrics.datasets.model_vs_human import HUMANS


def add_options(p: argparse.ArgumentParser) -> None:
    """``--benchmark`` and the own-model options (``--add-model``, ``--stimuli``, ...)."""
    g = p.add_argument_group("benchmark and your own model")
    g.add_argument(
        "--benchmark",
        action="store_true",
        help="the model-vs-human benchmark as its toolbox computes it (17 datasets, its condition exclusions): prints "
        "the most-human-like and OOD-accuracy leaderboards, writes benchmark*.csv and bar plots",
    )
    g.add_argument(
        "--add-model",
        metavar="SPEC",
        default=None,
        help="first classify the stimuli of --stimuli with your model, write its decisions into the output folder "
        "as OUT/raw-data/<dataset>/<dataset>_<name>_session-1.csv (PATH is only read, never written; needs --out) "
        "and analyse PATH together with them: SPEC is 'package.module:factory' (a callable returning an "
        "nn.Module) or a TorchScript file",
    )
    g.add_argument(
        "--stimuli", metavar="DIR", default=None, help="stimulus folder, one sub-folder per dataset (for --add-model)"
    )
    g.add_argument("--model-name", default=None, help="name (CSV column subj) of the added model")
    g.add_argument(
        "--label-map",
        choices=("imagenet", "none"),
        default="imagenet",
        help="imagenet: the model outputs ImageNet-1k logits (mapped to the 16 categories); none: 16 scores",
    )
    g.add_argument("--batch-size", type=int, default=32, help="images per forward pass of the added model")
    g.add_argument("--device", default="cpu", help="device of the added model (cpu, cuda, ...)")


def usage_error(args: argparse.Namespace) -> str | None:
    """Option problems found before any work."""
    if args.add_model is not None and args.stimuli is None:
        return "--add-model needs --stimuli DIR (the stimulus images, one sub-folder per dataset)"
    if args.add_model is not None and getattr(args, "out", None) is None:
        return "--add-model needs --out DIR: the model's CSVs are written to DIR/raw-data/<dataset>/ (never into PATH)"
    if args.add_model is None and args.stimuli is not None:
        return "--stimuli is only used with --add-model"
    if args.batch_size < 1:
        return f"--batch-size must be >= 1, got {args.batch_size}"
    return None


def load_model(spec: str) -> tuple[Any, str]:
    """``(model, default name)`` from ``package.module:factory`` or a TorchScript file path."""
    import torch

    path = Path(spec)
    if path.suffix in (".pt", ".pth", ".ts", ".jit") or path.is_file():
        if not path.is_file():
            raise ValueError(f"model file not found: {path}")
        try:
            return torch.jit.load(str(path), map_location="cpu"), path.stem
        except RuntimeError as err:
            raise ValueError(f"{path}: not a TorchScript model ({' '.join(str(err).split())[:200]})") from err
    if ":" not in spec:
        raise ValueError(f"model spec {spec!r}: expected 'package.module:factory' or a TorchScript file")
    mod_name, _, attr = spec.partition(":")
    module = importlib.import_module(mod_name)
    factory = getattr(module, attr, None)
    if factory is None or not callable(factory):
        raise ValueError(f"model spec {spec!r}: {mod_name} has no callable {attr!r}")
    model = factory()
    if not callable(model):
        raise ValueError(f"model spec {spec!r}: {attr}() returned {type(model).__name__}, not a model")
    return model, attr.lower()


#: folder of the output (``--out``) that ``--add-model`` writes the model's raw-data CSVs into
ADDED_RAW_DATA = "raw-data"


def add_model(args: argparse.Namespace, staging: Path | None) -> tuple[list[str], list[Path]]:
    """Run ``--add-model`` over ``--stimuli`` (before the data is read).

    The model's CSVs go to ``<staging>/raw-data/<dataset>/<dataset>_<name>_session-1.csv``, ``staging`` being the
    CLI's staging folder of ``--out`` (moved into place with the rest of the output); ``args.path`` is never
    written. Returns the summary lines (naming the files' final paths under ``--out``) and the extra raw-data
    roots for :func:`~rdmetrics.datasets.load_model_vs_human` (``extra_roots``): ``[]`` without ``--add-model``.
    """
    if args.add_model is None:
        return [], []
    if staging is None:
        raise ValueError("--add-model needs --out (the model's CSVs are written into the output folder)")
    from rdmetrics.datasets.own_model import evaluate_model_on_datasets

    model, name = load_model(args.add_model)
    name = args.model_name or name
    raw = Path(staging) / ADDED_RAW_DATA
    written = evaluate_model_on_datasets(
        model,
        args.stimuli,
        raw,
        model_name=name,
        label_map=None if args.label_map == "none" else "imagenet",
        batch_size=args.batch_size,
        device=args.device,
    )
    final = Path(args.out) / ADDED_RAW_DATA
    shown = ", ".join(f"{d} ({final / p.relative_to(raw)})" for d, p in written.items())
    return [f"added model {name!r}: {shown}", ""], [raw]


def skipped_lines(data: Any) -> list[str]:
    """Summary lines for what the reader skipped (non-data entries, datasets that failed to load)."""
    skipped = getattr(data, "skipped", ())
    if not skipped:
        return []
    lines = [f"skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} of {data.root}:"]
    lines += [f"  {p.name}: {' '.join(why.split())}" for p, why in skipped]
    return [*lines, ""]


def _f(v: float) -> str:
    return "   -  " if isinstance(v, float) and math.isnan(v) else f"{v:6.3f}"


def consistency_section(ctx: Any) -> None:
    """Error consistency (kappa) and observed consistency of every model with the human subjects, per dataset and
    condition (mean over subjects), and of the subjects among themselves (``humans``: mean over pairs). All
    conditions are kept (``--benchmark`` applies the toolbox's exclusions). Adds ``consistency.csv``."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    summary: dict[str, dict[str, float]] = {}
    for name, exp in ctx.data.items():
        if not exp.subjects or not exp.models:
            continue
        try:
            raw, _, kept, _ = _benchmark_dataset(exp, list(exp.models), (), include_humans=len(exp.subjects) > 1)
        except ValueError as err:
            notes.append(f"  {name}: skipped ({' '.join(str(err).split())})")
            continue
        for obs in [*exp.models, HUMANS]:
            mine = [r for r in raw if (r["model"] == obs if obs != HUMANS else r["model"] in exp.subjects)]
            if not mine:
                continue
            per_cond = []
            for cond in kept:
                sel = [r for r in mine if r["condition"] == cond]
                entry = {k: math.fsum(r[k] for r in sel) / len(sel) for k in PAIR_METRICS}
                per_cond.append(entry)
                rows.append({"experiment": name, "observer": obs, "condition": cond, "n_pairs": len(sel), **entry})
            mean = {k: math.fsum(e[k] for e in per_cond) / len(per_cond) for k in PAIR_METRICS}
            rows.append({"experiment": name, "observer": obs, "condition": "all", "n_pairs": len(mine), **mean})
            summary.setdefault(name, {})[obs] = mean["error_consistency"]
    if not rows and not notes:
        return
    ctx.report["consistency"] = rows
    if rows:
        ctx.tables["consistency.csv"] = rows
    observers = [*sorted({o for v in summary.values() for o in v if o != HUMANS}), HUMANS]
    width = max(len(n) for n in [*summary, "experiment"]) if summary else 10
    col = max([6, *(len(o) for o in observers)])
    lines = ["== error consistency with the human subjects (kappa, mean over subjects and conditions)"]
    lines.append(f"{'experiment':<{width}}  " + "  ".join(f"{o:>{col}}" for o in observers))
    for name, vals in summary.items():
        lines.append(f"{name:<{width}}  " + "  ".join(f"{_f(vals.get(o, math.nan)):>{col}}" for o in observers))
    ctx.lines += [*lines, *notes, ""]


def shape_bias_section(ctx: Any) -> None:
    """Shape bias of every observer on cue-conflict (when the data has it): ``shape_bias.csv``,
    ``shape_bias_classes.csv`` and ``shape_bias.png``."""
    exp = next((e for e in ctx.data.values() if e.trials.texture is not None), None)
    if exp is None:
        return
    try:
        res = shape_bias(exp)
    except ValueError as err:
        ctx.lines += [f"== shape bias: {exp.name} skipped ({' '.join(str(err).split())})", ""]
        return
    ctx.report["shape_bias"] = {"dataset": exp.name, "observers": res.observers, "per_class": res.per_class}
    ctx.tables["shape_bias.csv"] = [{k: r[k] for k in SHAPE_BIAS_COLUMNS} for r in res.observers]
    ctx.tables["shape_bias_classes.csv"] = res.per_class
    ctx.figures["shape_bias.png"] = lambda path: shape_bias_plot(res, path)
    lines = [f"== shape bias on {exp.name} (shape / (shape + texture) decisions)"]
    lines.append(f"{'observer':<24} {'shape bias':>10} {'frac. shape':>11} {'frac. texture':>13}")
    for r in res.observers:
        lines.append(
            f"{r['observer']:<24} {_f(r['shape_bias']):>10} {_f(r['fraction_shape']):>11}"
            f" {_f(r['fraction_texture']):>13}"
        )
    ctx.lines += [*lines, ""]


def benchmark_section(ctx: Any) -> None:
    """With ``--benchmark``: the toolbox's benchmark over the datasets present. Prints both leaderboards; adds
    ``benchmark.csv``, ``benchmark_datasets.csv``, ``benchmark_conditions.csv``, ``benchmark_<dataset>.csv`` and the
    bar plots."""
    if not getattr(ctx.args, "benchmark", False):
        return
    try:
        res = mvh_benchmark(ctx.data)
    except ValueError as err:
        ctx.lines += [f"== benchmark: not computed ({' '.join(str(err).split())})", ""]
        return
    ctx.report["benchmark"] = {
        "datasets": list(res.datasets),
        "excluded": res.excluded,
        "summary": res.summary,
        "per_dataset": res.per_dataset,
        "notes": list(res.notes),
    }
    ctx.tables["benchmark.csv"] = [{k: r[k] for k in BENCHMARK_COLUMNS} for r in res.summary]
    ds_cols = ["dataset", "model", *PAIR_METRICS, "ood_accuracy", "mean_rank", "n_subjects", "n_conditions"]
    ctx.tables["benchmark_datasets.csv"] = [{k: r[k] for k in ds_cols} for r in res.per_dataset]
    ctx.tables["benchmark_conditions.csv"] = res.per_condition
    for name in res.datasets:
        ctx.tables[f"benchmark_{name}.csv"] = [
            {k: r[k] for k in ds_cols[1:]} for r in res.per_dataset if r["dataset"] == name
        ]
    for metric in (*PAIR_METRICS, "ood_accuracy"):
        ctx.figures[f"benchmark_{metric.replace('_', '-')}.png"] = lambda path, m=metric: barplot(res.summary, m, path)
    ctx.figures["benchmark_datasets.png"] = lambda path: datasets_plot(res, path)
    missing = 17 - len(res.datasets)
    head = f"== model-vs-human benchmark over {len(res.datasets)} datasets" + (
        f" ({missing} of the toolbox's 17 absent: not comparable to its published tables)" if missing else ""
    )
    ctx.lines += [head, format_leaderboards(res), *[f"note: {n}" for n in res.notes], ""]


#: the sections, in the order the CLI runs them after its RD section
SECTIONS = (consistency_section, shape_bias_section, benchmark_section)

__all__ = [
    "ADDED_RAW_DATA",
    "SECTIONS",
    "add_model",
    "add_options",
    "benchmark_section",
    "consistency_section",
    "load_model",
    "shape_bias_section",
    "skipped_lines",
    "usage_error",
]
