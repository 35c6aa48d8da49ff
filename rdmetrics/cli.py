"""The ``rdmetrics`` command line (also ``python -m rdmetrics``).

Sub-commands::

    rdmetrics demo [--out DIR]                       # the end-to-end demo (rdmetrics.demo)
    rdmetrics mvh PATH [--experiments ...] [--out DIR] [--method M] [--n-bootstrap N]
    rdmetrics generative REAL FAKE [--k 5] [--out FILE]
    rdmetrics confusion FILE... [--conditions ...] [--out FILE]

Errors (missing files, bad formats, empty inputs) print one line ``rdmetrics <command>: error: ...`` on stderr and
exit with status 1 (2 for command-line usage errors). Output files are written to a temporary location first and
moved into place only when everything succeeded, so nothing partial is left looking complete.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rdmetrics.utilities.data import _to_jsonable

_METHODS = ("quadratic", "exponential", "pchip", "hull")
_CORRECTIONS = ("miller_madow", "none")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


# --------------------------------------------------------------------------------------------------- small helpers


def _f(x: Any) -> float:
    """Scalar as float (``nan`` for None)."""
    if x is None:
        return math.nan
    if isinstance(x, Tensor):
        return float(x.detach().cpu().double().reshape(-1)[0]) if x.numel() else math.nan
    return float(x)


def _ci(res: dict[str, Any], key: str) -> tuple[float, float]:
    ci = res.get(f"{key}_ci")
    if ci is None:
        return math.nan, math.nan
    if isinstance(ci, Tensor):
        ci = ci.detach().cpu().double().reshape(-1).tolist()
    lo, hi = ci[0], ci[1]
    return _f(lo), _f(hi)


def _fmt(x: float, nd: int = 3) -> str:
    return "nan" if x is None or not math.isfinite(x) else f"{x:.{nd}f}"


def _fmt_ci(v: float, lo: float, hi: float) -> str:
    if not math.isfinite(lo):
        return _fmt(v)
    return f"{_fmt(v)} [{_fmt(lo)}, {_fmt(hi)}]"


class _Staging:
    """Stage output files in a temporary folder; :meth:`commit` moves them all into place (``os.replace``)."""

    def __init__(self, target_dir: Path) -> None:
        self.target_dir = target_dir
        parent = target_dir.parent if target_dir.parent != Path("") else Path(".")
        parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=parent))
        self.names: list[str] = []

    def path(self, name: str) -> Path:
        self.names.append(name)
        return self.tmp / name

    def commit(self) -> list[Path]:
        self.target_dir.mkdir(parents=True, exist_ok=True)
        out = []
        for name in self.names:
            dest = self.target_dir / name
            os.replace(self.tmp / name, dest)
            out.append(dest)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return out

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def _write_text_atomic(path: Path, text: str) -> None:
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CLIError(f"output folder does not exist: {parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _progress(iterable: Any, **kwargs: Any) -> Any:
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, disable=None, leave=False, **kwargs)


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


def _at_arg(value: str) -> float | str:
    if value == "matched":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a distortion in [0, 1] or 'matched', got {value!r}") from None


def _signature_kwargs(args: argparse.Namespace, at: float | None = None) -> dict[str, Any]:
    kw: dict[str, Any] = {"prior": args.prior, "correction": args.correction}
    if args.method is not None:
        kw["method"] = args.method
    at = at if at is not None else (args.at if isinstance(args.at, float) else None)
    if at is not None:
        kw["at"] = at
    kw["n_bootstrap"] = args.n_bootstrap
    kw["ci"] = args.ci
    kw["seed"] = args.seed
    return kw


def _levels_and_signature(
    cm: Tensor, conditions: Sequence[str], args: argparse.Namespace, at: float | None = None
) -> tuple[dict[str, list[float]], dict[str, Any], str]:
    """Per-level accuracy / D / plug-in and corrected rate, and the RD signatures (or a note why none)."""
    from rdmetrics.functional import rate_distortion_points, rate_distortion_signature

    d, plug = rate_distortion_points(cm, prior=args.prior, correction="none")
    corr = (
        plug
        if args.correction == "none"
        else rate_distortion_points(cm, prior=args.prior, correction=args.correction)[1]
    )
    levels = {
        "condition": list(conditions),
        "n_trials": cm.sum((1, 2)).tolist(),
        "accuracy": (1.0 - d).tolist(),
        "distortion": d.tolist(),
        "rate_plugin": plug.tolist(),
        "rate": corr.tolist(),
    }
    note = ""
    try:
        sig = rate_distortion_signature(cm, **_signature_kwargs(args, at))
    except ValueError as err:  # e.g. too few levels for the chosen frontier method
        sig, note = {}, f"no signature: {' '.join(str(err).split())}"
    keep = ("beta", "kappa", "auc", "secant_slope", "excess_rate", "at", "beta_se")
    keep += tuple(f"{k}_ci" for k in keep[:5])
    return levels, {k: _to_jsonable(v) for k, v in sig.items() if k in keep}, note


def _sig_columns(sig: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in ("beta", "kappa", "auc"):
        out[key] = _f(sig.get(key))
        out[f"{key}_lo"], out[f"{key}_hi"] = _ci(sig, key)
    out["secant_slope"] = _f(sig.get("secant_slope"))
    out["excess_rate"] = _f(sig.get("excess_rate"))
    return out


def _add_signature_options(p: argparse.ArgumentParser, n_bootstrap: int) -> None:
    p.add_argument("--method", choices=_METHODS, default=None, help="frontier fit (default: the library default)")
    p.add_argument("--at", type=float, default=None, help="distortion D* at which beta/kappa are read")
    p.add_argument("--correction", choices=_CORRECTIONS, default="miller_madow", help="MI bias correction")
    p.add_argument("--prior", choices=("uniform", "empirical"), default="uniform", help="class prior p(x)")
    p.add_argument("--n-bootstrap", type=int, default=n_bootstrap, help="bootstrap resamples for the CIs (0: none)")
    p.add_argument("--ci", type=float, default=0.95, help="confidence level of the bootstrap intervals")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")


# ------------------------------------------------------------------------------------------------------------ mvh


def _observer_kind(exp: Any, obs: str) -> str:
    if obs in exp.subjects:
        return "subject"
    if obs in exp.models:
        return "model"
    return "humans"


def _plot_frontiers(exp: Any, levels: dict[str, dict[str, list[float]]], path: Path) -> None:
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


def _cmd_mvh(args: argparse.Namespace) -> int:
    from rdmetrics.datasets import load_model_vs_human

    if args.n_bootstrap < 0:
        raise CLIError("--n-bootstrap must be >= 0")
    data = load_model_vs_human(args.path, experiments=args.experiments, observers=args.observers)
    jobs = [(e, o) for e in data for o in data[e].observers]
    level_rows: list[dict[str, Any]] = []
    sig_rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "settings": _signature_kwargs(args) | {"path": str(data.root)},
        "experiments": {},
    }
    per_exp_levels: dict[str, dict[str, dict[str, list[float]]]] = {}
    matched: dict[str, float | None] = {}
    if args.at == "matched":
        from rdmetrics.functional import rate_distortion_points

        for name, exp in data.items():
            d, _ = rate_distortion_points(torch.stack([exp.confmat(o) for o in exp.observers]), prior=args.prior)
            matched[name] = matched_distortion(d.tolist())
    for name, obs in _progress(jobs, desc="mvh", unit="observer"):
        exp = data[name]
        at = matched.get(name)
        if args.at == "matched" and at is None:
            levels, sig, note = _levels_and_signature(exp.confmat(obs), exp.conditions, args)
            note = "no common D range across observers (at=matched); " + (note or "read at own midpoint")
        else:
            levels, sig, note = _levels_and_signature(exp.confmat(obs), exp.conditions, args, at)
        kind = _observer_kind(exp, obs)
        per_exp_levels.setdefault(name, {})[obs] = levels
        entry = report["experiments"].setdefault(
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
            | _sig_columns(sig)
            | {"note": note}
        )

    _print_mvh(data, report)
    if args.out is not None:
        stage = _Staging(Path(args.out))
        try:
            _write_csv(stage.path("levels.csv"), level_rows)
            _write_csv(stage.path("signatures.csv"), sig_rows)
            stage.path("report.json").write_text(json.dumps(_to_jsonable(report), indent=1), encoding="utf-8")
            if not args.no_plots:
                for name in _progress(list(data), desc="plots", unit="plot"):
                    _plot_frontiers(data[name], per_exp_levels[name], stage.path(f"frontier_{name}.png"))
            written = stage.commit()
        except BaseException:
            stage.abort()
            raise
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def _print_mvh(data: Any, report: dict[str, Any]) -> None:
    for name, entry in report["experiments"].items():
        exp = data[name]
        flag = "" if exp.monotone else "  [no monotone severity order]"
        print(f"== {name}: levels {' '.join(exp.conditions)}{flag}")
        print(f"{'observer':<24} {'accuracy per level':<48} {'beta [CI]':<24} {'kappa [CI]':<24} {'AUC [CI]':<24}")
        for obs, o in entry["observers"].items():
            acc = " ".join(f"{a:.2f}" for a in o["levels"]["accuracy"])
            s = _sig_columns(o["signature"])
            cols = [_fmt_ci(s[k], s[f"{k}_lo"], s[f"{k}_hi"]) for k in ("beta", "kappa", "auc")]
            line = f"{obs:<24} {acc:<48} {cols[0]:<24} {cols[1]:<24} {cols[2]:<24}"
            print(line.rstrip() + (f"  ({o['note']})" if o["note"] else ""))
        print()


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        raise CLIError("nothing to write: no observers were analysed")
    fields = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})


# ----------------------------------------------------------------------------------------------------- generative


def _load_array(path_str: str, what: str) -> Tensor:
    path = Path(path_str)
    if not path.is_file():
        raise CLIError(f"{what} file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            arr = torch.from_numpy(np.load(path, allow_pickle=False))
        elif suffix in (".pt", ".pth"):
            arr = torch.load(path, map_location="cpu", weights_only=True)
        elif suffix == ".csv":
            arr = _read_numeric_csv(path)
        else:
            raise CLIError(f"{path}: unsupported format {suffix or '(none)'!r} (use .npy, .pt or .csv)")
    except CLIError:
        raise
    except Exception as err:  # numpy / torch raise many types for corrupt files
        raise CLIError(f"{path}: cannot read {what} ({type(err).__name__}: {' '.join(str(err).split())})") from err
    if not isinstance(arr, Tensor):
        raise CLIError(f"{path}: expected one tensor/array, got {type(arr).__name__}")
    if arr.numel() == 0:
        raise CLIError(f"{path}: {what} is empty (shape {tuple(arr.shape)})")
    return arr


def _load_features(path_str: str, what: str) -> Tensor:
    x = _load_array(path_str, what)
    if x.ndim != 2:
        raise CLIError(f"{path_str}: {what} features must be a 2-D [N, D] array, got shape {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise CLIError(f"{path_str}: {what} features must be real numbers, got dtype {x.dtype}")
    x = x.to(torch.float64) if not x.is_floating_point() else x
    if not bool(torch.isfinite(x).all()):
        raise CLIError(f"{path_str}: {what} features contain NaN or inf")
    return x


def _cmd_generative(args: argparse.Namespace) -> int:
    real = _load_features(args.real, "REAL")
    fake = _load_features(args.fake, "FAKE")
    if real.shape[1] != fake.shape[1]:
        raise CLIError(f"REAL and FAKE features differ in dimension: {real.shape[1]} vs {fake.shape[1]}")
    from rdmetrics.functional import precision_recall_entropy

    dtype = torch.promote_types(real.dtype, fake.dtype)
    res = precision_recall_entropy(real.to(dtype), fake.to(dtype), k=args.k, prdc=not args.no_prdc)
    out = {"real": str(args.real), "fake": str(args.fake), "k": args.k, "n_real": len(real), "n_fake": len(fake)}
    out |= _to_jsonable(res)
    text = json.dumps(out, indent=1)
    if args.out is not None:
        _write_text_atomic(Path(args.out), text + "\n")
    print(text)
    return 0


# ------------------------------------------------------------------------------------------------------ confusion


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _read_numeric_csv(path: Path) -> Tensor:
    """A count matrix from CSV; an optional header row and an optional first label column are skipped."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [[c.strip() for c in r] for r in csv.reader(fh) if any(c.strip() for c in r)]
    if not rows:
        raise CLIError(f"{path}: empty CSV")
    if not all(_is_number(c) for c in rows[0] if c):
        rows = rows[1:]
    if rows and not all(_is_number(r[0]) for r in rows):
        rows = [r[1:] for r in rows]
    if not rows or not rows[0]:
        raise CLIError(f"{path}: no numeric rows")
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise CLIError(f"{path}: ragged CSV (row {i + 1} has {len(r)} values, expected {width})")
        bad = [c for c in r if not _is_number(c)]
        if bad:
            raise CLIError(f"{path}: non-numeric value {bad[0]!r} in row {i + 1}")
    return torch.tensor([[float(c) for c in r] for r in rows], dtype=torch.float64)


