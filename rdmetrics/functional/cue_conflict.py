r"""Shape bias on cue-conflict stimuli (Geirhos et al., ICLR 2019), as ``bethgelab/model-vs-human`` computes it.

(The module is named ``cue_conflict`` rather than ``shape_bias`` so that importing it never shadows the function
``rdmetrics.functional.shape_bias`` on the package.)

A cue-conflict stimulus has the shape of one class and the texture of another. Over ``N`` trials, with ``S`` the
trials whose shape and texture class differ (stimuli whose two classes coincide carry no conflict),

.. math::

    f_{shape} = \frac{\#\{i \in S : \hat y_i = \text{shape}_i\}}{N}, \qquad
    f_{texture} = \frac{\#\{i \in S : \hat y_i = \text{texture}_i\}}{N}, \qquad
    \text{shape bias} = \frac{f_{shape}}{f_{shape} + f_{texture}} .

The fractions are of *all* trials (the toolbox's ``ShapeBias.analysis`` divides by ``len(df)`` before removing the
no-conflict rows); the shape bias does not depend on that denominator. Per class, the same is computed over the trials
whose *shape* class is that class (the toolbox groups by ``category``, the shape class). Answers that are neither
shape nor texture (other classes, or the abstain label) count in the denominator only.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor

from rdmetrics.utilities.checks import (
    _check_labels,
    _check_positive_int,
    _check_same_num_samples,
    _check_tensor,
    _format_predictions,
)

#: Columns of the per-class count state: all trials, cue-conflict trials, shape decisions, texture decisions.
COUNT_COLUMNS = ("trials", "conflict", "shape", "texture")


def _shape_bias_arg_validation(num_classes: object, abstain: object) -> tuple[int, bool]:
    num_classes = _check_positive_int(num_classes, "num_classes", minimum=2)
    if not isinstance(abstain, bool):
        raise ValueError(f"`abstain` must be a bool, got {abstain!r}")
    return num_classes, abstain


def _shape_bias_update(
    preds: Tensor, target: Tensor, texture: Tensor, num_classes: int, abstain: bool = False
) -> Tensor:
    """Long counts ``[C, 4]`` of one batch, per shape class: trials, cue-conflict trials, shape decisions and texture
    decisions (the last two on cue-conflict trials only)."""
    num_cols = num_classes + int(abstain)
    labels = _format_predictions(_check_tensor(preds, "preds"), num_cols, "preds")
    for name, t in (("target", target), ("texture", texture)):
        if _check_tensor(t, name).is_floating_point() or t.ndim != 1:
            raise ValueError(f"`{name}` must be a 1-D tensor of integer class labels, got {t.dtype} {tuple(t.shape)}")
    shape = _check_labels(target, num_classes, "target").to(labels.device)
    tex = _check_labels(texture, num_classes, "texture").to(labels.device)
    _check_same_num_samples(labels, shape, "preds", "target")
    _check_same_num_samples(labels, tex, "preds", "texture")
    conflict = shape != tex
    cols = torch.stack(
        [
            torch.ones_like(conflict),
            conflict,
            conflict & (labels == shape),
            conflict & (labels == tex),
        ],
        dim=1,
    ).long()
    out = torch.zeros(num_classes, 4, dtype=torch.long, device=labels.device)
    return out.index_add_(0, shape, cols)


def _ratio(num: Tensor, den: Tensor) -> Tensor:
    num, den = num.double(), den.double()
    return torch.where(den > 0, num / den.clamp_min(1), torch.full_like(num, float("nan")))


def _shape_bias_compute(counts: Tensor, per_class: bool = False) -> dict[str, Tensor]:
    """Shape bias and the shape / texture fractions (float64) from the ``[C, 4]`` counts."""
    total = counts.sum(0)
    if int(total[0]) == 0:
        raise ValueError("shape bias: no trials seen (empty state); call update() first")
    decided = total[2] + total[3]
    if int(decided) == 0:
        warnings.warn(
            "shape bias is undefined: no shape or texture decision on any cue-conflict trial; returning NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    out = {
        "shape_bias": _ratio(total[2], decided),
        "fraction_shape": _ratio(total[2], total[0]),
        "fraction_texture": _ratio(total[3], total[0]),
    }
    if per_class:
        out["shape_bias_per_class"] = _ratio(counts[:, 2], counts[:, 2] + counts[:, 3])
        out["fraction_shape_per_class"] = _ratio(counts[:, 2], counts[:, 0])
        out["fraction_texture_per_class"] = _ratio(counts[:, 3], counts[:, 0])
    return out


def shape_bias(
    preds: Tensor,
    target: Tensor,
    texture: Tensor,
    num_classes: int,
    abstain: bool = False,
    per_class: bool = False,
) -> dict[str, Tensor]:
    r"""Shape bias of a classifier on cue-conflict stimuli (Geirhos et al., ICLR 2019; model-vs-human toolbox).

    .. math::

        \text{shape bias} = \frac{\#\text{shape decisions}}{\#\text{shape decisions} + \#\text{texture decisions}}

    counting decisions only on stimuli whose shape and texture class differ; ``fraction_shape`` and
    ``fraction_texture`` divide the same counts by *all* trials (as the toolbox does). See the module docstring.

    Args:
        preds: ``[N, C]`` scores (argmax taken; ``[N, C + 1]`` with ``abstain``) or ``[N]`` integer labels.
        target: ``[N]`` shape class of each stimulus.
        texture: ``[N]`` texture class of each stimulus.
        num_classes: number of classes ``C``.
        abstain: predictions may use the extra label ``C`` for "no answer" (a human ``na``): it is neither a shape
            nor a texture decision but counts as a trial, like the RD metric's ``abstain``.
        per_class: also return ``shape_bias_per_class``, ``fraction_shape_per_class`` and
            ``fraction_texture_per_class`` (``[C]``, grouped by shape class; NaN for a class without trials or
            decisions).

    Returns:
        dict of float64 tensors ``shape_bias``, ``fraction_shape``, ``fraction_texture`` (scalars), plus the per-class
        ``[C]`` entries with ``per_class``. ``shape_bias`` is NaN (with a warning) when no trial was decided by shape
        or texture.

    Example:
        >>> import torch
        >>> target = torch.tensor([0, 0, 1, 1, 2])   # shape classes
        >>> texture = torch.tensor([1, 2, 0, 1, 0])  # texture classes (trial 3 has no conflict)
        >>> preds = torch.tensor([0, 2, 0, 1, 2])    # shape, texture, texture, (no conflict), shape
        >>> {k: round(float(v), 3) for k, v in shape_bias(preds, target, texture, num_classes=3).items()}
        {'shape_bias': 0.5, 'fraction_shape': 0.4, 'fraction_texture': 0.4}
    """
    num_classes, abstain = _shape_bias_arg_validation(num_classes, abstain)
    return _shape_bias_compute(_shape_bias_update(preds, target, texture, num_classes, abstain), per_class)


__all__ = ["shape_bias"]
