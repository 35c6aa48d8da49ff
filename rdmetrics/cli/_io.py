"""Loading the command line's inputs: arrays (.npy / .pt / .csv), feature matrices and confusion matrices.

Every problem becomes a :class:`~rdmetrics.cli._common.CLIError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rdmetrics.cli._common import CLIError


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def read_numeric_csv(path: Path) -> Tensor:
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


def load_array(path_str: str, what: str) -> Tensor:
    """One non-empty tensor from a ``.npy`` (no pickles), ``.pt`` / ``.pth`` (weights only) or ``.csv`` file."""
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
            arr = read_numeric_csv(path)
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


def load_features(path_str: str, what: str) -> Tensor:
    """A finite real ``[N, D]`` feature matrix (integers become float64)."""
    x = load_array(path_str, what)
    if x.ndim != 2:
        raise CLIError(f"{path_str}: {what} features must be a 2-D [N, D] array, got shape {tuple(x.shape)}")
    if x.is_complex() or x.dtype == torch.bool:
        raise CLIError(f"{path_str}: {what} features must be real numbers, got dtype {x.dtype}")
    x = x.to(torch.float64) if not x.is_floating_point() else x
    if not bool(torch.isfinite(x).all()):
        raise CLIError(f"{path_str}: {what} features contain NaN or inf")
    return x


def load_confmats(files: Sequence[str]) -> tuple[Tensor, list[str]]:
    """Integer counts ``[L, C, K]`` (``K = C`` or ``C + 1``) and default condition names.

    Either one ``[C, K]`` matrix per file (names: the file stems) or a single file holding ``[L, C, K]``
    (names: ``level0 ... level{L-1}``).
    """
    mats = [load_array(f, "confusion matrix") for f in files]
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


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows (dicts with the same keys) as CSV text with a header; non-finite floats become empty cells.

    Example:
        >>> print(csv_text([{"a": 1, "b": float("nan")}, {"a": 2, "b": 0.5}]), end="")
        a,b
        1,
        2,0.5
    """
    if not rows:
        raise CLIError("nothing to write: no rows")
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})
    return buf.getvalue()


__all__ = ["csv_text", "load_array", "load_confmats", "load_features", "read_numeric_csv"]
