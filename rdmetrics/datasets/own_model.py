"""Run your own classifier over model-vs-human stimuli and write its decisions as a raw-data CSV.

The CSV has the toolbox's model schema (``subj,session,trial,rt,object_response,category,condition,imagename``), so
:func:`~rdmetrics.datasets.load_model_vs_human`, :func:`~rdmetrics.datasets.mvh_benchmark`, shape bias and the RD
analysis read it beside the human files: write it into a folder of your own (``out_root/<dataset>/``) and read
that together with the untouched data, ``load_model_vs_human(raw_data, extra_roots=out_root)`` (what ``rdmetrics mvh
--add-model`` does, with ``out_root = OUT/raw-data``); the data folder itself is never written.

Stimulus names follow the toolbox's datasets:

* prefixed (the 12 parametric sets, sketch, stylized):
  ``<trial>_<code>_<observer>_<condition>_<category>_<...>.png`` -- condition and true category are read from the
  name (e.g. ``0001_cop_dnn_c30_knife_10_n03041632_7380.png``);
* bare (edge, silhouette, cue-conflict): ``<category><i>.png`` or ``<shape><i>-<texture><j>.png`` -- the true
  (shape) category is the name's first part without digits (or the parent folder when it is a category); the
  condition is written ``NaN``, as the toolbox's own model files do.

Decisions: the model's outputs go through ``label_map`` (default :class:`~rdmetrics.label_maps.ImageNetTo16Class`, the
toolbox's mean-probability ImageNet -> 16-class mapping) and the argmax over the 16 categories is the answer. Nothing
is downloaded; images are read with Pillow.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rdmetrics.datasets.model_vs_human import CATEGORIES

#: Image file suffixes searched in the stimulus folder.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Per-channel ImageNet normalisation of the default preprocessing.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_PREFIXED = re.compile(r"^\d+_[^_]+_[^_]+_(?P<condition>[^_]+)_(?P<category>[a-z]+)_")
_MODEL_HEADER = ("subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename")


def parse_stimulus_name(path: str | os.PathLike) -> tuple[str, str]:
    """``(condition, category)`` of a model-vs-human stimulus file (see the module docstring).

    Raises:
        ValueError: the name follows neither convention or names no known category.

    Example:
        >>> parse_stimulus_name("0001_cop_dnn_c30_knife_10_n03041632_7380.png")
        ('c30', 'knife')
        >>> parse_stimulus_name("cue-conflict/airplane/airplane1-bicycle2.png")
        ('NaN', 'airplane')
    """
    p = Path(path)
    m = _PREFIXED.match(p.name)
    if m and m.group("category") in CATEGORIES:
        return m.group("condition"), m.group("category")
    if "_" not in p.name:
        first = "".join(ch for ch in p.stem.split("-")[0] if not ch.isdigit()).lower()
        if first in CATEGORIES:
            return "NaN", first
        if p.parent.name in CATEGORIES:
            return "NaN", p.parent.name
    raise ValueError(
        f"{path}: not a model-vs-human stimulus name (expected '<trial>_<code>_<observer>_<condition>_<category>_...'"
        f" or '<category><i>[-<texture><j>].png' with a category from {CATEGORIES})"
    )


def default_preprocess(image: Any, image_size: int = 224) -> Tensor:
    """PIL image -> ``[3, S, S]`` float32: RGB, bilinear resize to ``S x S`` when the size differs (stimuli are
    224 x 224), scale to ``[0, 1]``, ImageNet mean / std normalisation."""
    import numpy as np
    from PIL import Image

    img = image.convert("RGB")
    if img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32).copy()).permute(2, 0, 1) / 255.0
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)
    return (x - mean) / std


def find_stimuli(folder: str | os.PathLike) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted by file name then path."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"stimulus folder not found: {root}")
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ValueError(f"{root}: no stimulus images ({', '.join(IMAGE_SUFFIXES)}) found")
    files.sort(key=lambda p: (p.name, str(p)))
    names = [p.name for p in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{root}: stimulus file name(s) {dup[:5]} occur more than once; one folder per dataset")
    return files


def _default_label_map() -> nn.Module:
    from rdmetrics.label_maps import ImageNetTo16Class

    return ImageNetTo16Class()


@torch.no_grad()
def evaluate_model_on_stimuli(
    model: nn.Module | Callable[[Tensor], Tensor],
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    dataset: str | None = None,
    model_name: str | None = None,
    label_map: nn.Module | Callable[[Tensor], Tensor] | str | None = "imagenet",
    preprocess: Callable[[Any], Tensor] | None = None,
    image_size: int = 224,
    batch_size: int = 32,
    device: str | torch.device = "cpu",
    overwrite: bool = False,
) -> Path:
    """Classify every stimulus under ``folder`` with ``model`` and write a model-vs-human raw-data CSV.

    Args:
        model: any classifier (``nn.Module`` or callable) mapping a ``[B, 3, S, S]`` batch to scores; put into
            ``eval()`` mode here when it is a module.
        folder: the dataset's stimulus folder (searched recursively for ``.png`` / ``.jpg``).
        out: a ``.csv`` path, or a folder of yours: the file is then ``<out>/<dataset>/<dataset>_<model_name>_
            session-1.csv``, read beside the human files with ``load_model_vs_human(raw_data, extra_roots=out)``.
        dataset: the dataset name (default: ``folder``'s name, or its grandparent for the toolbox's
            ``<dataset>/dnn/session-1`` layout).
        model_name: the ``subj`` value (default: the model's class name, lower-cased); must not start with
            ``subject-`` (reserved for humans) nor contain a comma.
        label_map: maps the model's outputs to 16 category scores; ``"imagenet"`` (default):
            :class:`~rdmetrics.label_maps.ImageNetTo16Class` for ImageNet-1k logits; ``None``: the outputs already
            are ``[B, 16]`` scores in :data:`~rdmetrics.datasets.CATEGORIES` order; or any module / callable.
        preprocess: PIL image -> ``[3, S, S]`` tensor (default :func:`default_preprocess`).
        image_size: ``S`` of the default preprocessing.
        batch_size: images per forward pass.
        device: where the model runs.
        overwrite: replace an existing CSV (default: refuse).

    Returns:
        The path of the CSV written (atomically: a temporary file is renamed into place).

    Raises:
        ValueError: no stimuli, a stimulus name that encodes no condition / category, bad outputs (wrong shape,
            non-finite), a bad ``model_name``, or an existing output without ``overwrite``.
    """
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - Pillow ships with matplotlib
        raise ImportError("evaluate_model_on_stimuli needs Pillow (pip install pillow)") from err
    files = find_stimuli(folder)
    meta = [parse_stimulus_name(p) for p in files]
    folder = Path(folder)
    if dataset is None:
        dataset = folder.parent.parent.name if folder.name.startswith("session-") else folder.name
    if model_name is None:
        model_name = type(model).__name__.lower()
    if not model_name or model_name.lower().startswith("subject-") or "," in model_name or "\n" in model_name:
        raise ValueError(f"model_name {model_name!r} is not usable (must not start with 'subject-' nor hold a comma)")
    if label_map == "imagenet":
        label_map = _default_label_map()
    elif isinstance(label_map, str):
        raise ValueError(f"label_map must be 'imagenet', None, or a module / callable, got {label_map!r}")
    preprocess = preprocess or (lambda img: default_preprocess(img, image_size))
    out = Path(out)
    target = out if out.suffix.lower() == ".csv" else out / dataset / f"{dataset}_{model_name}_session-1.csv"
    if target.exists() and not overwrite:
        raise ValueError(f"{target} exists; pass overwrite=True to replace it")
    if isinstance(model, nn.Module):
        model.eval()
        model.to(device)

    answers: list[str] = []
    for start in range(0, len(files), batch_size):
        chunk = files[start : start + batch_size]
        batch = []
        for p in chunk:
            try:
                with Image.open(p) as img:
                    batch.append(preprocess(img))
            except OSError as err:
                raise ValueError(f"{p}: cannot read the image ({err})") from err
        scores = model(torch.stack(batch).to(device))
        if label_map is not None:
            scores = label_map(scores)
        if not isinstance(scores, Tensor) or scores.ndim != 2 or scores.shape != (len(chunk), len(CATEGORIES)):
            shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
            raise ValueError(
                f"the model (after label_map) must return [batch, {len(CATEGORIES)}] category scores, got {shape}; "
                "use label_map='imagenet' for ImageNet-1k logits"
            )
        if not bool(torch.isfinite(scores).all()):
            raise ValueError(f"the model returned non-finite scores for a batch starting at {chunk[0]}")
        answers += [CATEGORIES[int(i)] for i in scores.argmax(dim=1).cpu()]

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_MODEL_HEADER)
    for trial, (p, (condition, category), answer) in enumerate(zip(files, meta, answers), start=1):
        w.writerow([model_name, 1, trial, "NaN", answer, category, condition, p.name])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, target)
    return target


def evaluate_model_on_datasets(
    model: nn.Module | Callable[[Tensor], Tensor],
    stimuli_root: str | os.PathLike,
    out_root: str | os.PathLike,
    datasets: Sequence[str] | None = None,
    **kwargs: Any,
) -> dict[str, Path]:
    """:func:`evaluate_model_on_stimuli` for every dataset folder under ``stimuli_root`` (the toolbox's
    ``datasets/`` layout), writing ``<out_root>/<dataset>/<dataset>_<model_name>_session-1.csv``.

    ``out_root`` is a folder of yours (created when missing), not the shared ``raw-data`` folder: read it together
    with the data through ``load_model_vs_human(raw_data, extra_roots=out_root)``. Returns ``dataset -> CSV path``.
    """
    root = Path(stimuli_root)
    if not root.is_dir():
        raise ValueError(f"stimulus folder not found: {root}")
    names = list(datasets) if datasets is not None else sorted(p.name for p in root.iterdir() if p.is_dir())
    if not names:
        raise ValueError(f"{root}: no dataset folders")
    return {n: evaluate_model_on_stimuli(model, root / n, out_root, dataset=n, **kwargs) for n in names}


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "default_preprocess",
    "evaluate_model_on_datasets",
    "evaluate_model_on_stimuli",
    "find_stimuli",
    "parse_stimulus_name",
]
