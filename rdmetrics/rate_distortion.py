"""``RateDistortionSignature``: a torchmetrics Metric accumulating per-condition confusion matrices."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric

from rdmetrics.functional.information import CorrectionType, PriorType
from rdmetrics.functional.rate_distortion import (
    DEFAULT_CI_METHOD,
    DEFAULT_CORRECTION,
    DEFAULT_N_NULL,
    AxisType,
    _condition_values,
    _rate_distortion_signature_arg_validation,
    _rate_distortion_signature_compute,
    _rate_distortion_signature_update,
)
from rdmetrics.functional.signatures import MethodType
from rdmetrics.utilities.checks import _check_positive_int


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
        conditions: number of conditions ``L`` (severities ``0..L-1``) or the list of ``L`` condition labels /
            severity values (numbers, ``inf`` or strings; see ``axis``); condition index ``ℓ`` passed to ``update``
            maps to ``conditions[ℓ]``. At least 3 conditions.
        abstain: predictions have an extra last column / label ``C`` meaning "no answer" (counted as an error).
        prior: ``"uniform"`` (default), ``"empirical"`` or a ``[C]`` tensor of class weights.
        correction: rate estimator for the frontier: ``"panzeri_treves"`` (default, chosen by the calibration study
            ``benchmarks/rd_calibration.py``), ``"miller_madow"``, ``"none"`` = plug-in (always also returned as
            ``rate_plugin``), ``"jackknife"``, ``"quadratic_extrapolation"``, ``"shuffle"``; see
            :func:`~rdmetrics.functional.mutual_information`.
        method: frontier fit: ``"quadratic"``, ``"exponential"``, ``"pchip"`` or ``"hull"``.
        at: reference point ``x*`` for β and κ, in x units (default: midpoint of the observed range).
        use_severity_axis: deprecated alias of ``axis="severity"``.
        n_bootstrap: bootstrap replicates for confidence intervals (0 = none).
        ci: confidence level of the intervals.
        seed: bootstrap seed (the result is deterministic).
        ci_method: ``"smoothed"`` (default: smoothed bootstrap with a bias-corrected value, calibrated in
            ``benchmarks/rd_calibration.py``), ``"bc"``, ``"basic"`` or ``"percentile"`` (see
            :func:`~rdmetrics.functional.rate_distortion_signature`).
        strict: ``False`` turns an undefined frontier into NaN ``beta`` / ``kappa`` / ``auc`` (and drops classes with
            no samples in a condition from its prior, with a warning) instead of raising; for monitoring during
            training (the PerturbationSweep callback uses it).
        validate_args: check inputs in ``update`` (NaN/inf, label ranges, shapes, condition range).
        axis: ``"distortion"`` (x = D, default) or ``"severity"`` (x = the condition values when they are finite and
            strictly monotone, else the rank scale ``0..L-1``, e.g. for high-pass ``inf`` or string labels).
        at_accuracy: read β and κ where the fitted frontier reaches this accuracy (distortion axis: ``x* = 1 − a``;
            severity axis: where the accuracy-vs-severity fit first reaches ``a``); excludes ``at``.
        n_null: permutation-null tables per condition for ``rate_floor`` / ``rate_floor_hi`` (0 disables them).

    ``forward(preds, target, condition)`` (``metric(...)``) adds the batch to the global state like ``update`` and
    returns the signature of **the batch alone** (what ``compute()`` of a fresh metric fed only that batch returns,
    with the same options, computed on this process without the floor warning) when it is defined, and ``None``
    otherwise: when the batch lacks samples of some condition (e.g. a batch of one condition, the usual case in a
    sweep) or its frontier is undefined with ``strict=True``. ``compute()`` always uses the whole accumulated state.

    Under DDP the states are summed across processes and the bootstrap replicates are split across the ranks
    (replicate ``r`` is seeded by ``(seed, r)``, so the intervals are identical for any world size); every rank must
    call ``compute()``, as for every synced torchmetrics Metric.
    ``update(preds, target, condition)``:
        ``preds``: logits / probabilities ``[N, K]`` (argmax is taken) or integer labels ``[N]`` in ``[0, K)``;
        ``target``: labels ``[N]`` in ``[0, C)``; ``condition``: an int or a per-sample integer tensor ``[N]`` in
        ``[0, L)``.

    ``compute()`` returns the dict of :func:`~rdmetrics.functional.rate_distortion_signature` plus ``confmat``
    (the class and the functional share ``_rate_distortion_signature_arg_validation``, ``_update`` and ``_compute``
    in :mod:`rdmetrics.functional.rate_distortion`).

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
        conditions: int | Sequence[Any] | Tensor,
        abstain: bool = False,
        prior: PriorType = "uniform",
        correction: CorrectionType = DEFAULT_CORRECTION,  # type: ignore[assignment]
        method: MethodType = "quadratic",
        at: float | None = None,
        use_severity_axis: bool | None = None,
        n_bootstrap: int = 0,
        ci: float = 0.95,
        seed: int = 0,
        ci_method: str = DEFAULT_CI_METHOD,
        strict: bool = True,
        validate_args: bool = True,
        *,
        axis: AxisType = "distortion",
        at_accuracy: float | None = None,
        n_null: int = DEFAULT_N_NULL,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_positive_int(num_classes, "num_classes", minimum=2)
        if isinstance(conditions, bool):
            raise TypeError("`conditions` must be an int or a sequence of condition labels / severity values")
        if isinstance(conditions, int):
            _check_positive_int(conditions, "conditions", minimum=3)
            labels: Any = None
            num_conditions = conditions
        else:
            labels = conditions.detach().cpu() if isinstance(conditions, Tensor) else list(conditions)
            num_conditions = len(labels)
            if isinstance(labels, Tensor) and torch.isnan(labels.to(torch.float64)).any():
                raise ValueError("`conditions` contains non-finite values (NaN)")
            if not isinstance(labels, Tensor) and any(isinstance(v, float) and math.isnan(v) for v in labels):
                raise ValueError("`conditions` contains non-finite values (NaN)")
            if num_conditions < 3:
                raise ValueError(f"a frontier needs at least 3 conditions, got {num_conditions}")
        if use_severity_axis is not None:
            warnings.warn(
                "`use_severity_axis` is deprecated: use axis='severity' (or axis='distortion')",
                DeprecationWarning,
                stacklevel=2,
            )
            axis = "severity" if use_severity_axis else "distortion"
        _rate_distortion_signature_arg_validation(
            axis=axis,
            at=at,
            at_accuracy=at_accuracy,
            prior=prior,
            correction=correction,
            method=method,
            n_bootstrap=n_bootstrap,
            ci=ci,
            seed=seed,
            ci_method=ci_method,
            strict=strict,
            n_null=n_null,
            num_classes=num_classes,
        )
        self.num_classes = num_classes
        self.abstain = bool(abstain)
        self.num_cols = num_classes + int(self.abstain)
        self.num_conditions = int(num_conditions)
        self.conditions = labels
        values, x_sev = _condition_values(labels, self.num_conditions)
        self.severities = values  # numeric condition values (NaN for non-numeric labels)
        self.severity_x = x_sev  # x coordinates of axis="severity"
        self.prior = prior
        self.correction = correction
        self.method = method
        self.axis = axis
        self.at = at
        self.at_accuracy = at_accuracy
        self.n_bootstrap = n_bootstrap
        self.ci = float(ci)
        self.seed = seed
        self.ci_method = ci_method
        self.strict = bool(strict)
        self.n_null = n_null
        self.validate_args = validate_args
        self.add_state(
            "confmat",
            torch.zeros(self.num_conditions, num_classes, self.num_cols, dtype=torch.long),
            dist_reduce_fx="sum",
        )

    @property
    def use_severity_axis(self) -> bool:
        """Deprecated: ``axis == "severity"``."""
        return self.axis == "severity"

    def update(self, preds: Tensor, target: Tensor, condition: int | Tensor) -> None:
        """Add a batch of predictions for one condition (int) or per-sample conditions (``[N]`` tensor)."""
        _rate_distortion_signature_update(preds, target, condition, self.confmat, self.validate_args)

    def forward(self, preds: Tensor, target: Tensor, condition: int | Tensor) -> dict[str, Tensor] | None:  # type: ignore[override]
        """Update the global state with the batch and return the batch's own signature, or ``None`` when it is
        undefined (see the class docstring)."""
        self.update(preds, target, condition)
        batch = torch.zeros_like(self.confmat)
        _rate_distortion_signature_update(preds, target, condition, batch, validate_args=False)
        value: dict[str, Tensor] | None = None
        if bool((batch.sum(dim=(-2, -1)) > 0).all()):
            try:
                value = self._signature(batch, warn_floor=False)
            except ValueError:  # the batch alone has no frontier (too few distinct points, a class missing, ...)
                value = None
            else:
                value["confmat"] = batch
        self._forward_cache = value
        return value

    def _signature(self, confmat: Tensor, **overrides: Any) -> dict[str, Tensor]:
        options: dict[str, Any] = {
            "conditions": self.conditions,
            "axis": self.axis,
            "at": self.at,
            "at_accuracy": self.at_accuracy,
            "prior": self.prior,
            "correction": self.correction,
            "method": self.method,
            "n_bootstrap": self.n_bootstrap,
            "ci": self.ci,
            "seed": self.seed,
            "ci_method": self.ci_method,
            "strict": self.strict,
            "n_null": self.n_null,
        }
        options.update(overrides)
        return _rate_distortion_signature_compute(confmat, **options)

    def _replicate_split(self) -> tuple[tuple[int, int], Any]:
        """``((rank, world), gather)`` when compute() runs synced under torch.distributed, else ``((0, 1), None)``."""
        import torch.distributed as dist

        if (
            self.n_bootstrap == 0
            or not self.sync_on_compute
            or not (dist.is_available() and dist.is_initialized())
            or dist.get_world_size(self.process_group) < 2
        ):
            return (0, 1), None
        from torchmetrics.utilities.distributed import gather_all_tensors

        group = self.process_group

        def gather(t: Tensor) -> Tensor:
            return torch.cat(gather_all_tensors(t.contiguous(), group=group))

        return (dist.get_rank(group), dist.get_world_size(group)), gather

    def compute(self) -> dict[str, Tensor]:
        """Per-condition rates/distortions, null floors and the frontier signatures (see the class docstring)."""
        if int(self.confmat.sum()) == 0:
            raise ValueError("RateDistortionSignature: empty state, call update() before compute()")
        split, gather = self._replicate_split()
        out = self._signature(self.confmat, replicate_split=split, gather=gather)
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
        x = val["x"].detach().cpu() if "x" in val else val["distortion"].detach().cpu()
        grid, curve = _frontier_curve(x, rate, self.method)
        ax.plot(grid.numpy(), curve.numpy(), "-", label=f"{self.method} frontier")
        ax.plot(x.numpy(), rate.numpy(), "o", label=f"rate ({self.correction})")
        if "rate_floor" in val and bool(torch.isfinite(val["rate_floor"]).any()):
            order = x.argsort()
            ax.plot(
                x[order].numpy(),
                val["rate_floor"].detach().cpu()[order].numpy(),
                ":",
                color="C3",
                label="null floor (mean)",
            )
            ax.fill_between(
                x[order].numpy(),
                0.0,
                val["rate_floor_hi"].detach().cpu()[order].numpy(),
                color="C3",
                alpha=0.15,
                label="null floor 95 % range",
            )
        if self.axis == "distortion":
            d = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
            ax.plot(d.numpy(), hamming_rd_bound(d, self.num_classes).numpy(), "--", color="gray", label="Hamming bound")
            ax.set_xlabel("distortion D (error rate)")
        else:
            numeric = torch.equal(self.severity_x, self.severities)
            ax.set_xlabel("severity" if numeric else "severity (rank of the condition)")
        ax.set_ylabel("rate I(X;Y) [bits]")
        ax.set_ylim(0.0, math.log2(self.num_classes) * 1.05)
        ax.set_title(f"β={float(val['beta']):.3g}, κ={float(val['kappa']):.3g}, AUC={float(val['auc']):.3g}")
        ax.legend(loc="best", fontsize="small")
        return fig, ax


__all__ = ["RateDistortionSignature"]
