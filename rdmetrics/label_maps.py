"""Label maps: turn model outputs into the label space that is evaluated.

The main map is ImageNet-1k → the 16 entry-level categories of the model-vs-human benchmark (Geirhos et al. 2018,
"Generalisation in humans and deep neural networks"; Geirhos et al. 2021, "Partial success in closing the gap between
human and machine vision"). As in the benchmark's ``ImageNetProbabilitiesTo16ClassesMapping``, the score of a
category is the **mean** of the softmax probabilities of its ImageNet classes,

.. math::

    s_c(x) = \\frac{1}{|I_c|} \\sum_{i \\in I_c} \\mathrm{softmax}(z(x))_i ,

and the decision is ``argmax_c s_c``. The category → class-index table ships as data
(``rdmetrics/data/imagenet16_categories.json``), written from the published lists in ``bethgelab/model-vs-human``
(``modelvshuman/helper/human_categories.py``). The 16 index sets are disjoint and cover 207 of the 1000 classes;
classes outside every category are ignored (their probability mass is dropped, as in the benchmark).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rdmetrics.utilities.checks import _check_finite, _check_tensor

_DATA_FILE = Path(__file__).resolve().parent / "data" / "imagenet16_categories.json"
NUM_IMAGENET_CLASSES = 1000


@lru_cache(maxsize=1)
def _load_table() -> dict[str, Any]:
    with open(_DATA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def imagenet16_categories() -> list[str]:
    """The 16 model-vs-human categories, in the (alphabetical) order used for the output columns.

    Example:
        >>> from rdmetrics.label_maps import imagenet16_categories
        >>> cats = imagenet16_categories()
        >>> len(cats), cats[:3]
        (16, ['airplane', 'bear', 'bicycle'])
    """
    return sorted(_load_table()["categories"])


def imagenet16_class_indices() -> dict[str, list[int]]:
    """Category → the ImageNet-1k class indices (0–999) whose probabilities are averaged for it.

    Example:
        >>> from rdmetrics.label_maps import imagenet16_class_indices
        >>> idx = imagenet16_class_indices()
        >>> idx["knife"], len(idx["dog"])
        ([499], 109)
    """
    table = _load_table()["categories"]
    return {c: list(table[c]["imagenet_indices"]) for c in imagenet16_categories()}


def imagenet16_wnids() -> dict[str, list[str]]:
    """Category → the WordNet ids listed for it by model-vs-human (some are not ILSVRC-2012 classes).

    Example:
        >>> from rdmetrics.label_maps import imagenet16_wnids
        >>> imagenet16_wnids()["knife"]
        ['n03041632']
    """
    table = _load_table()["categories"]
    return {c: list(table[c]["wnids"]) for c in imagenet16_categories()}


def imagenet16_target_map() -> Tensor:
    """Long tensor ``[1000]``: ImageNet-1k class index → 16-category index, ``-1`` for classes outside all categories.

    Use it to map ImageNet *labels* (targets) into the 16-class space.

    Example:
        >>> from rdmetrics.label_maps import imagenet16_target_map
        >>> m = imagenet16_target_map()
        >>> int(m[404]), int(m[0])  # airliner -> airplane (0); tench -> none
        (0, -1)
    """
    out = torch.full((NUM_IMAGENET_CLASSES,), -1, dtype=torch.long)
    for c, indices in enumerate(imagenet16_class_indices().values()):
        out[indices] = c
    return out


@lru_cache(maxsize=1)
def _averaging_matrix_cpu() -> Tensor:
    """``[1000, 16]`` float64 matrix with ``1/|I_c|`` at ``(i, c)`` for ``i`` in ``I_c``."""
    w = torch.zeros(NUM_IMAGENET_CLASSES, 16, dtype=torch.float64)
    for c, indices in enumerate(imagenet16_class_indices().values()):
        w[indices, c] = 1.0 / len(indices)
    return w


def _looks_like_probabilities(x: Tensor) -> bool:
    if bool((x < 0).any()) or bool((x > 1).any()):
        return False
    sums = x.double().sum(dim=-1)
    return bool(torch.allclose(sums, torch.ones_like(sums), atol=1e-3))


def imagenet_to_16class(
    outputs: Tensor,
    inputs: Literal["auto", "logits", "probs"] = "auto",
) -> Tensor:
    """Map ImageNet-1k logits or probabilities ``[N, 1000]`` to 16-category scores ``[N, 16]``.

    Each category's score is the mean softmax probability of its ImageNet classes (model-vs-human's
    ``ImageNetProbabilitiesTo16ClassesMapping`` with its default ``np.mean`` aggregation). The scores do **not** sum
    to one (mass of the 793 unused classes is dropped, and averaging divides by the set size); take ``argmax`` for
    the decision. Columns follow :func:`imagenet16_categories`.

    Args:
        outputs: ``[N, 1000]`` (or ``[1000]``) floating logits or probabilities.
        inputs: ``"logits"`` applies a softmax first; ``"probs"`` uses the values as given; ``"auto"`` (default)
            treats rows in ``[0, 1]`` that sum to 1 (±1e-3) as probabilities and anything else as logits.

    Returns:
        ``[N, 16]`` (or ``[16]``) tensor of averaged probabilities, same dtype and device as ``outputs``.

    Example:
        >>> import torch
        >>> from rdmetrics.label_maps import imagenet_to_16class, imagenet16_categories
        >>> logits = torch.zeros(1, 1000)
        >>> logits[0, 499] = 20.0  # ImageNet "letter opener" belongs to "knife"
        >>> imagenet16_categories()[int(imagenet_to_16class(logits).argmax())]
        'knife'
    """
    _check_tensor(outputs, "outputs")
    if not outputs.is_floating_point():
        raise TypeError(f"`outputs` must be floating logits or probabilities, got dtype {outputs.dtype}")
    if outputs.shape[-1] != NUM_IMAGENET_CLASSES or outputs.ndim not in (1, 2):
        raise ValueError(f"`outputs` must be [N, 1000] ImageNet-1k scores, got shape {tuple(outputs.shape)}")
    if inputs not in ("auto", "logits", "probs"):
        raise ValueError(f"`inputs` must be 'auto', 'logits' or 'probs', got {inputs!r}")
    _check_finite(outputs, "outputs")
    if inputs == "probs" and (bool((outputs < 0).any()) or bool((outputs > 1).any())):
        raise ValueError("`outputs` declared as probabilities but has values outside [0, 1]")
    is_probs = inputs == "probs" or (inputs == "auto" and _looks_like_probabilities(outputs))
    # softmax in at least float32 (half-precision logits from autocast lose the small probabilities)
    work_dtype = torch.promote_types(outputs.dtype, torch.float32)
    probs = outputs.to(work_dtype) if is_probs else torch.softmax(outputs.to(work_dtype), dim=-1)
    w = _averaging_matrix_cpu().to(device=outputs.device, dtype=work_dtype)
    return (probs @ w).to(outputs.dtype)


class ImageNetTo16Class(nn.Module):
    """Module / callable form of :func:`imagenet_to_16class`, usable as ``label_map`` in sweeps and callbacks.

    Example:
        >>> import torch
        >>> from rdmetrics.label_maps import ImageNetTo16Class
        >>> ImageNetTo16Class()(torch.randn(4, 1000)).shape
        torch.Size([4, 16])
    """

    def __init__(self, inputs: Literal["auto", "logits", "probs"] = "auto") -> None:
        super().__init__()
        self.inputs = inputs
        self.categories = imagenet16_categories()

    def forward(self, outputs: Tensor) -> Tensor:
        return imagenet_to_16class(outputs, inputs=self.inputs)


__all__ = [
    "ImageNetTo16Class",
    "imagenet16_categories",
    "imagenet16_class_indices",
    "imagenet16_target_map",
    "imagenet16_wnids",
    "imagenet_to_16class",
]
