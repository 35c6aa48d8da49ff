"""Reader for the model-vs-human raw behavioural data (Geirhos et al., NeurIPS 2018 / 2021).

The benchmark (``bethgelab/model-vs-human``, ``raw-data/``) stores one CSV per observer and experiment with one row
per trial::

    subj,Session,trial,rt,object_response,category,condition,imagename      (humans; may answer ``na``)
    subj,session,trial,rt,object_response,category,condition,imagename      (models)

:func:`load_model_vs_human` turns a folder of such files into confusion matrices ``N[l, x, y]`` per
(experiment, observer, condition level ``l``): rows ``x`` are the 16 true categories (alphabetical, see
:data:`CATEGORIES`), columns ``y`` the 16 answers plus an abstain column for ``na`` (:data:`RESPONSES`), and the
levels are ordered from the least to the most severe perturbation (:data:`SEVERITY_ORDER`). These are the
``[L, C, K]`` inputs of :func:`rdmetrics.functional.rate_distortion_signature`. It also returns the trial-level
table aligned by image (every observer of an experiment saw the same images), which is what error consistency
needs.

No data ships with rdmetrics; point the reader at a local copy of ``raw-data`` (or set ``RDMETRICS_MVH_DIR``).
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

#: The 16 model-vs-human categories, alphabetical: the row order of every confusion matrix.
CATEGORIES: tuple[str, ...] = (
    "airplane",
    "bear",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "car",
    "cat",
    "chair",
    "clock",
    "dog",
    "elephant",
    "keyboard",
    "knife",
    "oven",
    "truck",
)
#: Label humans write when they gave no answer in time; the last (abstain) column of every confusion matrix.
ABSTAIN = "na"
#: Column order of every confusion matrix: the 16 categories, then ``na``.
RESPONSES: tuple[str, ...] = (*CATEGORIES, ABSTAIN)
#: Observer name of the 4 (or more) human subjects pooled into one observer.
HUMANS = "humans"

#: Condition labels (as written in the CSVs) of the 12 parametric experiments, least to most severe.
#: ``uniform-noise`` ``0.00`` is already grayscale at reduced contrast (not the clean image); ``high-pass`` ``inf``
#: is the unfiltered image; ``rotation`` has no monotone severity (see :data:`MONOTONE`); ``colour``,
#: ``false-colour`` and ``power-equalisation`` have only two levels (original first).
SEVERITY_ORDER: dict[str, tuple[str, ...]] = {
    "colour": ("cr", "bw"),
    "contrast": ("c100", "c50", "c30", "c15", "c10", "c05", "c03", "c01"),
    "eidolonI": tuple(f"{2**i}-10-10" for i in range(8)),
    "eidolonII": tuple(f"{2**i}-3-10" for i in range(8)),
    "eidolonIII": tuple(f"{2**i}-0-10" for i in range(8)),
    "false-colour": ("true", "false"),
    "high-pass": ("inf", "3", "1.5", "1", "0.7", "0.55", "0.45", "0.4"),
    "low-pass": ("0", "1", "3", "5", "7", "10", "15", "40"),
    "phase-scrambling": ("0", "30", "60", "90", "120", "150", "180"),
    "power-equalisation": ("0", "pow"),
    "rotation": ("0", "90", "180", "270"),
    "uniform-noise": ("0.00", "0.03", "0.05", "0.10", "0.20", "0.35", "0.60", "0.90"),
    # the 5 non-parametric datasets: one condition; models write it as ``NaN`` on edge/silhouette/cue-conflict,
    # humans as ``0`` (both map to ``"0"``)
    "cue-conflict": ("0",),
    "edge": ("0",),
    "silhouette": ("0",),
    "sketch": ("0",),
    "stylized": ("0",),
}

#: The 12 parametric experiments (several perturbation levels).
PARAMETRIC: tuple[str, ...] = (
    "colour",
    "contrast",
    "eidolonI",
    "eidolonII",
    "eidolonIII",
    "false-colour",
    "high-pass",
    "low-pass",
    "phase-scrambling",
    "power-equalisation",
    "rotation",
    "uniform-noise",
)
#: The 5 single-condition datasets (their only condition is ``"0"``; ``NaN`` in model files maps to it).
SINGLE_CONDITION: tuple[str, ...] = ("cue-conflict", "edge", "silhouette", "sketch", "stylized")

#: Natural numeric value of each level (contrast in %, filter sigma, noise width, phase-noise width in degrees,
#: log2 eidolon reach, rotation angle; 0/1 for the two-level experiments).
LEVEL_VALUES: dict[str, tuple[float, ...]] = {
    "colour": (0.0, 1.0),
    "contrast": (100.0, 50.0, 30.0, 15.0, 10.0, 5.0, 3.0, 1.0),
    "eidolonI": tuple(float(i) for i in range(8)),
    "eidolonII": tuple(float(i) for i in range(8)),
    "eidolonIII": tuple(float(i) for i in range(8)),
    "false-colour": (0.0, 1.0),
    "high-pass": (math.inf, 3.0, 1.5, 1.0, 0.7, 0.55, 0.45, 0.4),
    "low-pass": (0.0, 1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 40.0),
    "phase-scrambling": (0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0),
    "power-equalisation": (0.0, 1.0),
    "rotation": (0.0, 90.0, 180.0, 270.0),
    "uniform-noise": (0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9),
    **{name: (0.0,) for name in ("cue-conflict", "edge", "silhouette", "sketch", "stylized")},
}

#: Whether the level order is a monotone severity axis (``rotation`` is not: 90/180/270 degrees are different
#: perturbations, not stronger ones).
MONOTONE: dict[str, bool] = {name: name != "rotation" for name in SEVERITY_ORDER}
MONOTONE.update({name: False for name in SINGLE_CONDITION})

_REQUIRED = ("subj", "trial", "rt", "object_response", "category", "condition", "imagename")
_KEY_RE = re.compile(r"^\d+_[^_]+_[^_]+_(.+)$")
_CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
_RESP_INDEX = {c: i for i, c in enumerate(RESPONSES)}


def default_mvh_dir() -> Path:
    """Where the model-vs-human raw data is looked for: ``$RDMETRICS_MVH_DIR``, else ``../shared/data/model-vs-human``
    beside the repository (a development convention; nothing is downloaded).

    Example:
        >>> isinstance(default_mvh_dir(), Path)
        True
    """
    env = os.environ.get("RDMETRICS_MVH_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "model-vs-human"


@dataclass(frozen=True)
class TrialTable:
    """Trial-level responses of one experiment, aligned by image.

    Attributes:
        image_keys: sorted image keys (``imagename`` without its ``<trial>_<code>_<observer>_`` prefix), ``N`` of them.
        condition: ``[N]`` level index (into :attr:`ExperimentData.conditions`) of each image.
        target: ``[N]`` true category index (into :data:`CATEGORIES`).
        responses: observer (each subject and each model, not the pooled ``humans``) -> ``[N]`` response index into
            :data:`RESPONSES` (16 = ``na``), ``-1`` where that observer did not see the image.
    """

    image_keys: tuple[str, ...]
    condition: Tensor
    target: Tensor
    responses: dict[str, Tensor]

    def paired(self, a: str, b: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(target, response_a, response_b, condition)`` over the images both observers saw (same order)."""
        for name in (a, b):
            if name not in self.responses:
                raise ValueError(f"unknown observer {name!r}; trial-level observers: {sorted(self.responses)}")
        ra, rb = self.responses[a], self.responses[b]
        keep = (ra >= 0) & (rb >= 0)
        return self.target[keep], ra[keep], rb[keep], self.condition[keep]


