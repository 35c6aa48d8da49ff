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

All 17 datasets of the benchmark are read: the 12 parametric experiments (:data:`PARAMETRIC`) and the 5
single-condition ones (:data:`SINGLE_CONDITION`: sketch, stylized, edge, silhouette, cue-conflict), with their quirks
(``NaN`` / ``0`` condition, bare vs prefixed stimulus names, cue-conflict texture classes). Benchmark aggregation
lives in :mod:`rdmetrics.datasets.benchmark`, shape bias in :mod:`rdmetrics.datasets.shape_bias`.

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
#: Datasets whose stimuli combine the shape of one class with the texture of another (``<shape>1-<texture>2.png``).
CUE_CONFLICT: tuple[str, ...] = ("cue-conflict",)

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


def default_mvh_dir(root: str | os.PathLike | None = None) -> Path:
    """The model-vs-human data folder: ``root`` if given, else ``$RDMETRICS_MVH_DIR``.

    rdmetrics ships no data and guesses no location: with neither an argument nor the environment variable set this
    raises (point it at a copy of the toolbox's ``raw-data`` folder).

    Raises:
        ValueError: neither ``root`` nor ``RDMETRICS_MVH_DIR`` is given.

    Example:
        >>> default_mvh_dir("/data/raw-data").as_posix()
        '/data/raw-data'
    """
    if root is not None and str(root) != "":
        return Path(root)
    env = os.environ.get("RDMETRICS_MVH_DIR")
    if env:
        return Path(env)
    raise ValueError(
        "no model-vs-human data folder given: pass the path of a raw-data folder (one sub-folder per dataset) "
        "or set the environment variable RDMETRICS_MVH_DIR"
    )


