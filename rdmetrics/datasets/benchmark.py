r"""The model-vs-human benchmark (Geirhos et al., NeurIPS 2021) computed exactly as ``bethgelab/model-vs-human`` does.

The toolbox's benchmark tables (``modelvshuman/plotting/plot.py``: ``get_raw_benchmark_df``, ``format_benchmark_df``,
``get_mean_over_datasets``, ``print_benchmark_table_*_to_latex``; ``analyses.py``) are, for every model ``m``:

* over its 17 default datasets (:data:`DEFAULT_DATASETS`), with the conditions of :data:`EXCLUDE_CONDITIONS`
  removed (the undistorted control level and the levels where humans are below ~20 % accuracy);
* for every human subject ``s`` and every remaining condition ``c`` (the 5 single-condition datasets count as one
  condition), on the trials both saw (aligned on the stimulus):

  - accuracy difference :math:`(a_m - a_s)^2` (``SixteenClassAccuracyDifference`` with ``norm=np.square``),
  - observed consistency :math:`c_{obs}` = fraction of trials both get right or both get wrong,
  - error consistency :math:`\kappa = (c_{obs} - c_{exp}) / (1 - c_{exp})`,
    :math:`c_{exp} = a_m a_s + (1 - a_m)(1 - a_s)` (``1`` when :math:`c_{obs} = 1`);

* averaged over conditions, then over subjects, then over datasets;
* OOD accuracy: the fraction correct over all of the model's trials in the kept conditions of a dataset, averaged
  over datasets (``get_mean_over_datasets``; for ``humans`` all subjects' trials are pooled);
* mean rank: the mean of the model's ranks by accuracy difference (ascending), observed consistency and error
  consistency (descending), ties sharing their average rank, among the models of the table (the "most human-like"
  leaderboard); OOD rank: rank by OOD accuracy (descending).

The ``humans`` row (the toolbox's ``include_humans``) compares every pair of subjects ``i < j`` in the same way,
averaged over conditions, then over all pairs of a dataset, then over datasets.

Human ``na`` answers count as errors, as in the toolbox. Conditions are matched by value (the toolbox writes
``'3.0'``, ``'True'``, ``'0.6'`` for the data's ``3``, ``true``, ``0.60``).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rdmetrics.datasets.model_vs_human import (
    ExperimentData,
    load_model_vs_human,
)
from rdmetrics.functional.agreement import _error_consistency_compute

#: The toolbox's 12 parametric ("noise generalisation") datasets, in its order.
NOISE_GENERALISATION_DATASETS: tuple[str, ...] = (
    "colour",
    "contrast",
    "high-pass",
    "low-pass",
    "phase-scrambling",
    "power-equalisation",
    "false-colour",
    "rotation",
    "eidolonI",
    "eidolonII",
    "eidolonIII",
    "uniform-noise",
)
#: The 17 datasets of the benchmark (``modelvshuman.constants.DEFAULT_DATASETS``), in the toolbox's order.
DEFAULT_DATASETS: tuple[str, ...] = (
    "edge",
    "silhouette",
    "cue-conflict",
    *NOISE_GENERALISATION_DATASETS,
    "sketch",
    "stylized",
)

#: Conditions the toolbox leaves out of the benchmark (``plotting/plot.py`` ``EXCLUDE_CONDITIONS``), as it writes
#: them; matched by value against the data's labels. Reasons (toolbox comment): not out-of-distribution (the
#: control condition without manipulation), or mean human accuracy below 0.2 (consistency not meaningful).
EXCLUDE_CONDITIONS: dict[str, tuple[str, ...]] = {
    "colour": ("cr",),
    "contrast": ("c100", "c03", "c01"),
    "high-pass": ("inf", "0.55", "0.45", "0.4"),
    "low-pass": ("0", "15", "40"),
    "phase-scrambling": ("0", "150", "180"),
    "power-equalisation": ("0",),
    "false-colour": ("True",),
    "rotation": ("0",),
    "eidolonI": ("1-10-10", "64-10-10", "128-10-10"),
    "eidolonII": ("1-3-10", "32-3-10", "64-3-10", "128-3-10"),
    "eidolonIII": ("1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"),
    "uniform-noise": ("0.0", "0.6", "0.9"),
}

#: The three pairwise metrics of the "most human-like" table.
PAIR_METRICS: tuple[str, ...] = ("accuracy_difference", "observed_consistency", "error_consistency")
#: Columns of ``benchmark.csv``.
BENCHMARK_COLUMNS: tuple[str, ...] = (
    "model",
    "accuracy_difference",
    "observed_consistency",
    "error_consistency",
    "ood_accuracy",
    "mean_rank",
)
HUMANS_ROW = "humans"


@dataclass(frozen=True)
class BenchmarkResult:
    """Tables of :func:`mvh_benchmark` (rows are plain dicts; floats are float64).

    Attributes:
        summary: one row per model (sorted by ``mean_rank``) and a last ``"humans"`` row: ``model``,
            ``accuracy_difference``, ``observed_consistency``, ``error_consistency``, ``ood_accuracy``, ``mean_rank``,
            ``ood_rank`` (``nan`` for humans) and ``n_datasets``.
        per_dataset: one row per (dataset, model) plus the dataset's ``"humans"`` row: ``dataset``, ``model``, the
            three pair metrics (averaged over conditions then subjects), ``ood_accuracy``, ``n_subjects``,
            ``n_conditions``.
        per_condition: the raw rows, one per (model, subject, dataset, condition) -- for humans one per pair of
            subjects (``model`` is then the first subject): ``model``, ``subject``, ``dataset``, ``condition``,
            ``n_trials``, ``model_accuracy``, ``subject_accuracy`` and the three pair metrics.
        datasets: the datasets used, in order.
        conditions: dataset -> the condition labels kept (after exclusions).
        excluded: dataset -> the condition labels left out.
        notes: remarks (e.g. a model missing from some datasets, so its averages cover fewer datasets).
    """

    summary: list[dict[str, Any]]
    per_dataset: list[dict[str, Any]]
    per_condition: list[dict[str, Any]]
    datasets: tuple[str, ...]
    conditions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    excluded: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def leaderboard(self, by: str = "humanlike") -> list[dict[str, Any]]:
        """Model rows (no humans) ranked ``"humanlike"`` (by mean rank) or ``"ood"`` (by OOD accuracy)."""
        if by not in ("humanlike", "ood"):
            raise ValueError(f"`by` must be 'humanlike' or 'ood', got {by!r}")
        rows = [r for r in self.summary if r["model"] != HUMANS_ROW]
        key = "mean_rank" if by == "humanlike" else "ood_rank"
        return sorted(rows, key=lambda r: (r[key], r["model"]))

    def row(self, model: str) -> dict[str, Any]:
        """The summary row of ``model`` (or ``"humans"``)."""
        for r in self.summary:
            if r["model"] == model:
                return r
        raise KeyError(f"no model {model!r} in the benchmark; models: {[r['model'] for r in self.summary]}")


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan


def average_ranks(values: Sequence[float], descending: bool = False) -> list[float]:
    """Ranks 1..n with ties sharing their average rank (pandas ``rank()`` default); NaN values get NaN.

    Example:
        >>> average_ranks([0.3, 0.1, 0.3]), average_ranks([0.3, 0.1, 0.3], descending=True)
        ([2.5, 1.0, 2.5], [1.5, 3.0, 1.5])
    """
    idx = [i for i, v in enumerate(values) if not math.isnan(v)]
    order = sorted(idx, key=lambda i: -values[i] if descending else values[i])
    ranks = [math.nan] * len(values)
    pos = 0
    while pos < len(order):
        end = pos
        while end + 1 < len(order) and values[order[end + 1]] == values[order[pos]]:
            end += 1
        for k in range(pos, end + 1):
            ranks[order[k]] = (pos + end) / 2 + 1
        pos = end + 1
    return ranks


def _kept_levels(exp: ExperimentData, exclude: Sequence[str]) -> tuple[list[int], tuple[str, ...]]:
    """Indices of the kept levels and the data labels excluded (labels absent from the data are ignored)."""
    dropped = set()
    for label in exclude:
        try:
            dropped.add(exp.condition_index(label))
        except ValueError:
            continue
    kept = [i for i in range(len(exp.conditions)) if i not in dropped]
    if not kept:
        raise ValueError(f"dataset {exp.name!r}: every condition is excluded ({exp.conditions}); nothing to compare")
    return kept, tuple(exp.conditions[i] for i in sorted(dropped))


def _pair_rows(
    exp: ExperimentData, a: str, b: str, kept: Sequence[int], correct: dict[str, Tensor], seen: dict[str, Tensor]
) -> list[dict[str, Any]]:
    """One row per kept condition comparing observers ``a`` (model or subject) and ``b`` (subject)."""
    cond = exp.trials.condition
    rows = []
    for lev in kept:
        ma = seen[a] & (cond == lev)
        mb = seen[b] & (cond == lev)
        na, nb = int(ma.sum()), int(mb.sum())
        if na == 0 or nb == 0:
            raise ValueError(
                f"dataset {exp.name!r}, condition {exp.conditions[lev]!r}: observer {a if na == 0 else b!r} has no "
                "trials there"
            )
        if not torch.equal(ma, mb):
            shared = int((ma & mb).sum())
            raise ValueError(
                f"dataset {exp.name!r}, condition {exp.conditions[lev]!r}: {a!r} and {b!r} saw different stimuli "
                f"({na} and {nb} trials, {shared} shared); the benchmark compares the same trials"
            )
        ca, cb = correct[a][ma].long(), correct[b][ma].long()
        table = torch.bincount(ca * 2 + cb, minlength=4).reshape(2, 2)
        ec = _error_consistency_compute(table)
        acc_a, acc_b = int(ca.sum()) / na, int(cb.sum()) / nb
        rows.append(
            {
                "model": a,
                "subject": b,
                "dataset": exp.name,
                "condition": exp.conditions[lev],
                "n_trials": na,
                "model_accuracy": acc_a,
                "subject_accuracy": acc_b,
                "accuracy_difference": (acc_a - acc_b) ** 2,
                "observed_consistency": float(ec["observed"]),
                "error_consistency": float(ec["kappa"]),
            }
        )
    return rows


def _ood_accuracy(exp: ExperimentData, observers: Sequence[str], kept: Sequence[int], correct, seen) -> float:
    keep_level = torch.zeros(len(exp.conditions), dtype=torch.bool)
    keep_level[list(kept)] = True
    in_kept = keep_level[exp.trials.condition]
    n = right = 0
    for o in observers:
        m = seen[o] & in_kept
        n += int(m.sum())
        right += int(correct[o][m].sum())
    return right / n if n else math.nan


def _benchmark_dataset(
    exp: ExperimentData, models: Sequence[str], exclude: Sequence[str], include_humans: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], tuple[str, ...], tuple[str, ...]]:
    if not exp.subjects:
        raise ValueError(
            f"dataset {exp.name!r}: no human subjects (subject-NN files); the benchmark compares to humans"
        )
    kept, dropped = _kept_levels(exp, exclude)
    t = exp.trials
    observers = [*exp.subjects, *models]
    missing = [o for o in observers if o not in t.responses]
    if missing:
        raise ValueError(f"dataset {exp.name!r}: no trials for observer(s) {missing}")
    seen = {o: t.responses[o] >= 0 for o in observers}
    correct = {o: t.responses[o] == t.target for o in observers}
    raw: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for m in models:
        rows = [r for s in exp.subjects for r in _pair_rows(exp, m, s, kept, correct, seen)]
        raw += rows
        per_subject = {
            s: {k: _mean([r[k] for r in rows if r["subject"] == s]) for k in PAIR_METRICS} for s in exp.subjects
        }
        summary.append(
            {
                "dataset": exp.name,
                "model": m,
                **{k: _mean([per_subject[s][k] for s in exp.subjects]) for k in PAIR_METRICS},
                "ood_accuracy": _ood_accuracy(exp, [m], kept, correct, seen),
                "n_subjects": len(exp.subjects),
                "n_conditions": len(kept),
            }
        )
    if include_humans:
        subs = exp.subjects
        pairs = [(subs[i], subs[j]) for i in range(len(subs)) for j in range(i + 1, len(subs))]
        per_pair = []
        for a, b in pairs:
            rows = _pair_rows(exp, a, b, kept, correct, seen)
            raw += rows
            per_pair.append({k: _mean([r[k] for r in rows]) for k in PAIR_METRICS})
        summary.append(
            {
                "dataset": exp.name,
                "model": HUMANS_ROW,
                **{k: _mean([p[k] for p in per_pair]) for k in PAIR_METRICS},
                "ood_accuracy": _ood_accuracy(exp, subs, kept, correct, seen),
                "n_subjects": len(subs),
                "n_conditions": len(kept),
            }
        )
    return raw, summary, tuple(exp.conditions[i] for i in kept), dropped


def _add_ranks(rows: list[dict[str, Any]]) -> None:
    """``mean_rank`` and ``ood_rank`` among the model rows (humans get NaN), in place."""
    models = [r for r in rows if r["model"] != HUMANS_ROW]
    acc = average_ranks([r["accuracy_difference"] for r in models])
    obs = average_ranks([r["observed_consistency"] for r in models], descending=True)
    err = average_ranks([r["error_consistency"] for r in models], descending=True)
    ood = average_ranks([r["ood_accuracy"] for r in models], descending=True)
    for r, a, o, e, d in zip(models, acc, obs, err, ood):
        r["mean_rank"] = (a + e + o) / 3.0
        r["ood_rank"] = d
    for r in rows:
        if r["model"] == HUMANS_ROW:
            r["mean_rank"] = r["ood_rank"] = math.nan


def mvh_benchmark(
    root_or_data: str | os.PathLike | Mapping[str, ExperimentData],
    datasets: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    *,
    exclude: bool | Mapping[str, Sequence[str]] = True,
    include_humans: bool = True,
) -> BenchmarkResult:
    r"""The model-vs-human benchmark tables, computed as ``bethgelab/model-vs-human`` computes them.

    See the module docstring for the definitions (per (model, subject, dataset, condition) squared accuracy difference,
    observed consistency and error consistency; averaged over conditions, then subjects, then datasets; OOD
    accuracy; mean rank). On the toolbox's raw data this reproduces its published tables to the printed 3 decimals
    (e.g. ResNet-50: accuracy difference .087, observed consistency .665, error consistency .208, OOD accuracy
    .559).

    Args:
        root_or_data: a raw-data folder (read with :func:`~rdmetrics.datasets.load_model_vs_human`) or an already
            loaded :class:`~rdmetrics.datasets.ModelVsHuman` / mapping of :class:`ExperimentData`.
        datasets: datasets to use; default the toolbox's 17 (:data:`DEFAULT_DATASETS`) that are present (at least
            one must be).
        models: models to rank (names as in the CSVs' ``subj`` column); default every model present in any used
            dataset. The mean rank is relative to this set.
        exclude: ``True`` (default): the toolbox's :data:`EXCLUDE_CONDITIONS`; ``False``: keep every condition; or a
            mapping dataset -> labels to exclude. Labels are matched by value; labels absent from the data are
            ignored.
        include_humans: add the ``"humans"`` row (subject-vs-subject pairs; pooled human OOD accuracy).

    Returns:
        :class:`BenchmarkResult` with ``summary``, ``per_dataset`` and ``per_condition`` tables.

    Raises:
        ValueError: no requested dataset / model is present, a dataset has no human subjects, every condition of a
            dataset is excluded, or a model and a subject saw different stimuli in a condition (the message names
            the dataset, condition and observers).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()) / "edge"; d.mkdir()
        >>> head = "subj,{},trial,rt,object_response,category,condition,imagename\n"
        >>> _ = (d / "edge_subject-01_session_1.csv").write_text(head.format("Session")
        ...     + "subject-01,1,1,0.5,cat,cat,0,0001_edg_s01_0_cat_00_cat1.png\n"
        ...     + "subject-01,1,2,0.5,dog,dog,0,0002_edg_s01_0_dog_00_dog1.png\n")
        >>> _ = (d / "edge_net_session-1.csv").write_text(head.format("session")
        ...     + "net,1,1,NaN,cat,cat,NaN,cat1.png\n" + "net,1,2,NaN,cat,dog,NaN,dog1.png\n")
        >>> res = mvh_benchmark(d.parent)
        >>> {k: round(v, 3) for k, v in res.row("net").items() if k != "model"}  # doctest: +NORMALIZE_WHITESPACE
        {'accuracy_difference': 0.25, 'observed_consistency': 0.5, 'error_consistency': 0.0, 'ood_accuracy': 0.5,
         'mean_rank': 1.0, 'ood_rank': 1.0, 'n_datasets': 1}
    """
    data = root_or_data if isinstance(root_or_data, Mapping) else load_model_vs_human(root_or_data)
    if datasets is None:
        use = [d for d in DEFAULT_DATASETS if d in data]
        if not use:
            raise ValueError(
                f"none of the benchmark's 17 datasets {list(DEFAULT_DATASETS)} is present (found {sorted(data)}); "
                "pass `datasets` to benchmark other folders"
            )
    else:
        use = [datasets] if isinstance(datasets, str) else list(datasets)
        absent = [d for d in use if d not in data]
        if absent:
            raise ValueError(f"dataset(s) {absent} not found; available: {sorted(data)}")
    present_models = sorted({m for d in use for m in data[d].models})
    if models is None:
        model_list = present_models
    else:
        model_list = [models] if isinstance(models, str) else list(models)
        absent = [m for m in model_list if m not in present_models]
        if absent:
            raise ValueError(f"model(s) {absent} not found in datasets {use}; models: {present_models}")
    if not model_list:
        raise ValueError(f"no model files in datasets {use} (only human subjects)")

    per_condition: list[dict[str, Any]] = []
    per_dataset: list[dict[str, Any]] = []
    kept_conditions: dict[str, tuple[str, ...]] = {}
    excluded: dict[str, tuple[str, ...]] = {}
    notes: list[str] = []
    for name in use:
        exp = data[name]
        if exclude is True:
            drop: Sequence[str] = EXCLUDE_CONDITIONS.get(name, ())
        elif exclude is False:
            drop = ()
        else:
            drop = tuple(exclude.get(name, ()))
        here = [m for m in model_list if m in exp.models]
        raw, summ, kept, dropped = _benchmark_dataset(exp, here, drop, include_humans)
        per_condition += raw
        per_dataset += summ
        kept_conditions[name], excluded[name] = kept, dropped

    summary: list[dict[str, Any]] = []
    for m in [*model_list, *([HUMANS_ROW] if include_humans else [])]:
        rows = [r for r in per_dataset if r["model"] == m]
        if m != HUMANS_ROW and len(rows) < len(use):
            lacking = [d for d in use if d not in {r["dataset"] for r in rows}]
            notes.append(
                f"model {m!r} has no data for {lacking}: its averages cover {len(rows)} of {len(use)} datasets"
            )
        summary.append(
            {
                "model": m,
                **{k: _mean([r[k] for r in rows]) for k in (*PAIR_METRICS, "ood_accuracy")},
                "n_datasets": len(rows),
            }
        )
    _add_ranks(summary)
    for name in use:
        _add_ranks([r for r in per_dataset if r["dataset"] == name])
    for r in summary:  # column order: metrics, ranks, count
        r["n_datasets"] = r.pop("n_datasets")
    summary.sort(key=lambda r: (r["model"] == HUMANS_ROW, r["mean_rank"], r["model"]))
    return BenchmarkResult(
        summary=summary,
        per_dataset=per_dataset,
        per_condition=per_condition,
        datasets=tuple(use),
        conditions=kept_conditions,
        excluded=excluded,
        notes=tuple(notes),
    )


# ---------------------------------------------------------------------------------------------------------------------
# output


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return v


def rows_to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text of dict rows (floats at full precision, NaN as an empty cell).

    Example:
        >>> print(rows_to_csv([{"model": "a", "x": 0.5, "r": float("nan")}]).strip())
        model,x,r
        a,0.5,
    """
    cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c, "")) for c in cols])
    return buf.getvalue()