@dataclass(frozen=True)
class ExperimentData:
    """Confusion matrices and trials of one model-vs-human experiment.

    Attributes:
        name: experiment folder name (e.g. ``"contrast"``).
        conditions: condition labels, least to most severe (``L`` of them).
        level_values: numeric value of each level (``nan`` where unknown).
        monotone: whether :attr:`conditions` is a monotone severity axis (``False`` for rotation and for
            experiments without a known ordering).
        observers: ``"humans"`` (pooled subjects) first if kept, then the subjects, then the models.
        subjects: the human subjects present (pooled into ``"humans"``).
        models: the models present.
        confmats: observer -> ``[L, 16, 17]`` int64 counts ``N[l, true category, response]`` (column 16 = ``na``).
        trials: the trial-level table (see :class:`TrialTable`).
        paths: observer -> CSV files it was read from.
    """

    name: str
    conditions: tuple[str, ...]
    level_values: tuple[float, ...]
    monotone: bool
    observers: tuple[str, ...]
    subjects: tuple[str, ...]
    models: tuple[str, ...]
    confmats: dict[str, Tensor]
    trials: TrialTable
    paths: dict[str, tuple[Path, ...]] = field(default_factory=dict)

    def confmat(self, observer: str, condition: str | None = None) -> Tensor:
        """``[L, 16, 17]`` counts of ``observer`` (or ``[16, 17]`` for one ``condition`` label)."""
        if observer not in self.confmats:
            raise ValueError(
                f"experiment {self.name!r} has no observer {observer!r}; observers: {list(self.observers)}"
            )
        cm = self.confmats[observer]
        if condition is None:
            return cm
        if condition not in self.conditions:
            raise ValueError(f"experiment {self.name!r} has no condition {condition!r}; conditions: {self.conditions}")
        return cm[self.conditions.index(condition)]

    def accuracy(self, observer: str) -> Tensor:
        """``[L]`` float64 accuracy per level (``na`` counts as wrong): ``sum_x N[l,x,x] / sum N[l]``."""
        cm = self.confmat(observer).double()
        return cm.diagonal(dim1=1, dim2=2).sum(-1) / cm.sum((1, 2)).clamp_min(1)

    @property
    def severity(self) -> Tensor:
        """``[L]`` normalised level rank ``l / (L - 1)`` in ``[0, 1]`` (an x-axis for rate-vs-perturbation plots)."""
        n = len(self.conditions)
        return torch.linspace(0.0, 1.0, n, dtype=torch.float64) if n > 1 else torch.zeros(n, dtype=torch.float64)


