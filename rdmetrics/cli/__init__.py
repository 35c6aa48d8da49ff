"""The ``rdmetrics`` command line (also ``python -m rdmetrics``).

Sub-commands, one module each::

    rdmetrics demo [--out DIR] [--quick]                   # rdmetrics.cli.demo: the end-to-end demo
    rdmetrics mvh PATH [--experiments ...] [--out DIR]     # rdmetrics.cli.mvh: model-vs-human RD report
    rdmetrics generative REAL FAKE [--k 5] [--out FILE]    # rdmetrics.cli.generative: PCE/RCE/RE + PRDC
    rdmetrics confusion FILE... [--out FILE]               # rdmetrics.cli.confusion: RD report from counts

Shared pieces: :mod:`rdmetrics.cli._output` (output checks, staging, atomic writes), :mod:`rdmetrics.cli._io`
(loading inputs), :mod:`rdmetrics.cli._format` (number formatting), :mod:`rdmetrics.cli._rd` (the RD options).

Invalid options are usage errors (exit status 2) found before any work. Other errors (missing files, bad formats,
empty inputs, an output that exists) print one line ``rdmetrics <command>: error: ...`` on stderr and exit with
status 1. Outputs are checked before any work and written through a staging folder / temporary file that is
moved into place only when complete (see :mod:`rdmetrics.cli._output`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from rdmetrics.cli import confusion, demo, generative, mvh
from rdmetrics.cli._common import CLIError
from rdmetrics.cli._output import StagedDir
from rdmetrics.cli._rd import matched_distortion

#: the sub-command modules, in the order ``--help`` lists them; each has ``add_parser(subparsers)``
COMMANDS = (demo, mvh, generative, confusion)


def build_parser() -> argparse.ArgumentParser:
    """The ``rdmetrics`` argument parser (sub-commands ``demo``, ``mvh``, ``generative``, ``confusion``)."""
    from rdmetrics import __version__

    parser = argparse.ArgumentParser(
        prog="rdmetrics", description="Rate-distortion signatures and information-theoretic generalization metrics."
    )
    parser.add_argument("--version", action="version", version=f"rdmetrics {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = command.add_parser(sub)
        p.set_defaults(usage_error=p.error)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that staged outputs are cleaned up on the way out."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rdmetrics`` command; returns the exit status (0 ok, 1 error, 2 usage error, 130 interrupted by
    Ctrl-C, 143 by SIGTERM). An interrupted command leaves no partial output.

    Example:
        >>> main(["confusion", "does-not-exist.npy"])
        1
    """
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return 2
    check = getattr(args, "usage_check", None)
    problem = check(args) if check is not None else None
    if problem:
        args.usage_error(problem)  # prints the usage and the problem, exits with status 2
    try:
        with _sigterm_as_interrupt():
            return int(args.handler(args) or 0)
    except (CLIError, ValueError, TypeError, OSError, ModuleNotFoundError, RuntimeError) as err:
        msg = " ".join(str(err).split()) or type(err).__name__
        print(f"rdmetrics {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        terminated = isinstance(err, _Terminated)
        print(f"rdmetrics {args.command}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130


__all__ = ["COMMANDS", "CLIError", "StagedDir", "build_parser", "main", "matched_distortion"]
