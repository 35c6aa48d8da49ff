"""``rdmetrics confusion``: RD report (levels table, signature with intervals) from confusion matrices."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rdmetrics.cli._common import CLIError
from rdmetrics.cli._format import fmt_ci
from rdmetrics.cli._io import load_confmats
from rdmetrics.cli._output import check_file_target, write_file_atomic
from rdmetrics.cli._rd import (
    add_signature_options,
    explanation_lines,
    levels_and_signature,
    signature_columns,
    signature_kwargs,
    signature_usage_error,
)
from rdmetrics.utilities.data import _to_jsonable


def usage_error(args: argparse.Namespace) -> str | None:
    """Problems found without reading the files (reported as usage errors, exit status 2)."""
    msg = signature_usage_error(args)
    if msg is not None:
        return msg
    if args.conditions is not None and len(args.files) > 1 and len(args.conditions) != len(args.files):
        return f"--conditions has {len(args.conditions)} names for {len(args.files)} files"
    return None


def run(args: argparse.Namespace) -> int:
    """Load the matrices, compute the report, write it (``--out``) and print it."""
    if args.out is not None:
        check_file_target(args.out, overwrite=args.overwrite)
    cm, names = load_confmats(args.files)
    if args.conditions is not None:
        if len(args.conditions) != cm.shape[0]:
            raise CLIError(f"--conditions has {len(args.conditions)} names for {cm.shape[0]} confusion matrices")
        names = list(args.conditions)
    levels, sig, note = levels_and_signature(cm, names, args)
    report = {
        "files": [str(f) for f in args.files],
        "settings": signature_kwargs(args),
        "num_classes": cm.shape[1],
        "levels": _to_jsonable(levels),
        "signature": sig,
        "note": note,
    }
    text = json.dumps(_to_jsonable(report), indent=1)
    if args.out is not None:
        write_file_atomic(args.out, text + "\n", overwrite=args.overwrite)
    if args.json:
        print(text)
        return 0
    print(
        f"{'condition':<16} {'n':>7} {'accuracy':>9} {'D':>7} {'I plug-in':>10} {'I ' + args.correction:>16}"
        f" {'null floor (95%)':>18}"
    )
    for i, name in enumerate(levels["condition"]):
        mark = "  <= floor" if levels["within_floor"][i] else ""
        print(
            f"{name:<16} {levels['n_trials'][i]:>7} {levels['accuracy'][i]:>9.4f} {levels['distortion'][i]:>7.4f} "
            f"{levels['rate_plugin'][i]:>10.4f} {levels['rate'][i]:>16.4f}"
            f" {levels['rate_floor'][i]:>8.4f} ({levels['rate_floor_hi'][i]:.4f}){mark}"
        )
    s = signature_columns(sig)
    print(
        "beta " + fmt_ci(s["beta"], s["beta_lo"], s["beta_hi"]),
        "| kappa " + fmt_ci(s["kappa"], s["kappa_lo"], s["kappa_hi"]),
        "| AUC " + fmt_ci(s["auc"], s["auc_lo"], s["auc_hi"]),
    )
    for line in explanation_lines(any(levels["within_floor"]), sig.get("warnings", ())):
        print(line)
    if note:
        print(note)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``confusion`` on the ``rdmetrics`` sub-command parsers."""
    p = sub.add_parser("confusion", help="RD report from confusion matrices (one per condition)")
    p.add_argument("files", nargs="+", help="one [C, K] .npy/.pt/.csv per condition, or one [L, C, K] .npy/.pt")
    p.add_argument(
        "--conditions",
        nargs="+",
        default=None,
        help="condition names (default: file names); with --axis severity, numbers give the x values",
    )
    p.add_argument("--out", default=None, help="JSON file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_signature_options(p, n_bootstrap=0)
    p.set_defaults(handler=run, usage_check=usage_error)
    return p


__all__ = ["add_parser", "run", "usage_error"]
