"""``rdmetrics demo``: the end-to-end demo (training, perturbation sweeps, generative check; rdmetrics.demo)."""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from rdmetrics.cli._common import CLIError, int_at_least
from rdmetrics.cli._output import check_dir_target

#: optional packages the demo needs (import name -> what to install)
REQUIRES = {"lightning": "lightning", "sklearn": "scikit-learn"}


def run(args: argparse.Namespace) -> int:
    """Check the output folder and the optional dependencies, then run :func:`rdmetrics.demo.run_demo`."""
    check_dir_target(args.out, overwrite=args.overwrite)
    missing = [pkg for mod, pkg in REQUIRES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        raise CLIError(f"the demo needs {' and '.join(missing)} (install them with `pip install 'rdmetrics[all]'`)")
    from rdmetrics.demo import run_demo

    run_demo(
        out=args.out,
        quick=args.quick,
        epochs=args.epochs,
        n_bootstrap=args.n_bootstrap,
        seed=args.seed,
        plots=not args.no_plots,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    return 0


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``demo`` on the ``rdmetrics`` sub-command parsers."""
    p = sub.add_parser(
        "demo",
        help="end-to-end demo on built-in data (scikit-learn digits; no downloads)",
        description="Train a small CNN on scikit-learn's digits with Lightning, sweep perturbations, print RD "
        "signatures with intervals and a generative check; write report.json, plots and logs to --out.",
    )
    p.add_argument("--out", default="rdmetrics-demo", help="output folder (default: ./rdmetrics-demo)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing non-empty --out folder as a whole")
    p.add_argument("--quick", action="store_true", help="2 epochs, 3 families, 50 bootstrap replicates")
    p.add_argument("--epochs", type=int_at_least(1), default=None, help="training epochs (default 8; quick: 2)")
    p.add_argument(
        "--n-bootstrap", type=int_at_least(0), default=None, help="bootstrap replicates (default 500; quick: 50)"
    )
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the data split, training and bootstrap")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(handler=run)
    return p


__all__ = ["REQUIRES", "add_parser", "run"]