@dataclass(frozen=True)
class TrialTable:
    """Trial-level responses of one experiment, aligned by stimulus.

    Attributes:
        image_keys: sorted stimulus keys, ``N`` of them: ``imagename`` without its ``<trial>_<code>_<observer>_``
            prefix; on datasets where some files name the bare stimulus file (models on edge / silhouette /
            cue-conflict write ``airplane1.png``, humans ``0001_edg_s01_0_airplane_00_airplane1.png``) the key of
            every observer is the stimulus file name, the part after the last ``_``.
        condition: ``[N]`` level index (into :attr:`ExperimentData.conditions`) of each image.
        target: ``[N]`` true category index (into :data:`CATEGORIES`); on cue-conflict the *shape* class.
        responses: observer (each subject and each model, not the pooled ``humans``) -> ``[N]`` response index into
            :data:`RESPONSES` (16 = ``na``), ``-1`` where that observer did not see the image.
        texture: ``[N]`` texture class index (into :data:`CATEGORIES`) on cue-conflict (parsed from the stimulus
            name ``<shape><i>-<texture><j>.png``), else ``None``.
    """

    image_keys: tuple[str, ...]
    condition: Tensor
    target: Tensor
    responses: dict[str, Tensor]
    texture: Tensor | None = None

    def paired(self, a: str, b: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(target, response_a, response_b, condition)`` over the images both observers saw (same order).

        Raises:
            ValueError: an observer is unknown, or the two observers share no stimulus (never a silent empty
                alignment).
        """
        for name in (a, b):
            if name not in self.responses:
                raise ValueError(f"unknown observer {name!r}; trial-level observers: {sorted(self.responses)}")
        ra, rb = self.responses[a], self.responses[b]
        keep = (ra >= 0) & (rb >= 0)
        if not bool(keep.any()):
            raise ValueError(
                f"observers {a!r} and {b!r} share no stimulus ({int((ra >= 0).sum())} and {int((rb >= 0).sum())} "
                "trials); their imagename columns name different stimuli"
            )
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

    def condition_index(self, condition: str | float | bool) -> int:
        """Level index of a condition label, matched by value as the toolbox writes labels: ``'3.0'`` == ``'3'``,
        ``'True'`` == ``'true'``, ``'0.6'`` == ``'0.60'``; on single-condition datasets ``'NaN'`` == ``'0'``.

        Raises:
            ValueError: no level has this label.
        """
        want = _canon(str(condition))
        if self.name in SINGLE_CONDITION and want in _SINGLE_LABELS:
            want = _canon(self.conditions[0])
        for i, c in enumerate(self.conditions):
            if _canon(c) == want:
                return i
        raise ValueError(f"experiment {self.name!r} has no condition {condition!r}; conditions: {self.conditions}")

    def confmat(self, observer: str, condition: str | None = None) -> Tensor:
        """``[L, 16, 17]`` counts of ``observer`` (or ``[16, 17]`` for one ``condition`` label, matched by value,
        see :meth:`condition_index`)."""
        if observer not in self.confmats:
            raise ValueError(
                f"experiment {self.name!r} has no observer {observer!r}; observers: {list(self.observers)}"
            )
        cm = self.confmats[observer]
        if condition is None:
            return cm
        return cm[self.condition_index(condition)]

    def accuracy(self, observer: str) -> Tensor:
        """``[L]`` float64 accuracy per level (``na`` counts as wrong): ``sum_x N[l,x,x] / sum N[l]``; ``nan`` for a
        level the observer never saw (not 0)."""
        cm = self.confmat(observer).double()
        n = cm.sum((1, 2))
        acc = cm.diagonal(dim1=1, dim2=2).sum(-1) / n.clamp_min(1)
        return torch.where(n > 0, acc, torch.full_like(acc, math.nan))

    @property
    def severity(self) -> Tensor:
        """``[L]`` normalised level rank ``l / (L - 1)`` in ``[0, 1]`` (an x-axis for rate-vs-perturbation plots)."""
        n = len(self.conditions)
        return torch.linspace(0.0, 1.0, n, dtype=torch.float64) if n > 1 else torch.zeros(n, dtype=torch.float64)


class ModelVsHuman(Mapping[str, ExperimentData]):
    """Read-only mapping ``experiment name -> ExperimentData`` (sorted by name), returned by
    :func:`load_model_vs_human`.

    Attributes:
        root: the folder that was read.
        extra_roots: the further raw-data folders merged with ``root`` (``load_model_vs_human(extra_roots=...)``).
        skipped: ``(path, reason)`` for every entry of ``root`` that was not read as a dataset: non-data files
            (``README.md``, licences), folders without model-vs-human raw-data CSVs (the toolbox's
            ``performances/``), non-CSV files inside dataset folders, and, with ``on_error="skip"``, datasets that
            failed to load (the reason is the error message).
    """

    def __init__(
        self,
        root: Path,
        experiments: dict[str, ExperimentData],
        skipped: Sequence[tuple[Path, str]] = (),
        *,
        extra_roots: Sequence[Path] = (),
    ) -> None:
        self.root = root
        self.extra_roots: tuple[Path, ...] = tuple(extra_roots)
        self._experiments = dict(sorted(experiments.items()))
        self.skipped: tuple[tuple[Path, str], ...] = tuple(skipped)

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


#: Condition labels of the single-condition datasets (humans write ``0``, models ``NaN``), canonical form.
_SINGLE_LABELS = frozenset({"nan", "0.0", ""})


def _canon(label: str) -> str:
    """Canonical form of a condition label: numbers by value (``'3'``, ``'3.0'`` -> ``'3.0'``; ``'0.60'`` ->
    ``'0.6'``; ``'inf'``), everything else lower-cased (``'True'`` -> ``'true'``)."""
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


def texture_class(imagename: str) -> str:
    """Texture class of a cue-conflict stimulus, as the toolbox's ``ShapeBias.get_texture_category`` reads it:
    the file name after the last ``_``, without extension, its last ``-`` part, digits removed.

    Example:
        >>> texture_class("0001_s5n_s01_0_bird_00_bird3-clock2.png"), texture_class("airplane1-bicycle2.png")
        ('clock', 'bicycle')
    """
    stem = imagename.strip().rsplit("_", 1)[-1].split(".")[0]
    return "".join(ch for ch in stem.split("-")[-1] if not ch.isdigit())


@dataclass
class _FileRows:
    path: Path
    observer: str
    is_human: bool
    category: list[int]
    response: list[int]
    condition: list[str]
    keys: list[str]
    names: list[str]
    bare: bool = False


def _header_problem(header: Sequence[str]) -> list[str]:
    missing = [c for c in _REQUIRED if c not in header]
    if not ({"session", "Session"} & set(header)):
        missing.append("session|Session")
    return missing


def _sniff_header(path: Path) -> list[str] | None:
    """The stripped header of a CSV, ``None`` if it cannot be read as UTF-8 text."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return None
    return [h.strip() for h in next(csv.reader([first]), [])]


def _read_csv(path: Path) -> _FileRows:
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err}") from err
    lineno = 1
    try:
        with fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            missing = _header_problem(header)
            if missing:
                raise ValueError(f"{path}: not a model-vs-human CSV, missing column(s) {missing} (header: {header})")
            col = {name: header.index(name) for name in _REQUIRED}
            i_subj, i_resp, i_cat = col["subj"], col["object_response"], col["category"]
            i_cond, i_img = col["condition"], col["imagename"]
            width = len(header)
            rows = _FileRows(path, "", False, [], [], [], [], [])
            subjects: set[str] = set()
            cat_index, resp_index, key_re = _CAT_INDEX, _RESP_INDEX, _KEY_RE
            for fields in reader:
                lineno = reader.line_num
                if len(fields) != width:
                    if not fields:  # a blank line
                        continue
                    raise ValueError(
                        f"{path}:{lineno}: truncated or malformed row ({len(fields)} fields, header has {width}); "
                        "the file may be cut off"
                    )
                cat = fields[i_cat].strip().lower()
                resp = fields[i_resp].strip().lower()
                if cat not in cat_index:
                    raise ValueError(
                        f"{path}:{lineno}: unknown category {fields[i_cat]!r} (expected one of {CATEGORIES})"
                    )
                if resp not in resp_index:
                    raise ValueError(
                        f"{path}:{lineno}: unknown object_response {fields[i_resp]!r} "
                        f"(expected a category or {ABSTAIN!r})"
                    )
                name = fields[i_img].strip()
                if not name:
                    raise ValueError(f"{path}:{lineno}: empty imagename")
                subjects.add(fields[i_subj].strip())
                rows.category.append(cat_index[cat])
                rows.response.append(resp_index[resp])
                rows.condition.append(fields[i_cond].strip())
                rows.names.append(name)
                m = key_re.match(name)
                if m:
                    rows.keys.append(m.group(1))
                else:
                    rows.keys.append(name)
                    rows.bare = True
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path}: not UTF-8 text (byte {err.object[err.start : err.start + 1]!r} at offset {err.start}); "
            "re-save the file as UTF-8"
        ) from err
    except csv.Error as err:
        raise ValueError(f"{path}:{lineno}: malformed CSV ({err})") from err
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
            if _canon(lab) not in _SINGLE_LABELS:
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
                    f"(expected {SEVERITY_ORDER[experiment]}, matched by value)"
                )
            mapping[lab] = table[_canon(lab)]
        present = set(mapping.values())
        ordered = tuple(t for t in SEVERITY_ORDER[experiment] if t in present)
        return ordered, mapping, MONOTONE[experiment]
    # unknown experiment: labels equal by value are merged (first spelling kept); numeric order if every label is a
    # number, else alphabetical; severity not asserted
    canon_first: dict[str, str] = {}
    for lab in labels:
        canon_first.setdefault(_canon(lab), lab)
    distinct = list(canon_first.values())
    try:
        ordered = tuple(sorted(distinct, key=float))
    except ValueError:
        ordered = tuple(sorted(distinct))
    return ordered, {lab: canon_first[_canon(lab)] for lab in labels}, False


