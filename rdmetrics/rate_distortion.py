"""``RateDistortionSignature``: a torchmetrics Metric accumulating per-condition confusion matrices."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.information import CorrectionType, PriorType
from rdmetrics.functional.signatures import _METHODS, MethodType, rate_distortion_signature
from rdmetrics.utilities.checks import (
    _check_finite,
    _check_positive_int,
    _check_same_num_samples,
    _check_tensor,
    _format_predictions,
)


class RateDistortionSignature(Metric):
    r"""Rate–distortion signature (slope β, curvature κ, AUC) of a classifier across perturbation conditions.

    Accumulates one confusion matrix per condition in a ``[L, C, K]`` long state (``K = C``, or ``C + 1`` with an
    abstain column; summed across processes like ``MulticlassConfusionMatrix``). ``compute()`` turns each matrix
    into an operating point ``(D_ℓ, R_ℓ)`` — ``D`` = prior-weighted error (abstain counts as error), ``R = I(X;Y)``
    in bits — fits a frontier through the points and reports

    .. math::
        \beta = -\hat R'(x^*),\quad \kappa = \frac{\hat R''(x^*)}{(1+\hat R'(x^*)^2)^{3/2}},\quad
        \mathrm{AUC} = \frac{\overline{\hat R}}{\log_2 C}

    (see :func:`rdmetrics.functional.rate_distortion_signature` for every definition; they are rdmetrics'
    documented reconstructions of the paper's signatures).

    Args:
        num_classes: number of true classes ``C`` (>= 2).
        conditions: number of conditions ``L`` (severities ``0..L-1``) or the list of ``L`` severity values; condition
            index ``ℓ`` passed to ``update`` maps to ``conditions[ℓ]``. At least 3 conditions.
        abstain: predictions have an extra last column / label ``C`` meaning "no answer" (counted as an error).
        prior: ``"uniform"`` (default), ``"empirical"`` or a ``[C]`` tensor of class weights.
        correction: rate estimator for the frontier: ``"miller_madow"`` (default) or ``"none"`` (plug-in; both are
            returned).
        method: frontier fit: ``"quadratic"``, ``"exponential"``, ``"pchip"`` or ``"hull"``.
        at: reference point ``x*`` for β and κ (default: midpoint of the observed range).
        use_severity_axis: use the severity values as ``x`` instead of the distortion ``D``.
        n_bootstrap: bootstrap replicates for confidence intervals (0 = none).
        ci: confidence level of the intervals.
        seed: bootstrap seed (the result is deterministic).
        ci_method: ``"basic"`` (default; reverse percentile: corrects the bootstrap shift of the biased MI
            estimate) or ``"percentile"`` (see :func:`~rdmetrics.functional.rate_distortion_signature`).
        strict: ``False`` turns an undefined frontier into NaN ``beta`` / ``kappa`` / ``auc`` (and drops classes with
            no samples in a condition from its prior, with a warning) instead of raising; for monitoring during
            training (the PerturbationSweep callback uses it).
        validate_args: check inputs in ``update`` (NaN/inf, label ranges, shapes, condition range).

    ``update(preds, target, condition)``:
        ``preds``: logits / probabilities ``[N, K]`` (argmax is taken) or integer labels ``[N]`` in ``[0, K)``;
        ``target``: labels ``[N]`` in ``[0, C)``; ``condition``: an int or a per-sample integer tensor ``[N]`` in
        ``[0, L)``.

    ``compute()`` returns the dict of :func:`~rdmetrics.functional.rate_distortion_signature` plus ``confmat``.

    Sweeps inside a ``MetricCollection``: the state depends on ``condition``, so create the collection with
    ``compute_groups=False`` (otherwise metrics whose states look equal after the first update may be merged), e.g.
    ``MetricCollection({"rd": RateDistortionSignature(16, [0, .1, .2, .4])}, compute_groups=False)`` and call
    ``collection.update(preds, target, condition=level)`` (torchmetrics passes ``condition`` only to the metrics
    whose ``update`` accepts it). ``collection.compute()`` flattens this metric's dict into top-level keys
    (``beta``, ``kappa``, ...): give the collection a ``prefix`` / ``postfix`` to keep several systems apart.

    Example:
        >>> import torch
        >>> from rdmetrics import RateDistortionSignature
        >>> g = torch.Generator().manual_seed(0)
        >>> metric = RateDistortionSignature(num_classes=4, conditions=[0.0, 0.5, 1.0, 2.0], correction="none")
        >>> target = torch.arange(4).repeat(100)
        >>> for level, noise in enumerate([0.1, 0.3, 0.5, 0.7]):
        ...     flip = torch.rand(400, generator=g) < noise
        ...     preds = torch.where(flip, torch.randint(0, 4, (400,), generator=g), target)
        ...     metric.update(preds, target, condition=level)
        >>> out = metric.compute()
        >>> out["rate"].shape, bool(out["beta"] > 0)
        (torch.Size([4]), True)
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    plot_lower_bound = 0.0

    confmat: Tensor

    def __init__(
        self,
        num_classes: int,
        conditions: int | Sequence[float],
        abstain: bool = False,
        prior: PriorType = "uniform",
        correction: CorrectionType = "miller_madow",
        method: MethodType = "quadratic",
        at: float | None = None,
        use_severity_axis: bool = False,
        n_bootstrap: int = 0,
        ci: float = 0.95,
        seed: int = 0,
        ci_method: Literal["percentile", "basic"] = "basic",
        strict: bool = True,
        validate_args: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int(num_classes, "num_classes", minimum=2)
        if isinstance(conditions, bool):
            raise TypeError("`conditions` must be an int or a sequence of severity values")
        if isinstance(conditions, int):
            _check_positive_int(conditions, "conditions", minimum=3)
            severities = torch.arange(conditions, dtype=torch.float64)
        else:
            if isinstance(conditions, Tensor):
                severities = conditions.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
            else:
                severities = torch.tensor([float(v) for v in conditions], dtype=torch.float64)
            _check_finite(severities, "conditions")
            if severities.numel() < 3:
                raise ValueError(f"a frontier needs at least 3 conditions, got {severities.numel()}")
        if not isinstance(prior, Tensor) and prior not in ("uniform", "empirical"):
            raise ValueError(f"`prior` must be 'uniform', 'empirical' or a tensor, got {prior!r}")
        if isinstance(prior, Tensor) and prior.shape != (num_classes,):
            raise ValueError(f"`prior` must have shape ({num_classes},), got {tuple(prior.shape)}")
        if correction not in ("none", "miller_madow"):
            raise ValueError(f"`correction` must be 'none' or 'miller_madow', got {correction!r}")
        if method not in _METHODS:
            raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}")
        if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
            raise ValueError(f"`n_bootstrap` must be an integer >= 0, got {n_bootstrap!r}")
        if not 0.0 < float(ci) < 1.0:
            raise ValueError(f"`ci` must lie in (0, 1), got {ci!r}")
        self.num_classes = num_classes
        self.abstain = bool(abstain)
        self.num_cols = num_classes + int(self.abstain)
        self.num_conditions = int(severities.numel())
        self.severities = severities
        self.prior = prior
        self.correction = correction
        self.method = method
        self.at = at
        self.use_severity_axis = bool(use_severity_axis)
        self.n_bootstrap = n_bootstrap
        self.ci = float(ci)
        self.seed = seed
        if ci_method not in ("basic", "percentile"):
            raise ValueError(f"`ci_method` must be 'basic' or 'percentile', got {ci_method!r}")
        self.ci_method = ci_method
        self.strict = bool(strict)
        self.validate_args = validate_args
        self.add_state(
            "confmat",
            torch.zeros(self.num_conditions, num_classes, self.num_cols, dtype=torch.long),
            dist_reduce_fx="sum",
        )

    def _condition_index(self, condition: int | Tensor, num_samples: int) -> Tensor | int:
        if isinstance(condition, Tensor):
            if condition.is_floating_point() or condition.is_complex() or condition.dtype == torch.bool:
                raise ValueError(f"`condition` must hold integer condition indices, got dtype {condition.dtype}")
            if condition.ndim == 0:
                condition = int(condition)
            else:
                if self.validate_args:
                    if condition.ndim != 1 or condition.shape[0] != num_samples:
                        raise ValueError(
                            f"`condition` must be an int or a [N] tensor with N = {num_samples}, got shape"
                            f" {tuple(condition.shape)}"
                        )
                    if condition.numel():
                        lo, hi = (int(v) for v in torch.aminmax(condition))
                        if lo < 0 or hi >= self.num_conditions:
                            raise ValueError(
                                f"`condition` out of range [0, {self.num_conditions - 1}]: min {lo}, max {hi}"
                            )
                return condition.long()
        if isinstance(condition, bool) or not isinstance(condition, int):
            raise TypeError(f"`condition` must be an int or an integer tensor, got {type(condition).__name__}")
        if not 0 <= condition < self.num_conditions:
            raise ValueError(f"`condition`={condition} out of range [0, {self.num_conditions - 1}]")
        return condition

    def update(self, preds: Tensor, target: Tensor, condition: int | Tensor) -> None:
        """Add a batch of predictions for one condition (int) or per-sample conditions (``[N]`` tensor)."""
        if self.validate_args:
            labels = _format_predictions(preds, self.num_cols, "preds")
            target = _format_predictions(target, self.num_classes, "target")
            _check_same_num_samples(labels, target, "preds", "target")
        else:
            _check_tensor(preds, "preds")
            labels = preds.argmax(dim=1) if preds.is_floating_point() else preds.long()
            target = target.long()
        cond = self._condition_index(condition, labels.shape[0])
        block = self.num_classes * self.num_cols
        flat = torch.add(labels, target, alpha=self.num_cols)  # target * K + pred
        if isinstance(cond, Tensor):
            flat.add_(cond, alpha=block)  # condition * C * K + target * K + pred
            target_state = self.confmat.view(-1)
        else:
            target_state = self.confmat[cond].view(-1)
        if target_state.numel() <= 8 * flat.numel():
            # one bincount over all bins (cheap when the state is small relative to the batch)
            target_state += torch.bincount(flat, minlength=target_state.numel())
        else:
            # large state (many classes / conditions): O(N) scatter instead of an O(L*C*K) histogram
            target_state.index_add_(0, flat, torch.ones_like(flat))

    def compute(self) -> dict[str, Tensor]:
        """Per-condition rates/distortions and the frontier signatures (see the class docstring)."""
        if int(self.confmat.sum()) == 0:
            raise ValueError("RateDistortionSignature: empty state, call update() before compute()")
        out = rate_distortion_signature(
            self.confmat,
            conditions=self.severities,
            prior=self.prior,
            correction=self.correction,
            method=self.method,
            at=self.at,
            axis_values=self.severities if self.use_severity_axis else None,
            n_bootstrap=self.n_bootstrap,
            ci=self.ci,
            seed=self.seed,
            ci_method=self.ci_method,
            strict=self.strict,
        )
        out["confmat"] = self.confmat.clone()
        return out

    def plot(self, val: dict[str, Tensor] | None = None, ax: Any = None) -> tuple[Any, Any]:
        """Draw the operating points, the fitted frontier and (on the D axis) the Hamming bound.

        Args:
            val: an output of ``compute()`` (computed now when None).
            ax: matplotlib axes to draw into (a new figure when None).

        Returns:
            ``(fig, ax)``.
        """
        from rdmetrics.functional.rate_distortion import hamming_rd_bound
        from rdmetrics.functional.signatures import _frontier_curve
        from rdmetrics.utilities.plot import _get_fig_ax

        val = self.compute() if val is None else val
        fig, ax = _get_fig_ax(ax)
        rate = val["rate"].detach().cpu()
        x = self.severities if self.use_severity_axis else val["distortion"].detach().cpu()
        grid, curve = _frontier_curve(x, rate, self.method)
        ax.plot(grid.numpy(), curve.numpy(), "-", label=f"{self.method} frontier")
        ax.plot(x.numpy(), rate.numpy(), "o", label=f"rate ({self.correction})")
        if not self.use_severity_axis:
            d = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
            ax.plot(d.numpy(), hamming_rd_bound(d, self.num_classes).numpy(), "--", color="gray", label="Hamming bound")
            ax.set_xlabel("distortion D (error rate)")
        else:
            ax.set_xlabel("severity")
        ax.set_ylabel("rate I(X;Y) [bits]")
        ax.set_ylim(0.0, math.log2(self.num_classes) * 1.05)
        ax.set_title(f"β={float(val['beta']):.3g}, κ={float(val['kappa']):.3g}, AUC={float(val['auc']):.3g}")
        ax.legend(loc="best", fontsize="small")
        return fig, ax


__all__ = ["RateDistortionSignature"]