class ModelVsHuman(Mapping[str, ExperimentData]):
    """Read-only mapping ``experiment name -> ExperimentData`` (sorted by name), returned by
    :func:`load_model_vs_human`."""

    def __init__(self, root: Path, experiments: dict[str, ExperimentData]) -> None:
        self.root = root
        self._experiments = dict(sorted(experiments.items()))

    def __getitem__(self, name: str) -> ExperimentData:
        if name not in self._experiments:
            raise KeyError(f"no experiment {name!r} in {self.root}; experiments: {list(self._experiments)}")
        return self._experiments[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._experiments)

    def __len__(self) -> int:
        return len(self._experiments)

    def confmat(self, experiment: str, observer: str, condition: str | None = None) -> Tensor:
        """Shortcut for ``self[experiment].confmat(observer, condition)``."""
        return self[experiment].confmat(observer, condition)

    def __repr__(self) -> str:
        return f"ModelVsHuman(root={str(self.root)!r}, experiments={list(self._experiments)})"


def _canon(label: str) -> str:
    s = label.strip().lower()
    try:
        return repr(float(s))
    except ValueError:
        return s


def _image_key(imagename: str) -> tuple[str, bool]:
    """``(key, prefixed)``: ``imagename`` without its ``<trial>_<code>_<observer>_`` prefix, and whether it had one."""
    name = imagename.strip()
    m = _KEY_RE.match(name)
    return (m.group(1), True) if m else (name, False)


def _stimulus_key(key: str) -> str:
    """The bare stimulus file name: the part after the last ``_`` (``..._airplane_00_airplane1.png`` ->
    ``airplane1.png``)."""
    return key.rsplit("_", 1)[-1]


@dataclass
class _FileRows:
    path: Path
    observer: str
    is_human: bool
    category: list[int]
    response: list[int]
    condition: list[str]
    keys: list[str]
    bare: bool = False