def _check_overlap(name: str, trial_resp: dict[str, dict[str, int]]) -> None:
    """Every observer must share stimuli with the others: a zero-trial alignment is an error, never silent."""
    if len(trial_resp) < 2:
        return
    count: dict[str, int] = {}
    for seen in trial_resp.values():
        for k in seen:
            count[k] = count.get(k, 0) + 1
    lonely = [o for o, seen in trial_resp.items() if not any(count[k] > 1 for k in seen)]
    if lonely:
        others = [o for o in trial_resp if o not in lonely]
        example_bad = next(iter(trial_resp[lonely[0]]))
        example_ok = next(iter(trial_resp[others[0]])) if others else None
        raise ValueError(
            f"dataset {name!r}: observer(s) {lonely} share no stimulus with the other observers "
            f"{others or sorted(trial_resp)} (stimulus keys such as {example_bad!r}"
            + (f" vs {example_ok!r}" if example_ok else "")
            + "); their imagename columns name different stimuli, so no trial can be aligned"
        )


def _load_experiment(folder: Path | Sequence[Path], observers: Sequence[str] | None) -> ExperimentData:
    """One dataset from its folder, or from several folders of the same name (one per raw-data root) whose CSVs
    are read together; an observer may have several files in one folder (summed) but not files in two folders."""
    folders = [folder] if isinstance(folder, Path) else list(folder)
    name = folders[0].name
    per_observer: dict[str, list[_FileRows]] = {}
    first_file: dict[str, tuple[int, Path]] = {}  # observer -> (folder index, its first file)
    for i, f in enumerate(folders):
        files = sorted(p for p in f.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise ValueError(f"{f}: no CSV files (expected model-vs-human raw-data files)")
        for path in files:
            rows = _read_csv(path)
            j, other = first_file.setdefault(rows.observer, (i, path))
            if j != i:
                raise ValueError(
                    f"dataset {name!r}: observer {rows.observer!r} is in two raw-data folders, {other} and {path}; "
                    "an observer's files must all be in one folder (rename the added model)"
                )
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
    cue_conflict = name in CUE_CONFLICT

    subjects = tuple(sorted(o for o, rs in per_observer.items() if rs[0].is_human))
    models = tuple(sorted(o for o, rs in per_observer.items() if not rs[0].is_human))

    confmats: dict[str, Tensor] = {}
    key_info: dict[str, tuple[int, int]] = {}
    key_texture: dict[str, int] = {}
    trial_resp: dict[str, dict[str, int]] = {}
    for obs, rs in per_observer.items():
        cm = torch.zeros(n_levels * n_cat * n_resp, dtype=torch.int64)
        seen: dict[str, int] = {}
        for r in rs:
            lev = torch.tensor([level_index[c] for c in r.condition], dtype=torch.int64)
            flat = (lev * n_cat + torch.tensor(r.category)) * n_resp + torch.tensor(r.response)
            cm += torch.bincount(flat, minlength=cm.numel())
            for k, c, cat, resp, imagename in zip(r.keys, r.condition, r.category, r.response, r.names):
                info = (level_index[c], cat)
                if key_info.setdefault(k, info) != info:
                    raise ValueError(
                        f"{r.path}: image {k!r} has condition/category {info} here but {key_info[k]} elsewhere"
                    )
                if k in seen:
                    raise ValueError(f"{r.path}: image {k!r} shown twice to observer {obs!r}")
                seen[k] = resp
                if cue_conflict and k not in key_texture:
                    tex = texture_class(imagename)
                    if tex not in _CAT_INDEX:
                        raise ValueError(
                            f"{r.path}: cue-conflict stimulus {imagename!r} has no texture class (expected "
                            f"'<shape><i>-<texture><j>.png' with texture one of {CATEGORIES}, got {tex!r})"
                        )
                    key_texture[k] = _CAT_INDEX[tex]
        confmats[obs] = cm.view(n_levels, n_cat, n_resp)
        trial_resp[obs] = seen
    _check_overlap(name, trial_resp)
    if subjects:
        confmats[HUMANS] = torch.stack([confmats[s] for s in subjects]).sum(0)

    keys = tuple(sorted(key_info))
    texture = torch.tensor([key_texture[k] for k in keys], dtype=torch.int64) if cue_conflict else None
    trials = TrialTable(
        image_keys=keys,
        condition=torch.tensor([key_info[k][0] for k in keys], dtype=torch.int64),
        target=torch.tensor([key_info[k][1] for k in keys], dtype=torch.int64),
        responses={o: torch.tensor([trial_resp[o].get(k, -1) for k in keys], dtype=torch.int64) for o in trial_resp},
        texture=texture,
    )
    all_obs = ((HUMANS,) if subjects else ()) + subjects + models
    if observers is not None:
        keep = [o for o in all_obs if o in set(observers)]
        confmats = {o: confmats[o] for o in keep}
        trials = TrialTable(
            keys,
            trials.condition,
            trials.target,
            {o: v for o, v in trials.responses.items() if o in set(keep)},
            texture,
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


def _scan_root(root: Path) -> tuple[dict[str, Path], list[tuple[Path, str]]]:
    """Dataset folders under ``root`` and ``(path, reason)`` notes for everything else."""
    folders: dict[str, Path] = {}
    skipped: list[tuple[Path, str]] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith("."):
            continue
        if not p.is_dir():
            skipped.append((p, "not a dataset folder (a file)"))
            continue
        csvs = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() == ".csv")
        if not csvs:
            skipped.append((p, "no CSV files"))
            continue
        problems = []
        for q in csvs:
            header = _sniff_header(q)
            problem = "not UTF-8 text" if header is None else _header_problem(header)
            if not problem:
                break
            problems.append((q, header, problem))
        else:
            q, header, problem = problems[0]
            why = (
                f"{q}: not UTF-8 text"
                if header is None
                else f"{q}: not a model-vs-human CSV, missing column(s) {problem} (header: {header})"
            )
            skipped.append((p, f"no model-vs-human raw-data CSV ({why})"))
            continue
        folders[p.name] = p
        for q in sorted(p.iterdir()):
            if not q.name.startswith(".") and not (q.is_file() and q.suffix.lower() == ".csv"):
                skipped.append((q, "not a CSV file"))
    return folders, skipped


def _root_folders(root: Path) -> tuple[dict[str, Path], list[tuple[Path, str]]]:
    """Dataset folders of a raw-data root (or of a single dataset folder) and the skipped entries."""
    if not root.is_dir():
        raise ValueError(f"model-vs-human data folder not found: {root}")
    if any(p.suffix.lower() == ".csv" and p.is_file() for p in root.iterdir()):
        return {root.name: root}, []
    return _scan_root(root)


def load_model_vs_human(
    root: str | os.PathLike | None = None,
    experiments: Sequence[str] | None = None,
    observers: Sequence[str] | None = None,
    *,
    on_error: str = "raise",
    extra_roots: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
) -> ModelVsHuman:
    """Read model-vs-human raw-data CSVs into per (experiment, observer, condition) confusion matrices.

    ``root`` is a ``raw-data`` folder holding one sub-folder per dataset (the toolbox's whole ``raw-data/`` works:
    folders without raw-data CSVs such as ``performances/``, and stray files, are skipped and listed in
    :attr:`ModelVsHuman.skipped`), or a single dataset folder. Every CSV in a dataset folder is one
    observer-session: human subjects (``subj`` = ``subject-NN``, header ``Session``, answers may be ``na``) and
    models (header ``session``); several files of the same observer are summed. For each observer the counts are

        ``N[l, x, y] = #{trials at level l with true category x and response y}``,

    ``x`` over :data:`CATEGORIES` (16, alphabetical), ``y`` over :data:`RESPONSES` (16 + ``na`` abstain column),
    levels ordered least -> most severe (:data:`SEVERITY_ORDER`). Condition labels are matched by value as the
    toolbox writes them (``'3.0'`` == ``'3'``, ``'0.6'`` == ``'0.60'``, ``'True'`` == ``'true'``); the 5
    single-condition datasets (:data:`SINGLE_CONDITION`) have the one level ``'0'``, which models write as ``NaN``.
    The pooled observer ``"humans"`` is the sum over all subjects of the experiment (computed before the
    ``observers`` filter). Accuracy per level is ``sum_x N[l,x,x] / sum N[l]`` (``na`` is an error).

    Trials are aligned across observers on the stimulus key (see :class:`TrialTable`); an observer that shares no
    stimulus with the others is an error naming the dataset and the observers. On cue-conflict the trial table also
    holds the texture class of every stimulus (``category`` is the shape class).

    ``extra_roots`` adds more folders of the same layout (e.g. the ``raw-data/`` folder the CLI's ``--add-model``
    writes your model's CSVs into, inside its output folder): a dataset folder of the same name in ``root`` and in
    an extra root is read as one dataset, exactly as if all its CSVs were in one folder, and a dataset only in an
    extra root is read too. Nothing is ever written into ``root``.

    Args:
        root: data folder; default :func:`default_mvh_dir` (``$RDMETRICS_MVH_DIR``; an error when unset).
        experiments: experiment folder names to read (default: every sub-folder holding raw-data CSVs).
        observers: observer names to keep (``"humans"``, ``"subject-01"``, model names as in column ``subj``,
            e.g. ``"resnet50"``); default all.
        on_error: ``"raise"`` (default) or ``"skip"``: a dataset that fails to load is then left out and listed in
            :attr:`ModelVsHuman.skipped` with its error message, and the others are still read (when none can be
            read, the error is raised).
        extra_roots: further raw-data folders (or single dataset folders), one path or a sequence, merged with
            ``root`` dataset by dataset (default none). An observer (``subj``) with files in two of the folders is
            an error naming both files.

    Returns:
        :class:`ModelVsHuman`, a mapping ``experiment -> ExperimentData`` with ``confmats[observer]`` ``[L, 16, 17]``
        int64, ``conditions`` in severity order, ``monotone`` (``False`` for rotation and the single-condition
        datasets), and ``trials``, the trial table aligned by stimulus for error consistency and shape bias.

    Raises:
        ValueError: the folder or a requested experiment / observer is missing, a CSV has a bad schema, is not UTF-8
            or is truncated (the message names the file and line), or an observer's trials align with nobody's.

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
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    root = default_mvh_dir(root)
    if extra_roots is None:
        extras: list[Path] = []
    elif isinstance(extra_roots, (str, os.PathLike)):
        extras = [Path(extra_roots)]
    else:
        extras = [Path(r) for r in extra_roots]
    folders, skipped = _root_folders(root)
    merged: dict[str, list[Path]] = {n: [f] for n, f in folders.items()}
    for extra in extras:
        more, more_skipped = _root_folders(extra)
        skipped += more_skipped
        for n, f in more.items():
            if any(f.resolve() == g.resolve() for g in merged.get(n, [])):
                raise ValueError(f"{f}: given twice (root and extra_roots name the same folder)")
            merged.setdefault(n, []).append(f)
    folders = {n: merged[n][0] for n in sorted(merged)}
    if experiments is not None:
        if isinstance(experiments, str):
            experiments = [experiments]
        unknown = [e for e in experiments if e not in folders]
        if unknown:
            notes = [f"{p.name}: {why}" for p, why in skipped if p.name in unknown]
            raise ValueError(
                f"{root}: experiment(s) {unknown} not found; available: {sorted(folders)}"
                + (f" ({'; '.join(notes)})" if notes else "")
            )
        folders = {e: folders[e] for e in experiments}
    elif not folders:
        notes = "; ".join(f"{p.name}: {why}" for p, why in skipped)
        raise ValueError(
            f"{root}: no experiment folders with model-vs-human CSV files found" + (f" ({notes})" if notes else "")
        )
    if isinstance(observers, str):
        observers = [observers]
    data: dict[str, ExperimentData] = {}
    failures: list[ValueError] = []
    for name, folder in folders.items():
        try:
            data[name] = _load_experiment(merged[name], observers)
        except ValueError as err:
            if on_error == "raise":
                raise
            failures.append(err)
            skipped.append((folder, str(err)))
    if failures and not data:  # nothing left to skip to: the error itself
        if len(failures) == 1:
            raise failures[0]
        raise ValueError(f"{root}: no dataset could be read: " + "; ".join(str(e) for e in failures))
    if observers is not None:
        found = {o for e in data.values() for o in e.observers}
        unknown = [o for o in observers if o not in found]
        if unknown:
            raise ValueError(f"{root}: observer(s) {unknown} not found in {sorted(data)}")
    return ModelVsHuman(root, data, skipped, extra_roots=extras)


__all__ = [
    "ABSTAIN",
    "CATEGORIES",
    "CUE_CONFLICT",
    "HUMANS",
    "LEVEL_VALUES",
    "MONOTONE",
    "PARAMETRIC",
    "RESPONSES",
    "SEVERITY_ORDER",
    "SINGLE_CONDITION",
    "ExperimentData",
    "ModelVsHuman",
    "TrialTable",
    "default_mvh_dir",
    "load_model_vs_human",
    "texture_class",
]
