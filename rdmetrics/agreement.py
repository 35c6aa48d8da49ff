"""Agreement between two classifiers as torchmetrics ``Metric``s (count states, summed across processes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.agreement import (
    _error_consistency_compute,
    _error_consistency_update,
    _prediction_agreement_compute,
    _prediction_agreement_update,
)
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.forward import BatchValueForwardMixin


class PredictionAgreement(BatchValueForwardMixin, Metric):
    r"""Top-1 agreement, Cohen's kappa and min-max normalised disagreement between two classifiers.

    .. math::

        \text{agreement} = \frac1N \sum_i 1[\hat y^a_i = \hat y^b_i], \qquad
        \kappa = \frac{p_o - p_e}{1 - p_e}, \qquad
        \tilde d = \frac{(1 - p_o) - |e_a - e_b|}{\min(e_a + e_b, 1) - |e_a - e_b|}

    See :func:`rdmetrics.functional.prediction_agreement` for the meaning of each output. States: the ``C x C``
    confusion matrix of model a's against model b's labels plus three target counts, all summed across processes.

    Args:
        num_classes: number of classes ``C``.
        abstain: predictions may abstain (label ``C`` or a last score column, e.g. a human ``na`` answer): one more
            response category for agreement and kappa, always an error against ``target`` (as in
            :class:`~rdmetrics.RateDistortionSignature`).
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    ``update(preds_a, preds_b, target=None)`` takes ``[N, C]`` scores or ``[N]`` labels for each model; pass
    ``target`` on every update (or never) to get ``normalized_disagreement``. ``compute()`` returns a dict of float64
    scalars ``agreement``, ``cohen_kappa`` (and ``normalized_disagreement``). ``metric(preds_a, preds_b, target)``
    (``forward``) adds the batch and returns the same dict for the batch alone (``None`` for an empty batch); an
    empty batch is a no-op.

    Example:
        >>> import torch
        >>> metric = PredictionAgreement(num_classes=3)
        >>> metric.update(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]))
        >>> metric.update(torch.tensor([2, 1, 0]), torch.tensor([2, 1, 2]))
        >>> {k: round(float(v), 4) for k, v in metric.compute().items()}
        {'agreement': 0.6667, 'cohen_kappa': 0.5}
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    confmat: Tensor
    n_target: Tensor
    correct_a: Tensor
    correct_b: Tensor

    def __init__(self, num_classes: int, abstain: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = _check_positive_int(num_classes, "num_classes")
        if not isinstance(abstain, bool):
            raise TypeError(f"`abstain` must be a bool, got {type(abstain).__name__}")
        self.abstain = abstain
        k = num_classes + int(abstain)
        self.add_state("confmat", torch.zeros(k, k, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("n_target", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("correct_a", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("correct_b", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds_a: Tensor, preds_b: Tensor, target: Tensor | None = None) -> None:
        """Add a batch of paired predictions (and optionally the true labels)."""
        confmat, n_t, c_a, c_b = _prediction_agreement_update(
            preds_a, preds_b, self.num_classes, target, abstain=self.abstain
        )
        self.confmat += confmat.to(self.confmat.device)
        self.n_target += n_t.to(self.n_target.device)
        self.correct_a += c_a.to(self.correct_a.device)
        self.correct_b += c_b.to(self.correct_b.device)

    def compute(self) -> dict[str, Tensor]:
        """Agreement statistics of everything seen so far."""
        return _prediction_agreement_compute(self.confmat, self.n_target, self.correct_a, self.correct_b)

    def plot(self, val: dict[str, Tensor] | Sequence[dict[str, Tensor]] | None = None, ax: Any = None) -> Any:
        """Plot the outputs (one value, or a sequence of values over time). Needs matplotlib.

        Example:
            >>> import torch
            >>> metric = PredictionAgreement(num_classes=3)
            >>> metric.update(torch.tensor([0, 1, 2, 1]), torch.tensor([0, 1, 1, 1]))
            >>> fig, ax = metric.plot()
        """
        return self._plot(val, ax)


class ErrorConsistency(BatchValueForwardMixin, Metric):
    r"""Error consistency of two classifiers (Geirhos, Meding & Wichmann, NeurIPS 2020).

    .. math::

        c_{obs} = \frac1N \sum_i 1[\text{correct}^a_i = \text{correct}^b_i], \qquad
        c_{exp} = p_a p_b + (1 - p_a)(1 - p_b), \qquad
        \kappa_{err} = \frac{c_{obs} - c_{exp}}{1 - c_{exp}} \;(\kappa_{err} = 1 \text{ if } c_{obs} = 1)

    See :func:`rdmetrics.functional.error_consistency`. State: the 2x2 table of (a correct, b correct) counts,
    summed across processes; the outputs are then exact ratios of integers.

    Args:
        num_classes: optional number of classes (range-checks labels; scores must then have ``C`` columns).
        abstain: predictions may abstain (label ``num_classes`` or a last score column, e.g. a human ``na``
            answer), counted as an error as in :class:`~rdmetrics.RateDistortionSignature`. Needs ``num_classes``.
        kwargs: forwarded to :class:`torchmetrics.Metric`.

    ``update(preds_a, preds_b, target)``; ``compute()`` returns a dict of float64 scalars ``observed``,
    ``expected`` and ``kappa``. ``metric(preds_a, preds_b, target)`` (``forward``) adds the batch and returns the
    same dict for the batch alone (``None`` for an empty batch); an empty batch is a no-op.

    Example:
        >>> import torch
        >>> metric = ErrorConsistency()
        >>> target = torch.tensor([0, 1, 2, 3])
        >>> metric.update(torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 2, 1]), target)
        >>> metric.update(torch.tensor([0, 1, 0, 3]), torch.tensor([0, 0, 2, 3]), target)
        >>> {k: round(float(v), 4) for k, v in metric.compute().items()}
        {'observed': 0.75, 'expected': 0.625, 'kappa': 0.3333}
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    plot_lower_bound = -1.0
    plot_upper_bound = 1.0

    table: Tensor

    def __init__(self, num_classes: int | None = None, abstain: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = None if num_classes is None else _check_positive_int(num_classes, "num_classes")
        if not isinstance(abstain, bool):
            raise TypeError(f"`abstain` must be a bool, got {type(abstain).__name__}")
        if abstain and num_classes is None:
            raise ValueError("`abstain=True` needs `num_classes` (the abstain label is `num_classes`)")
        self.abstain = abstain
        self.add_state("table", torch.zeros(2, 2, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds_a: Tensor, preds_b: Tensor, target: Tensor) -> None:
        """Add a batch of paired predictions with their true labels."""
        table = _error_consistency_update(preds_a, preds_b, target, self.num_classes, self.abstain)
        self.table += table.to(self.table.device)

    def compute(self) -> dict[str, Tensor]:
        """Observed and expected consistency and error-consistency kappa of everything seen so far."""
        return _error_consistency_compute(self.table)

    def plot(self, val: dict[str, Tensor] | Sequence[dict[str, Tensor]] | None = None, ax: Any = None) -> Any:
        """Plot the outputs (one value, or a sequence of values over time). Needs matplotlib.

        Example:
            >>> import torch
            >>> metric = ErrorConsistency()
            >>> metric.update(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2]))
            >>> fig, ax = metric.plot()
        """
        return self._plot(val, ax)


__all__ = ["ErrorConsistency", "PredictionAgreement"]