def _load_confmats(files: Sequence[str]) -> tuple[Tensor, list[str]]:
    mats = [_load_array(f, "confusion matrix") for f in files]
    if len(mats) == 1 and mats[0].ndim == 3:
        cm = mats[0]
        names = [f"level{i}" for i in range(cm.shape[0])]
    else:
        for f, m in zip(files, mats):
            if m.ndim != 2:
                raise CLIError(
                    f"{f}: expected a [C, K] confusion matrix per condition (or a single [L, C, K] .npy), "
                    f"got shape {tuple(m.shape)}"
                )
        shapes = {tuple(m.shape) for m in mats}
        if len(shapes) != 1:
            raise CLIError(f"confusion matrices differ in shape: {sorted(shapes)}")
        cm = torch.stack([m.to(torch.float64) for m in mats])
        names = [Path(f).stem for f in files]
    if cm.is_complex() or cm.dtype == torch.bool:
        raise CLIError(f"confusion matrices must hold counts, got dtype {cm.dtype}")
    if cm.is_floating_point():
        if not bool(torch.isfinite(cm).all()):
            raise CLIError("confusion matrices contain NaN or inf")
        if not bool((cm == cm.round()).all()):
            raise CLIError("confusion matrices must hold integer counts (the bias correction needs counts)")
    if bool((cm < 0).any()):
        raise CLIError("confusion matrices contain negative counts")
    c, k = cm.shape[1], cm.shape[2]
    if k not in (c, c + 1):
        raise CLIError(f"confusion matrices must be [C, C] or [C, C+1] (abstain column), got [{c}, {k}]")
    return cm.to(torch.int64), names


