"""Shape bias of every observer of the model-vs-human cue-conflict dataset (Geirhos et al., ICLR 2019).

:func:`shape_bias` applies :func:`rdmetrics.functional.shape_bias` (the toolbox's ``ShapeBias.analysis``) to the
aligned cue-conflict trials read by :func:`~rdmetrics.datasets.load_model_vs_human`: for each human subject, for the
pooled ``humans`` (all subjects' trials together, as the toolbox's ``humans`` decision maker) and for each model,
overall and per shape class. A human ``na`` is a trial with neither a shape nor a texture decision.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rdmetrics.datasets.benchmark import rows_to_csv
from rdmetrics.datasets.model_vs_human import (
    CATEGORIES,
    CUE_CONFLICT,
    HUMANS,
    ExperimentData,
    load_model_vs_human,
)
from rdmetrics.functional.cue_conflict import _shape_bias_compute, _shape_bias_update

#: Columns of ``shape_bias.csv``.
SHAPE_BIAS_COLUMNS: tuple[str, ...] = ("observer", "shape_bias", "fraction_shape", "fraction_texture")


@dataclass(frozen=True)
class ShapeBiasResult:
    """Tables of :func:`shape_bias` (plain dict rows, float64 values).

    Attributes:
        observers: one row per observer (``humans`` first, then subjects, then models): ``observer``, ``shape_bias``,
            ``fraction_shape``, ``fraction_texture``, ``n_trials``, ``n_conflict`` (trials whose shape and texture
            class differ).
        per_class: one row per (observer, shape class): ``observer``, ``class`` and the same columns.
        dataset: the dataset used.
    """

    observers: list[dict[str, Any]]
    per_class: list[dict[str, Any]]
    dataset: str

    def row(self, observer: str) -> dict[str, Any]:
        """The overall row of ``observer``."""
        for r in self.observers:
            if r["observer"] == observer:
                return r
        raise KeyError(f"no observer {observer!r}; observers: {[r['observer'] for r in self.observers]}")


def _counts(exp: ExperimentData, observers: Sequence[str]) -> torch.Tensor:
    t = exp.trials
    total = torch.zeros(len(CATEGORIES), 4, dtype=torch.long)
    for o in observers:
        seen = t.responses[o] >= 0
        total += _shape_bias_update(
            t.responses[o][seen], t.target[seen], t.texture[seen], len(CATEGORIES), abstain=True
        )
    return total


def shape_bias(
    root_or_data: str | os.PathLike | Mapping[str, ExperimentData] | ExperimentData,
    observers: Sequence[str] | None = None,
    *,
    dataset: str = "cue-conflict",
) -> ShapeBiasResult:
    """Shape bias, shape and texture decision fractions of every observer on cue-conflict, overall and per class.

    Computed as the toolbox computes it (see :mod:`rdmetrics.functional.cue_conflict`): stimuli whose shape and
    texture class coincide count as trials but not as decisions; shape bias = shape / (shape + texture); per class
    over the trials of one *shape* class.

    Args:
        root_or_data: a raw-data folder, a loaded :class:`~rdmetrics.datasets.ModelVsHuman` (or mapping), or the
            cue-conflict :class:`ExperimentData` itself.
        observers: observers to report (``"humans"``, subjects, model names); default all.
        dataset: the cue-conflict dataset's name in the mapping.

    Returns:
        :class:`ShapeBiasResult`.

    Raises:
        ValueError: the dataset is missing or has no texture classes (not a cue-conflict dataset), or an observer is
            unknown.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()) / "cue-conflict"; d.mkdir()
        >>> _ = (d / "cue-conflict_net_session-1.csv").write_text(
        ...     "subj,session,trial,rt,object_response,category,condition,imagename\\n"
        ...     "net,1,1,NaN,cat,cat,NaN,cat1-dog2.png\\n"      # shape decision
        ...     "net,1,2,NaN,car,cat,NaN,cat2-car1.png\\n"      # texture decision
        ...     "net,1,3,NaN,dog,dog,NaN,dog1-car2.png\\n"      # shape decision
        ...     "net,1,4,NaN,dog,dog,NaN,dog3-dog1.png\\n")     # no conflict: not counted as a decision
        >>> res = shape_bias(d.parent)
        >>> {k: round(v, 3) for k, v in res.row("net").items() if k != "observer"}
        {'shape_bias': 0.667, 'fraction_shape': 0.5, 'fraction_texture': 0.25, 'n_trials': 4, 'n_conflict': 3}
    """
    if isinstance(root_or_data, ExperimentData):
        exp = root_or_data
    else:
        data = root_or_data if isinstance(root_or_data, Mapping) else load_model_vs_human(root_or_data)
        if dataset not in data:
            raise ValueError(f"no dataset {dataset!r} (found {sorted(data)}); shape bias needs cue-conflict data")
        exp = data[dataset]
    if exp.trials.texture is None:
        raise ValueError(
            f"dataset {exp.name!r} has no texture classes: shape bias needs cue-conflict stimuli "
            f"('<shape><i>-<texture><j>.png', datasets {list(CUE_CONFLICT)})"
        )
    available = list(exp.observers)
    wanted = available if observers is None else ([observers] if isinstance(observers, str) else list(observers))
    unknown = [o for o in wanted if o not in available]
    if unknown:
        raise ValueError(f"dataset {exp.name!r}: unknown observer(s) {unknown}; observers: {available}")
    rows: list[dict[str, Any]] = []
    per_class: list[dict[str, Any]] = []
    for o in wanted:
        counts = _counts(exp, exp.subjects if o == HUMANS else [o])
        out = _shape_bias_compute(counts, per_class=True) if int(counts[:, 2:].sum()) else None
        total = counts.sum(0)
        nan = math.nan
        rows.append(
            {
                "observer": o,
                "shape_bias": float(out["shape_bias"]) if out else nan,
                "fraction_shape": int(total[2]) / int(total[0]),
                "fraction_texture": int(total[3]) / int(total[0]),
                "n_trials": int(total[0]),
                "n_conflict": int(total[1]),
            }
        )
        for c, name in enumerate(CATEGORIES):
            if int(counts[c, 0]) == 0:
                continue
            sb = out["shape_bias_per_class"][c] if out else torch.tensor(nan)
            per_class.append(
                {
                    "observer": o,
                    "class": name,
                    "shape_bias": float(sb),
                    "fraction_shape": int(counts[c, 2]) / int(counts[c, 0]),
                    "fraction_texture": int(counts[c, 3]) / int(counts[c, 0]),
                    "n_trials": int(counts[c, 0]),
                    "n_conflict": int(counts[c, 1]),
                }
            )
    return ShapeBiasResult(rows, per_class, exp.name)


_HUMAN_COLOUR = (165 / 255, 30 / 255, 55 / 255)


def shape_bias_plot(result: ShapeBiasResult, path: str | os.PathLike, *, show_subjects: bool = False) -> None:
    """The toolbox's shape-bias matrix plot: one row per shape class (ordered by the humans' shape bias), the
    per-class shape bias of every observer as a marker and its overall shape bias as a vertical line. Needs
    matplotlib."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    observers = [
        r["observer"] for r in result.observers if show_subjects or not str(r["observer"]).startswith("subject-")
    ]
    classes = sorted({r["class"] for r in result.per_class})
    ref = {
        r["class"]: r["shape_bias"]
        for r in result.per_class
        if r["observer"] == (HUMANS if HUMANS in observers else observers[0])
    }
    classes.sort(key=lambda c: (-(ref.get(c, math.nan) if not math.isnan(ref.get(c, math.nan)) else -1), c))
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]
    markers = "osv^<>pPX*h"
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(classes) + 2))
    for j, o in enumerate(observers):
        colour = _HUMAN_COLOUR if o == HUMANS else palette[j % len(palette)]
        marker = "D" if o == HUMANS else markers[j % len(markers)]
        xs = []
        for c in classes:
            hit = [r["shape_bias"] for r in result.per_class if r["observer"] == o and r["class"] == c]
            xs.append(hit[0] if hit else math.nan)
        ax.scatter(xs, range(len(classes)), color=colour, marker=marker, label=o, zorder=3, s=40)
        overall = result.row(o)["shape_bias"]
        if not math.isnan(overall):
            ax.axvline(overall, color=colour, linewidth=1.2)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("shape bias: fraction of 'shape' among shape + texture decisions")
    sec = ax.secondary_xaxis("top", functions=(lambda x: 1 - x, lambda x: 1 - x))
    sec.set_xlabel("fraction of 'texture' decisions")
    ax.grid(axis="y", linestyle=":", alpha=0.4)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_shape_bias(result: ShapeBiasResult, out_dir: str | os.PathLike, *, plots: bool = True) -> list[Path]:
    """Write ``shape_bias.csv`` (``observer,shape_bias,fraction_shape,fraction_texture``), ``shape_bias_classes.csv``
    (per observer and shape class) and, with ``plots``, ``shape_bias.png`` into ``out_dir``; return the paths.
    Files are written in place (callers stage the folder for all-or-nothing output)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    p = out / "shape_bias.csv"
    p.write_text(rows_to_csv(result.observers, SHAPE_BIAS_COLUMNS), encoding="utf-8")
    written.append(p)
    p = out / "shape_bias_classes.csv"
    cols = ["observer", "class", "shape_bias", "fraction_shape", "fraction_texture", "n_trials", "n_conflict"]
    p.write_text(rows_to_csv(result.per_class, cols), encoding="utf-8")
    written.append(p)
    if plots:
        p = out / "shape_bias.png"
        shape_bias_plot(result, p)
        written.append(p)
    return written


__all__ = ["SHAPE_BIAS_COLUMNS", "ShapeBiasResult", "shape_bias", "shape_bias_plot", "write_shape_bias"]