_LABELS = {
    "accuracy_difference": "accuracy difference (lower: more human-like)",
    "observed_consistency": "observed consistency",
    "error_consistency": "error consistency (kappa)",
    "ood_accuracy": "OOD accuracy",
}
_HUMAN_COLOUR = (165 / 255, 30 / 255, 55 / 255)
_MODEL_COLOUR = (0.55, 0.55, 0.55)


def barplot(rows: Sequence[Mapping[str, Any]], metric: str, path: str | os.PathLike, title: str | None = None) -> None:
    """Bar plot of one metric over the rows (models and ``humans``), ordered as the toolbox orders its benchmark
    bars (worst to best, left to right); names written inside the bars. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = [r for r in rows if not math.isnan(r[metric])]
    rows = sorted(rows, key=lambda r: r[metric], reverse=metric == "accuracy_difference")
    values = [r[metric] for r in rows]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(rows) + 1.5), 4.5))
    colours = [_HUMAN_COLOUR if r["model"] == HUMANS_ROW else _MODEL_COLOUR for r in rows]
    bars = ax.bar(range(len(rows)), values, color=colours, align="center")
    top = max([*values, 0.0])
    limit = math.ceil(top * 10) / 10 if top > 0 else 0.1
    ax.set_ylim(min(0.0, *values) if values else 0.0, max(limit, 0.1))
    for rect, r in zip(bars, rows):
        ax.text(
            rect.get_x() + rect.get_width() / 2,
            0.01 * limit,
            str(r["model"]),
            ha="center",
            va="bottom",
            rotation=90,
            fontsize=8,
        )
    ax.set_xticks([])
    for side in ("right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel(_LABELS.get(metric, metric))
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def datasets_plot(result: BenchmarkResult, path: str | os.PathLike) -> None:
    """One figure, one panel per metric: grouped bars (one per model and ``humans``) for every dataset. Needs
    matplotlib."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = [r["model"] for r in result.summary]
    metrics = (*PAIR_METRICS, "ood_accuracy")
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(8.0, 0.9 * len(result.datasets) + 2), 3.0 * len(metrics)))
    width = 0.8 / max(len(names), 1)
    palette = [plt.get_cmap("tab10")(i) for i in (0, 1, 2, 4, 5, 6, 7, 8, 9)]  # no red: red is the humans' colour
    for ax, metric in zip(axes, metrics):
        for j, name in enumerate(names):
            vals = []
            for d in result.datasets:
                row = [r for r in result.per_dataset if r["dataset"] == d and r["model"] == name]
                vals.append(row[0][metric] if row else math.nan)
            colour = _HUMAN_COLOUR if name == HUMANS_ROW else palette[j % len(palette)]
            ax.bar(
                [i + (j - (len(names) - 1) / 2) * width for i in range(len(result.datasets))],
                vals,
                width,
                color=colour,
                label=name,
            )
        ax.set_ylabel(_LABELS[metric], fontsize=8)
        ax.set_xticks(range(len(result.datasets)), list(result.datasets), rotation=30, ha="right", fontsize=8)
        for side in ("right", "top"):
            ax.spines[side].set_visible(False)
    axes[0].legend(fontsize=7, ncol=min(len(names), 6), loc="upper left", bbox_to_anchor=(0, 1.25))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_benchmark(result: BenchmarkResult, out_dir: str | os.PathLike, *, plots: bool = True) -> list[Path]:
    """Write the benchmark tables (and bar plots) into ``out_dir``; return the paths written.

    Files: ``benchmark.csv`` (columns ``model,accuracy_difference,observed_consistency,error_consistency,ood_accuracy,
    mean_rank``; models by mean rank, then a ``humans`` row with an empty rank), ``benchmark_datasets.csv`` (one row
    per dataset and model), ``benchmark_conditions.csv`` (the raw per (model, subject, dataset, condition) rows),
    ``benchmark/<dataset>.csv`` (each dataset's table) and, with ``plots``, ``benchmark_<metric>.png`` for the four
    metrics (the toolbox's benchmark bar plots) and ``benchmark_datasets.png`` (every dataset, grouped bars).
    Files are written in place: callers wanting an all-or-nothing output write into a staging folder (the CLI does).
    """
    out = Path(out_dir)
    (out / "benchmark").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        written.append(path)

    put(out / "benchmark.csv", rows_to_csv(result.summary, BENCHMARK_COLUMNS))
    ds_cols = ["dataset", "model", *PAIR_METRICS, "ood_accuracy", "mean_rank", "n_subjects", "n_conditions"]
    put(out / "benchmark_datasets.csv", rows_to_csv(result.per_dataset, ds_cols))
    cond_cols = ["model", "subject", "dataset", "condition", "n_trials", "model_accuracy", "subject_accuracy"]
    put(out / "benchmark_conditions.csv", rows_to_csv(result.per_condition, [*cond_cols, *PAIR_METRICS]))
    for name in result.datasets:
        rows = [r for r in result.per_dataset if r["dataset"] == name]
        put(out / "benchmark" / f"{name}.csv", rows_to_csv(rows, ds_cols[1:]))
    if plots:
        for metric in (*PAIR_METRICS, "ood_accuracy"):
            path = out / f"benchmark_{metric.replace('_', '-')}.png"
            barplot(result.summary, metric, path, title=f"{_LABELS[metric]}, mean over {len(result.datasets)} datasets")
            written.append(path)
        path = out / "benchmark_datasets.png"
        datasets_plot(result, path)
        written.append(path)
    return written


