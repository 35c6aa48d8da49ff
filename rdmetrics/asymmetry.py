"""``ConfusionAsymmetry``: a torchmetrics Metric for directional-confusion asymmetry per condition."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.asymmetry import PriorType, confusion_asymmetry
from rdmetrics.functional.rate_distortion import _condition_index
from rdmetrics.utilities.checks import (
    _check_positive_int,
    _check_same_num_samples,
    _check_tensor,
    _format_predictions,
)
from rdmetrics.utilities.forward import BatchValueForwardMixin


class ConfusionAsymmetry(BatchValueForwardMixin, Metric):
    r"""Directional-confusion asymmetry, top-1 error share and effective number of wrong answers per condition.

    Accumulates one confusion matrix per condition (a ``[L, C, K]`` long state summed across processes; ``K = C`` or
    ``C + 1`` with an abstain column) and returns :func:`rdmetrics.functional.confusion_asymmetry` of it:
    ``asymmetry = Σ_{x<y} |E[x,y] − E[y,x]| / ε`` (0 = symmetric errors, 1 = every confusion one-way),
    ``top1_error_share``, ``effective_wrong_answers``, ``asymmetric_pairs`` and the exact binomial null
    ``asymmetry_null`` (the asymmetry a symmetric observer shows at this sample size) with
    ``asymmetry_excess = asymmetry − asymmetry_null``; see the functional for the definitions (rdmetrics' documented
    reconstruction of the measures of arXiv 2604.21909's follow-up).

    Args:
        num_classes: number of true classes ``C`` (>= 2).
        conditions: number of conditions ``L`` (>= 1; default 1: one matrix, ``update(preds, target)``).
        abstain: predictions have an extra last column / label ``C`` meaning "no answer" (not a confusion).
        prior: ``"uniform"`` (default), ``"empirical"`` or a ``[C]`` tensor of class weights.
        null: also compute the binomial null and the excess.
        n_bootstrap: bootstrap replicates for intervals (0 = none).
        ci: confidence level of the intervals.
        seed: bootstrap seed.
        ci_method: interval type (``"basic"`` default, or ``"percentile"``).
        empty_rows: ``"raise"`` (default) when a class has no samples in a condition, or ``"drop"`` it from that
            condition's prior (a condition without any sample then gives NaN).
        validate_args: check inputs in ``update``.

    ``update(preds, target, condition=0)``: ``preds`` logits / probabilities ``[N, K]`` (argmax) or labels ``[N]``;
    ``target`` labels ``[N]``; ``condition`` an int or a per-sample integer tensor ``[N]`` in ``[0, L)``.

    ``compute()`` returns the functional's dict (each value ``[L]``, or a scalar when ``conditions == 1``) plus
    ``confmat``.

    Example:
        >>> import torch
        >>> from rdmetrics import ConfusionAsymmetry
        >>> metric = ConfusionAsymmetry(num_classes=3)
        >>> target = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
        >>> preds = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 0])  # 0→1, 1→2, 2→0: one-way confusions
        >>> metric.update(preds, target)
        >>> out = metric.compute()
        >>> float(out["asymmetry"]), float(out["top1_error_share"])
        (1.0, 1.0)
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    confmat: Tensor

    def __init__(
        self,
        num_classes: int,
        conditions: int = 1,
        abstain: bool = False,
        prior: PriorType = "uniform",
        null: bool = True,
        n_bootstrap: int = 0,
        ci: float = 0.95,
        seed: int = 0,
        ci_method: str = "basic",
        empty_rows: str = "raise",
        validate_args: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int(num_classes, "num_classes", minimum=2)
        _check_positive_int(conditions, "conditions", minimum=1)
        if not isinstance(prior, Tensor) and prior not in ("uniform", "empirical"):
            raise ValueError(f"`prior` must be 'uniform', 'empirical' or a tensor, got {prior!r}")
        if isinstance(prior, Tensor) and prior.shape != (num_classes,):
            raise ValueError(f"`prior` must have shape ({num_classes},), got {tuple(prior.shape)}")
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
            raise ValueError(f"`n_bootstrap` must be an integer >= 0, got {n_bootstrap!r}")
        if not 0.0 < float(ci) < 1.0:
            raise ValueError(f"`ci` must lie in (0, 1), got {ci!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
        self.num_classes = num_classes
        self.num_conditions = conditions
        self.abstain = bool(abstain)
        self.num_cols = num_classes + int(self.abstain)
        self.prior = prior
        self.null = bool(null)
        self.n_bootstrap = n_bootstrap
        self.ci = float(ci)
        self.seed = seed
        self.ci_method = ci_method
        if empty_rows not in ("raise", "drop"):
            raise ValueError(f"`empty_rows` must be 'raise' or 'drop', got {empty_rows!r}")
        self.empty_rows = empty_rows
        self.validate_args = validate_args
        self.add_state(
            "confmat", torch.zeros(conditions, num_classes, self.num_cols, dtype=torch.long), dist_reduce_fx="sum"
        )

    def update(self, preds: Tensor, target: Tensor, condition: int | Tensor = 0) -> None:
        """Add a batch of predictions for one condition (int) or per-sample conditions (``[N]`` tensor)."""
        if self.validate_args:
            labels = _format_predictions(preds, self.num_cols, "preds")
            target = _format_predictions(target, self.num_classes, "target")
            _check_same_num_samples(labels, target, "preds", "target")
        else:
            _check_tensor(preds, "preds")
            labels = preds.argmax(dim=1) if preds.is_floating_point() else preds.long()
            target = target.long()
        cond = _condition_index(condition, labels.shape[0], self.num_conditions, self.validate_args)
        flat = target * self.num_cols + labels
        if isinstance(cond, Tensor):
            flat = flat + cond * (self.num_classes * self.num_cols)
            self.confmat += torch.bincount(flat, minlength=self.confmat.numel()).view_as(self.confmat)
        else:
            self.confmat[cond] += torch.bincount(flat, minlength=self.confmat[cond].numel()).view_as(self.confmat[cond])

    def compute(self) -> dict[str, Tensor]:
        """The functional's statistics per condition (see the class docstring)."""
        if int(self.confmat.sum()) == 0:
            raise ValueError("ConfusionAsymmetry: empty state, call update() before compute()")
        cm = self.confmat[0] if self.num_conditions == 1 else self.confmat
        out = confusion_asymmetry(
            cm,
            self.prior,
            abstain=self.abstain,
            null=self.null,
            n_bootstrap=self.n_bootstrap,
            ci=self.ci,
            seed=self.seed,
            ci_method=self.ci_method,
            empty_rows=self.empty_rows,  # type: ignore[arg-type]
        )
        out["confmat"] = cm.clone()
        return out


__all__ = ["ConfusionAsymmetry"]