def _read_csv(path: Path) -> _FileRows:
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err}") from err
    with fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in _REQUIRED if c not in header]
        if not ({"session", "Session"} & set(header)):
            missing.append("session|Session")
        if missing:
            raise ValueError(f"{path}: not a model-vs-human CSV, missing column(s) {missing} (header: {header})")
        rows = _FileRows(path, "", False, [], [], [], [])
        subjects: set[str] = set()
        for lineno, row in enumerate(reader, start=2):
            cat = (row["category"] or "").strip().lower()
            resp = (row["object_response"] or "").strip().lower()
            if cat not in _CAT_INDEX:
                raise ValueError(
                    f"{path}:{lineno}: unknown category {row['category']!r} (expected one of {CATEGORIES})"
                )
            if resp not in _RESP_INDEX:
                raise ValueError(
                    f"{path}:{lineno}: unknown object_response {row['object_response']!r} "
                    f"(expected a category or {ABSTAIN!r})"
                )
            if not row["imagename"] or row["condition"] is None:
                raise ValueError(f"{path}:{lineno}: empty imagename or condition")
            subjects.add((row["subj"] or "").strip())
            rows.category.append(_CAT_INDEX[cat])
            rows.response.append(_RESP_INDEX[resp])
            rows.condition.append(row["condition"].strip())
            key, prefixed = _image_key(row["imagename"])
            rows.keys.append(key)
            rows.bare |= not prefixed
    if not rows.category:
        raise ValueError(f"{path}: no trials (empty CSV)")
    if len(subjects) != 1 or "" in subjects:
        raise ValueError(f"{path}: expected one observer in column `subj`, found {sorted(subjects)}")
    rows.observer = subjects.pop()
    rows.is_human = rows.observer.lower().startswith("subject-")
    return rows


def _order_conditions(experiment: str, labels: dict[str, Path]) -> tuple[tuple[str, ...], dict[str, str], bool]:
    """Return (ordered labels as found in the data, data label -> ordered label, monotone)."""
    if experiment in SINGLE_CONDITION:
        mapping = {}
        for lab in labels:
            if _canon(lab) not in ("nan", "0.0", ""):
                raise ValueError(
                    f"{labels[lab]}: unknown condition {lab!r} for single-condition dataset {experiment!r} "
                    "(expected '0' or 'NaN')"
                )
            mapping[lab] = "0"
        return ("0",), mapping, False
    if experiment in SEVERITY_ORDER:
        table = {_canon(t): t for t in SEVERITY_ORDER[experiment]}
        mapping = {}
        for lab in labels:
            if _canon(lab) not in table:
                raise ValueError(
                    f"{labels[lab]}: unknown condition {lab!r} for experiment {experiment!r} "
                    f"(expected {SEVERITY_ORDER[experiment]})"
                )
            mapping[lab] = table[_canon(lab)]
        present = set(mapping.values())
        ordered = tuple(t for t in SEVERITY_ORDER[experiment] if t in present)
        return ordered, mapping, MONOTONE[experiment]
    # unknown experiment: numeric order if every label is a number, else alphabetical; severity not asserted
    try:
        ordered = tuple(sorted(labels, key=float))
    except ValueError:
        ordered = tuple(sorted(labels))
    return ordered, {lab: lab for lab in labels}, False


