"""``rdmetrics generative``: PCE / RCE / RE (+ precision, recall, density, coverage) of REAL vs FAKE features."""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch

from rdmetrics.cli._common import CLIError, int_at_least
from rdmetrics.cli._io import load_features
from rdmetrics.cli._output import check_file_target, write_file_atomic
from rdmetrics.utilities.data import _to_jsonable


def run(args: argparse.Namespace) -> int:
    """Load both feature sets, compute the metrics, write them (``--out``) and print them as JSON."""
    if args.out is not None:
        check_file_target(args.out, overwrite=args.overwrite)
    real = load_features(args.real, "REAL")
    fake = load_features(args.fake, "FAKE")
    if real.shape[1] != fake.shape[1]:
        raise CLIError(f"REAL and FAKE features differ in dimension: {real.shape[1]} vs {fake.shape[1]}")
    from rdmetrics.functional import precision_recall_entropy

    dtype = torch.promote_types(real.dtype, fake.dtype)
    res = precision_recall_entropy(real.to(dtype), fake.to(dtype), k=args.k, prdc=not args.no_prdc)
    out = {"real": str(args.real), "fake": str(args.fake), "k": args.k, "n_real": len(real), "n_fake": len(fake)}
    out |= _to_jsonable(res)
    text = json.dumps(out, indent=1)
    if args.out is not None:
        write_file_atomic(args.out, text + "\n", overwrite=args.overwrite)
    print(text)
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``generative`` on the ``rdmetrics`` sub-command parsers."""
    p = sub.add_parser("generative", help="precision/recall cover entropy (+ PRDC) of REAL vs FAKE features")
    p.add_argument("real", help="real features [N, D] (.npy, .pt or .csv)")
    p.add_argument("fake", help="generated features [M, D] (.npy, .pt or .csv)")
    p.add_argument("--k", type=int_at_least(1), default=5, help="nearest neighbours (default 5)")
    p.add_argument("--no-prdc", action="store_true", help="skip precision/recall/density/coverage")
    p.add_argument("--out", default=None, help="JSON file to write (also printed)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(handler=run)
    return p


__all__ = ["add_parser", "run"]