def format_leaderboards(result: BenchmarkResult, nd: int = 3) -> str:
    """The two leaderboards as text: most human-like (by mean rank) and OOD accuracy.

    Example:
        >>> res = BenchmarkResult(
        ...     summary=[{"model": "a", "accuracy_difference": 0.1, "observed_consistency": 0.6,
        ...               "error_consistency": 0.2, "ood_accuracy": 0.5, "mean_rank": 1.0, "ood_rank": 1.0},
        ...              {"model": "humans", "accuracy_difference": 0.05, "observed_consistency": 0.7,
        ...               "error_consistency": 0.3, "ood_accuracy": 0.7, "mean_rank": float("nan"),
        ...               "ood_rank": float("nan")}],
        ...     per_dataset=[], per_condition=[], datasets=("edge",))
        >>> print(format_leaderboards(res))  # doctest: +NORMALIZE_WHITESPACE
        most human-like (mean over 1 datasets)
        rank  model   acc.diff  obs.cons  err.cons  mean rank
           1  a          0.100     0.600     0.200      1.000
           -  humans     0.050     0.700     0.300          -
        OOD accuracy
        rank  model   OOD acc.
           1  a          0.500
           -  humans     0.700
    """

    def f(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.{nd}f}"

    humans = [r for r in result.summary if r["model"] == HUMANS_ROW]
    width = max([len("model"), *(len(str(r["model"])) for r in result.summary)])
    lines = [f"most human-like (mean over {len(result.datasets)} datasets)"]
    lines.append(f"rank  {'model':<{width}}  acc.diff  obs.cons  err.cons  mean rank")
    board = result.leaderboard("humanlike")
    for i, r in enumerate([*board, *humans], start=1):
        rank = "-" if r["model"] == HUMANS_ROW else str(i)
        lines.append(
            f"{rank:>4}  {r['model']:<{width}}  {f(r['accuracy_difference']):>8}  {f(r['observed_consistency']):>8}"
            f"  {f(r['error_consistency']):>8}  {f(r['mean_rank']):>9}"
        )
    lines.append("OOD accuracy")
    lines.append(f"rank  {'model':<{width}}  OOD acc.")
    for i, r in enumerate([*result.leaderboard("ood"), *humans], start=1):
        rank = "-" if r["model"] == HUMANS_ROW else str(i)
        lines.append(f"{rank:>4}  {r['model']:<{width}}  {f(r['ood_accuracy']):>8}")
    return "\n".join(lines)


__all__ = [
    "BENCHMARK_COLUMNS",
    "DEFAULT_DATASETS",
    "EXCLUDE_CONDITIONS",
    "NOISE_GENERALISATION_DATASETS",
    "PAIR_METRICS",
    "BenchmarkResult",
    "average_ranks",
    "format_leaderboards",
    "mvh_benchmark",
    "rows_to_csv",
    "write_benchmark",
]