def _load_experiment(folder: Path, observers: Sequence[str] | None) -> ExperimentData:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
    if not files:
        raise ValueError(f"{folder}: no CSV files (expected model-vs-human raw-data files)")
    name = folder.name
    per_observer: dict[str, list[_FileRows]] = {}
    for path in files:
        rows = _read_csv(path)
        per_observer.setdefault(rows.observer, []).append(rows)
    if any(r.bare for rs in per_observer.values() for r in rs):
        # some files name the bare stimulus (models on edge / silhouette / cue-conflict), others carry the
        # trial/session prefix: align every observer on the stimulus file name (the part after the last ``_``)
        for rs in per_observer.values():
            for r in rs:
                r.keys = [_stimulus_key(k) for k in r.keys]
    labels = {c: r.path for rs in per_observer.values() for r in rs for c in r.condition}
    conditions, mapping, monotone = _order_conditions(name, labels)
    level_index = {lab: conditions.index(mapping[lab]) for lab in labels}
    n_levels, n_cat, n_resp = len(conditions), len(CATEGORIES), len(RESPONSES)

    subjects = tuple(sorted(o for o, rs in per_observer.items() if rs[0].is_human))
    models = tuple(sorted(o for o, rs in per_observer.items() if not rs[0].is_human))

    confmats: dict[str, Tensor] = {}
    key_info: dict[str, tuple[int, int]] = {}
    trial_resp: dict[str, dict[str, int]] = {}
    for obs, rs in per_observer.items():
        cm = torch.zeros(n_levels * n_cat * n_resp, dtype=torch.int64)
        seen: dict[str, int] = {}
        for r in rs:
            lev = torch.tensor([level_index[c] for c in r.condition], dtype=torch.int64)
            flat = (lev * n_cat + torch.tensor(r.category)) * n_resp + torch.tensor(r.response)
            cm += torch.bincount(flat, minlength=cm.numel())
            for k, c, cat, resp in zip(r.keys, r.condition, r.category, r.response):
                info = (level_index[c], cat)
                if key_info.setdefault(k, info) != info:
                    raise ValueError(
                        f"{r.path}: image {k!r} has condition/category {info} here but {key_info[k]} elsewhere"
                    )
                if k in seen:
                    raise ValueError(f"{r.path}: image {k!r} shown twice to observer {obs!r}")
                seen[k] = resp
        confmats[obs] = cm.view(n_levels, n_cat, n_resp)
        trial_resp[obs] = seen
    if subjects:
        confmats[HUMANS] = torch.stack([confmats[s] for s in subjects]).sum(0)

    keys = tuple(sorted(key_info))
    trials = TrialTable(
        image_keys=keys,
        condition=torch.tensor([key_info[k][0] for k in keys], dtype=torch.int64),
        target=torch.tensor([key_info[k][1] for k in keys], dtype=torch.int64),
        responses={o: torch.tensor([trial_resp[o].get(k, -1) for k in keys], dtype=torch.int64) for o in trial_resp},
    )
    all_obs = ((HUMANS,) if subjects else ()) + subjects + models
    if observers is not None:
        keep = [o for o in all_obs if o in set(observers)]
        confmats = {o: confmats[o] for o in keep}
        trials = TrialTable(
            keys, trials.condition, trials.target, {o: v for o, v in trials.responses.items() if o in set(keep)}
        )
        all_obs = tuple(keep)
    values = LEVEL_VALUES.get(name)
    if values is not None:
        level_values = tuple(values[SEVERITY_ORDER[name].index(c)] for c in conditions)
    else:
        level_values = tuple(_maybe_float(c) for c in conditions)
    return ExperimentData(
        name=name,
        conditions=conditions,
        level_values=level_values,
        monotone=monotone,
        observers=all_obs,
        subjects=tuple(s for s in subjects if s in all_obs),
        models=tuple(m for m in models if m in all_obs),
        confmats=confmats,
        trials=trials,
        paths={o: tuple(r.path for r in rs) for o, rs in per_observer.items() if o in all_obs},
    )


def _maybe_float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return math.nan