def _cmd_confusion(args: argparse.Namespace) -> int:
    if args.n_bootstrap < 0:
        raise CLIError("--n-bootstrap must be >= 0")
    cm, names = _load_confmats(args.files)
    if args.conditions is not None:
        if len(args.conditions) != cm.shape[0]:
            raise CLIError(f"--conditions has {len(args.conditions)} names for {cm.shape[0]} confusion matrices")
        names = list(args.conditions)
    levels, sig, note = _levels_and_signature(cm, names, args)
    report = {
        "files": [str(f) for f in args.files],
        "settings": _signature_kwargs(args),
        "num_classes": cm.shape[1],
        "levels": _to_jsonable(levels),
        "signature": sig,
        "note": note,
    }
    text = json.dumps(_to_jsonable(report), indent=1)
    if args.out is not None:
        _write_text_atomic(Path(args.out), text + "\n")
    if args.json:
        print(text)
        return 0
    print(f"{'condition':<16} {'n':>7} {'accuracy':>9} {'D':>7} {'I plug-in':>10} {'I ' + args.correction:>16}")
    for i, name in enumerate(levels["condition"]):
        print(
            f"{name:<16} {levels['n_trials'][i]:>7} {levels['accuracy'][i]:>9.4f} {levels['distortion'][i]:>7.4f} "
            f"{levels['rate_plugin'][i]:>10.4f} {levels['rate'][i]:>16.4f}"
        )
    s = _sig_columns(sig)
    print(
        "beta " + _fmt_ci(s["beta"], s["beta_lo"], s["beta_hi"]),
        "| kappa " + _fmt_ci(s["kappa"], s["kappa_lo"], s["kappa_hi"]),
        "| AUC " + _fmt_ci(s["auc"], s["auc_lo"], s["auc_hi"]),
    )
    if note:
        print(note)
    return 0


