"""Shape bias on cue-conflict data as a torchmetrics ``Metric`` (count state, summed across processes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.cue_conflict import _shape_bias_arg_validation, _shape_bias_compute, _shape_bias_update
from rdmetrics.utilities.forward import BatchValueForwardMixin


class ShapeBias(BatchValueForwardMixin, Metric):
    r"""Shape bias of a classifier on cue-conflict stimuli (Geirhos et al., ICLR 2019; model-vs-human toolbox).

    .. math::

        \text{shape bias} = \frac{\#\text{shape decisions}}{\#\text{shape decisions} + \#\text{texture decisions}}

    over the stimuli whose shape and texture class differ; ``fraction_shape`` / ``fraction_texture`` divide the
    same counts by all trials seen. See :func:`rdmetrics.functional.shape_bias`. State: per shape class the counts of
    trials, cue-conflict trials, shape and texture decisions (``[C, 4]`` long, summed across processes), so the result
    is exact and independent of batching.

    Args:
        num_classes: number of classes ``C`` (16 for the model-vs-human categories).
        abstain: predictions may use the extra label ``C`` (or an extra score column) for "no answer"; it counts as a
            trial but as neither a shape nor a texture decision.
        per_class: also return the ``[C]`` per-shape-class values.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    ``update(preds, target, texture)``: ``preds`` ``[N, C]`` scores or ``[N]`` labels, ``target`` the shape class,
    ``texture`` the texture class of each stimulus. ``compute()`` returns a dict of float64 tensors ``shape_bias``,
    ``fraction_shape``, ``fraction_texture`` (and ``*_per_class``).

    Example:
        >>> import torch
        >>> metric = ShapeBias(num_classes=3)
        >>> metric.update(torch.tensor([0, 2]), target=torch.tensor([0, 0]), texture=torch.tensor([1, 2]))
        >>> metric.update(torch.tensor([0, 1, 2]), target=torch.tensor([1, 1, 2]), texture=torch.tensor([0, 1, 0]))
        >>> {k: round(float(v), 3) for k, v in metric.compute().items()}
        {'shape_bias': 0.5, 'fraction_shape': 0.4, 'fraction_texture': 0.4}
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    counts: Tensor

    def __init__(self, num_classes: int, abstain: bool = False, per_class: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes, self.abstain = _shape_bias_arg_validation(num_classes, abstain)
        self.per_class = bool(per_class)
        self.add_state("counts", torch.zeros(self.num_classes, 4, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor, texture: Tensor) -> None:
        """Add a batch of decisions on cue-conflict stimuli (shape class ``target``, texture class ``texture``)."""
        self.counts += _shape_bias_update(preds, target, texture, self.num_classes, self.abstain).to(self.counts.device)

    def compute(self) -> dict[str, Tensor]:
        """Shape bias and shape / texture decision fractions of everything seen so far."""
        return _shape_bias_compute(self.counts, self.per_class)

    def plot(self, val: dict[str, Tensor] | Sequence[dict[str, Tensor]] | None = None, ax: Any = None) -> Any:
        """Plot the scalar outputs (one value, or a sequence of values over time). Needs matplotlib.

        Example:
            >>> import torch
            >>> metric = ShapeBias(num_classes=3)
            >>> metric.update(torch.tensor([0, 1]), torch.tensor([0, 0]), torch.tensor([1, 1]))
            >>> fig, ax = metric.plot()
        """
        val = val if val is not None else self.compute()
        if isinstance(val, dict):
            val = {k: v for k, v in val.items() if v.ndim == 0}
        else:
            val = [{k: v for k, v in x.items() if v.ndim == 0} for x in val]
        return self._plot(val, ax)


__all__ = ["ShapeBias"]