def load_model_vs_human(
    root: str | os.PathLike | None = None,
    experiments: Sequence[str] | None = None,
    observers: Sequence[str] | None = None,
) -> ModelVsHuman:
    """Read model-vs-human raw-data CSVs into per (experiment, observer, condition) confusion matrices.

    ``root`` is a ``raw-data`` folder holding one sub-folder per experiment (or a single experiment folder). Every
    CSV in an experiment folder is one observer-session: human subjects (``subj`` = ``subject-NN``, header
    ``Session``, answers may be ``na``) and models (header ``session``); several files of the same observer are
    summed. For each observer the counts are

        ``N[l, x, y] = #{trials at level l with true category x and response y}``,

    ``x`` over :data:`CATEGORIES` (16, alphabetical), ``y`` over :data:`RESPONSES` (16 + ``na`` abstain column),
    levels ordered least -> most severe (:data:`SEVERITY_ORDER`; condition strings are matched numerically and
    case-insensitively, so ``0.0`` == ``0.00`` and ``True`` == ``true``). The pooled observer ``"humans"`` is the
    sum over all subjects of the experiment (computed before the ``observers`` filter). Accuracy per level is
    ``sum_x N[l,x,x] / sum N[l]`` (``na`` is an error).

    Args:
        root: data folder; default :func:`default_mvh_dir` (``$RDMETRICS_MVH_DIR`` or ``../shared/data/...``).
        experiments: experiment folder names to read (default: every sub-folder holding CSVs).
        observers: observer names to keep (``"humans"``, ``"subject-01"``, model names as in column ``subj``,
            e.g. ``"resnet50"``); default all.

    Returns:
        :class:`ModelVsHuman`, a mapping ``experiment -> ExperimentData`` with ``confmats[observer]`` ``[L, 16, 17]``
        int64, ``conditions`` in severity order, ``monotone`` (``False`` for rotation), and ``trials``, the
        trial table aligned by image key for error consistency.

    Raises:
        ValueError: the folder or a requested experiment / observer is missing, or a CSV has a bad schema (the
            message names the file).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()) / "contrast"; d.mkdir()
        >>> _ = (d / "contrast_subject-01_session_1.csv").write_text(
        ...     "subj,Session,trial,rt,object_response,category,condition,imagename\\n"
        ...     "subject-01,1,1,0.9,cat,cat,c100,0001_cop_s01_c100_cat_10_n1_1.png\\n"
        ...     "subject-01,1,2,0.8,na,dog,c05,0002_cop_s01_c05_dog_10_n2_2.png\\n")
        >>> data = load_model_vs_human(d.parent)
        >>> exp = data["contrast"]
        >>> exp.conditions, exp.observers
        (('c100', 'c05'), ('humans', 'subject-01'))
        >>> exp.confmat("humans").shape, exp.accuracy("humans").tolist()
        (torch.Size([2, 16, 17]), [1.0, 0.0])
        >>> int(exp.confmat("humans", "c05")[CATEGORIES.index("dog"), RESPONSES.index("na")])
        1
    """
    root = default_mvh_dir() if root is None else Path(root)
    if not root.is_dir():
        raise ValueError(f"model-vs-human data folder not found: {root}")
    if any(p.suffix.lower() == ".csv" for p in root.iterdir()):
        folders = {root.name: root}
    else:
        folders = {
            p.name: p
            for p in sorted(root.iterdir())
            if p.is_dir() and any(q.suffix.lower() == ".csv" for q in p.iterdir())
        }
    if not folders:
        raise ValueError(f"{root}: no experiment folders with CSV files found")
    if experiments is not None:
        if isinstance(experiments, str):
            experiments = [experiments]
        unknown = [e for e in experiments if e not in folders]
        if unknown:
            raise ValueError(f"{root}: experiment(s) {unknown} not found; available: {sorted(folders)}")
        folders = {e: folders[e] for e in experiments}
    if isinstance(observers, str):
        observers = [observers]
    data = {name: _load_experiment(folder, observers) for name, folder in folders.items()}
    if observers is not None:
        found = {o for e in data.values() for o in e.observers}
        unknown = [o for o in observers if o not in found]
        if unknown:
            raise ValueError(f"{root}: observer(s) {unknown} not found in {sorted(data)}")
    return ModelVsHuman(root, data)


__all__ = [
    "ABSTAIN",
    "CATEGORIES",
    "HUMANS",
    "LEVEL_VALUES",
    "MONOTONE",
    "RESPONSES",
    "SEVERITY_ORDER",
    "ExperimentData",
    "ModelVsHuman",
    "TrialTable",
    "default_mvh_dir",
    "load_model_vs_human",
]