# ----------------------------------------------------------------------------------------------------------- demo


def _cmd_demo(args: argparse.Namespace) -> int:
    try:
        demo = importlib.import_module("rdmetrics.demo")
    except ModuleNotFoundError as err:
        if err.name in ("rdmetrics.demo", "rdmetrics"):
            raise CLIError("the demo is not available in this installation (module rdmetrics.demo is missing)") from err
        raise CLIError(f"the demo needs an optional dependency: {err} (try `pip install rdmetrics[all]`)") from err
    rc = demo.main(list(args.demo_args))
    return int(rc or 0)


# ----------------------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    """The ``rdmetrics`` argument parser (sub-commands ``demo``, ``mvh``, ``generative``, ``confusion``)."""
    parser = argparse.ArgumentParser(
        prog="rdmetrics", description="Rate-distortion signatures and information-theoretic generalization metrics."
    )
    from rdmetrics import __version__

    parser.add_argument("--version", action="version", version=f"rdmetrics {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="end-to-end demo on built-in data (arguments are passed to rdmetrics.demo)",
        add_help=False,
        prefix_chars="\0",
    )
    p.add_argument("demo_args", nargs="*", default=[])
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser("mvh", help="RD signatures of humans and models from model-vs-human raw-data CSVs")
    p.add_argument("path", help="raw-data folder (one sub-folder per experiment) or one experiment folder")
    p.add_argument("--experiments", nargs="+", default=None, help="experiment folder names (default: all)")
    p.add_argument("--observers", nargs="+", default=None, help="observers to keep: humans, subject-01, resnet50, ...")
    p.add_argument("--out", default=None, help="folder for levels.csv, signatures.csv, report.json, frontier_*.png")
    p.add_argument("--no-plots", action="store_true", help="skip the frontier plots")
    _add_signature_options(p, n_bootstrap=200)
    for action in p._actions:
        if "--at" in action.option_strings:
            action.type = _at_arg
            action.help = "D* for beta/kappa: a number, or 'matched' (one common D per experiment, inside every range)"
    p.set_defaults(handler=_cmd_mvh)

    p = sub.add_parser("generative", help="precision/recall cover entropy (+ PRDC) of REAL vs FAKE features")
    p.add_argument("real", help="real features [N, D] (.npy or .pt)")
    p.add_argument("fake", help="generated features [M, D] (.npy or .pt)")
    p.add_argument("--k", type=int, default=5, help="nearest neighbours (default 5)")
    p.add_argument("--no-prdc", action="store_true", help="skip precision/recall/density/coverage")
    p.add_argument("--out", default=None, help="JSON file to write (also printed)")
    p.set_defaults(handler=_cmd_generative)

    p = sub.add_parser("confusion", help="RD report from confusion matrices (one per condition)")
    p.add_argument("files", nargs="+", help="one [C, K] .npy/.pt/.csv per condition, or one [L, C, K] .npy/.pt")
    p.add_argument("--conditions", nargs="+", default=None, help="condition names (default: file names)")
    p.add_argument("--out", default=None, help="JSON file to write")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_signature_options(p, n_bootstrap=0)
    p.set_defaults(handler=_cmd_confusion)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rdmetrics`` command; returns the exit status (0 ok, 1 error, 2 usage error).

    Example:
        >>> main(["confusion", "does-not-exist.npy"])
        1
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.handler(args)
    except (CLIError, ValueError, TypeError, OSError, ModuleNotFoundError, RuntimeError) as err:
        msg = " ".join(str(err).split()) or type(err).__name__
        print(f"rdmetrics {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rdmetrics {args.command}: interrupted", file=sys.stderr)
        return 130


__all__ = ["CLIError", "build_parser", "main", "matched_distortion"]
