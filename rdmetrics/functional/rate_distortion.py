"""Rate–distortion points of confusion matrices, the Blahut–Arimoto curve and the M-ary Hamming bound.

rdmetrics' definitions:

* distortion ``D = sum_x sum_y p(x) p(y|x) d(x, y)``; default Hamming ``d(x, y) = 1[y != x]``, and an abstain column
  (``K = C + 1``) always counts as an error, so ``D = 1 − accuracy`` (prior-weighted; balanced accuracy for the
  uniform prior);
* rate ``R = I(X;Y)`` in bits (:func:`rdmetrics.functional.mutual_information`);
* the theoretical curve ``R(D)`` of a source ``p(x)`` under a distortion matrix is computed by base-2
  Blahut–Arimoto: ``q(y|x) ∝ q(y) 2^{−β d(x,y)}``; the slope of ``R(D)`` at the solution for ``β`` is ``−β``;
* for a uniform ``M``-ary source under Hamming distortion, ``R(D) = log2 M − h2(D) − D log2(M − 1)`` for
  ``0 ≤ D ≤ (M − 1)/M`` and 0 beyond. Every empirical point (plug-in rate, uniform prior) lies on or above it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor
from torchmetrics.utilities import rank_zero_warn

from rdmetrics.functional.information import (
    CorrectionType,
    EmptyRowsType,
    PriorType,
    _channel,
    _check_confmat,
    _resolve_prior,
    mutual_information,
)
from rdmetrics.utilities.checks import _check_finite, _check_positive_int, _check_tensor

_LN2 = math.log(2.0)


def hamming_distortion(num_classes: int, abstain: bool = False, device: torch.device | str | None = None) -> Tensor:
    """Hamming distortion matrix ``d(x, y) = 1[y != x]`` of shape ``[C, C]`` (``[C, C + 1]`` with an abstain column).

    Example:
        >>> hamming_distortion(2, abstain=True)
        tensor([[0., 1., 1.],
                [1., 0., 1.]], dtype=torch.float64)
    """
    _check_positive_int(num_classes, "num_classes")
    d = 1.0 - torch.eye(num_classes, num_classes + int(abstain), dtype=torch.float64, device=device)
    return d


def rate_distortion_points(
    confmat: Tensor,
    distortion: Tensor | None = None,
    prior: PriorType = "uniform",
    correction: CorrectionType = "none",
    empty_rows: EmptyRowsType = "raise",
    *,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""Operating point ``(D, R)`` of each confusion matrix.

    .. math::
        D = \sum_{x,y} p(x)\,\hat p(y|x)\, d(x,y), \qquad R = I(X;Y)\ \text{[bits]}

    Args:
        confmat: counts ``[..., C, K]`` with ``K = C`` or ``K = C + 1`` (last column = abstain, counted as error).
        distortion: ``[C, K]`` distortion matrix (broadcastable over the batch dims); default Hamming.
        prior: see :func:`~rdmetrics.functional.mutual_information`.
        correction: rate estimator (applies to ``R`` only), see :func:`~rdmetrics.functional.mutual_information`.
        empty_rows: see :func:`~rdmetrics.functional.mutual_information`.
        seed: seed of the seeded rate estimators (``"quadratic_extrapolation"``, ``"shuffle"``).

    Returns:
        ``(D, R)``: float64 tensors of shape ``confmat.shape[:-2]``; ``D`` in distortion units, ``R`` in bits.

    Example:
        >>> import torch
        >>> cm = torch.tensor([[8, 1, 1], [2, 8, 0]])  # 2 classes + abstain column
        >>> D, R = rate_distortion_points(cm)
        >>> round(float(D), 4), round(float(R), 4)
        (0.2, 0.4126)
    """
    cm = _check_confmat(confmat)
    num_classes, num_cols = cm.shape[-2], cm.shape[-1]
    if distortion is None:
        if num_cols not in (num_classes, num_classes + 1):
            raise ValueError(
                f"`confmat` has {num_classes} rows and {num_cols} columns: the default Hamming distortion needs"
                f" K = C or K = C + 1 (abstain column); pass an explicit `distortion`"
            )
        dist = hamming_distortion(num_classes, abstain=num_cols == num_classes + 1, device=cm.device)
    else:
        _check_tensor(distortion, "distortion")
        dist = distortion.detach().to(device=cm.device, dtype=torch.float64)
        if dist.shape[-2:] != cm.shape[-2:]:
            raise ValueError(
                f"`distortion` must have shape [..., {num_classes}, {num_cols}], got {tuple(distortion.shape)}"
            )
        _check_finite(dist, "distortion")
    p_x, rows = _resolve_prior(cm, prior, empty_rows)
    channel = _channel(cm, rows)
    d_value = (p_x.unsqueeze(-1) * channel * dist).sum(dim=(-2, -1))
    rate = mutual_information(cm, prior=prior, correction=correction, base=2, empty_rows=empty_rows, seed=seed)
    return d_value, rate


def _h2(p: Tensor) -> Tensor:
    """Binary entropy in bits (0 log 0 = 0)."""
    return -(torch.special.xlogy(p, p) + torch.special.xlogy(1 - p, 1 - p)) / _LN2


def hamming_rd_bound(D: Tensor | float, num_classes: int) -> Tensor:
    r"""Rate–distortion function of a uniform ``M``-ary source under Hamming distortion, in bits.

    .. math::
        R(D) = \log_2 M - h_2(D) - D \log_2(M-1) \quad (0 \le D \le (M-1)/M), \qquad R(D) = 0 \text{ beyond}

    Args:
        D: distortion value(s) in ``[0, 1]`` (tensor of any shape or a float).
        num_classes: alphabet size ``M >= 2``.

    Returns:
        float64 tensor shaped like ``D``: the minimum rate (bits) any channel with error ``D`` needs.

    Example:
        >>> round(float(hamming_rd_bound(0.483871, 16)), 4)
        1.1103
        >>> float(hamming_rd_bound(0.99, 16))
        0.0
    """
    _check_positive_int(num_classes, "num_classes", minimum=2)
    d = D.detach().to(torch.float64) if isinstance(D, Tensor) else torch.tensor(float(D), dtype=torch.float64)
    _check_finite(d, "D")
    if bool(((d < 0) | (d > 1)).any()):
        raise ValueError(f"`D` must lie in [0, 1], got range [{float(d.min())}, {float(d.max())}]")
    m = num_classes
    d_max = (m - 1) / m
    dc = d.clamp(max=d_max)
    rate = math.log2(m) - _h2(dc) - dc * math.log2(m - 1)
    return torch.where(d >= d_max, torch.zeros_like(rate), rate.clamp_min(0.0))


def blahut_arimoto(
    prior: Tensor,
    distortion: Tensor,
    beta: Tensor | float,
    max_iter: int = 2000,
    tol: float = 1e-12,
    max_chunk_elements: int = 2**24,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Rate–distortion curve by base-2 Blahut–Arimoto, all ``β`` solved together in one tensor program.

    Iterates, for every ``β`` at once (in log space),

    .. math::
        q(y|x) = \frac{q(y)\,2^{-\beta d(x,y)}}{\sum_{y'} q(y')\,2^{-\beta d(x,y')}},\qquad q(y) = \sum_x p(x) q(y|x)

    from a uniform ``q(y)`` until ``max |Δ q(y)| < tol`` for every ``β`` (or ``max_iter``). At the fixed point the
    slope of ``R(D)`` is ``−β`` (bits per unit distortion). ``β`` values are processed in chunks only to bound
    memory (``max_chunk_elements`` elements per ``[β, C, K]`` tensor); there is no Python loop per ``β``.

    Args:
        prior: source distribution ``p(x)`` ``[C]`` (normalised internally).
        distortion: ``[C, K]`` distortion matrix.
        beta: scalar or 1-D tensor ``[B]`` of non-negative inverse temperatures.
        max_iter: maximum number of BA iterations.
        tol: convergence tolerance on ``q(y)``.
        max_chunk_elements: memory bound (see above).

    Returns:
        ``(rate [B], distortion [B], channel [B, C, K])`` in float64: rate in bits, expected distortion, and the
        optimal test channel ``q(y|x)`` (a scalar ``β`` gives 0-d rate/distortion and a ``[C, K]`` channel).

    Example:
        >>> import torch
        >>> r, d, q = blahut_arimoto(torch.ones(16) / 16, 1 - torch.eye(16), torch.tensor([2.0, 4.0]))
        >>> [round(float(v), 4) for v in d], [round(float(v), 4) for v in r]
        ([0.7895, 0.4839], [0.1731, 1.1103])
    """
    _check_tensor(prior, "prior")
    _check_tensor(distortion, "distortion")
    _check_positive_int(max_iter, "max_iter")
    p = prior.detach().to(torch.float64)
    dist = distortion.detach().to(device=p.device, dtype=torch.float64)
    if p.ndim != 1:
        raise ValueError(f"`prior` must be 1-D [C], got shape {tuple(prior.shape)}")
    if dist.ndim != 2 or dist.shape[0] != p.shape[0]:
        raise ValueError(f"`distortion` must be [C, K] with C = {p.shape[0]}, got shape {tuple(distortion.shape)}")
    _check_finite(p, "prior")
    _check_finite(dist, "distortion")
    if bool((p < 0).any()) or float(p.sum()) <= 0:
        raise ValueError("`prior` must be non-negative with a positive sum")
    p = p / p.sum()
    scalar = not isinstance(beta, Tensor) or beta.ndim == 0
    b = beta.detach().to(device=p.device, dtype=torch.float64) if isinstance(beta, Tensor) else None
    if b is None:
        b = torch.tensor(float(beta), dtype=torch.float64, device=p.device)
    b = b.reshape(-1)
    if b.ndim != 1:
        raise ValueError(f"`beta` must be a scalar or a 1-D tensor, got shape {tuple(beta.shape)}")
    _check_finite(b, "beta")
    if bool((b < 0).any()):
        raise ValueError("`beta` must be non-negative")
    num_rows, num_cols = dist.shape
    chunk = max(1, max_chunk_elements // max(1, num_rows * num_cols))
    rate = torch.empty(b.numel(), dtype=torch.float64, device=p.device)
    dval = torch.empty_like(rate)
    channel = torch.empty(b.numel(), num_rows, num_cols, dtype=torch.float64, device=p.device)
    for start in range(0, b.numel(), chunk):
        sl = slice(start, start + chunk)
        rate[sl], dval[sl] = _ba_chunk(p, dist, b[sl], max_iter, tol, channel[sl])
    if scalar:
        return rate[0], dval[0], channel[0]
    return rate, dval, channel


def _ba_chunk(
    p: Tensor, dist: Tensor, beta: Tensor, max_iter: int, tol: float, out_channel: Tensor
) -> tuple[Tensor, Tensor]:
    """BA for a chunk of β; writes the channel into ``out_channel`` and returns ``(rate, distortion)``.

    Works in the linear domain with the row-shifted kernel ``A = 2^{−β (d − min_y d)}`` (the shift cancels in
    ``q(y|x)`` and keeps each row's maximum at 1, so nothing underflows to an all-zero row). The rate uses
    ``Σ q(x,y) ln[q(y|x)/q(y)] = −β ln2 Σ q(x,y) d̃ + Σ_y m(y) ln[q_y(y)/m(y)] − Σ_x p(x) ln z(x)`` so no further
    ``[B, C, K]`` temporaries are needed (``m`` = output marginal, ``z`` = row normalisers).
    """
    num_cols = dist.shape[1]
    shifted = dist - dist.min(dim=1, keepdim=True).values
    kernel = shifted.unsqueeze(0) * (-beta[:, None, None] * _LN2)  # [B, C, K]
    kernel.exp_()
    q_y = torch.full((beta.numel(), num_cols), 1.0 / num_cols, dtype=torch.float64, device=p.device)
    for _ in range(max_iter):
        z = torch.bmm(kernel, q_y.unsqueeze(-1)).squeeze(-1)  # [B, C] normalisers
        w = (p.unsqueeze(0) / z.clamp_min(1e-300)).unsqueeze(1)  # [B, 1, C]
        new_q_y = q_y * torch.bmm(w, kernel).squeeze(1)
        new_q_y = new_q_y / new_q_y.sum(dim=-1, keepdim=True)
        delta = float((new_q_y - q_y).abs().max())
        q_y = new_q_y
        if delta < tol:
            break
    z = torch.bmm(kernel, q_y.unsqueeze(-1)).squeeze(-1).clamp_min(1e-300)
    w = (p.unsqueeze(0) / z).unsqueeze(1)  # p(x) / z(x)
    marginal = q_y * torch.bmm(w, kernel).squeeze(1)  # m(y) = Σ_x p(x) q(y|x)
    # expected shifted distortion Σ_x p(x)/z(x) Σ_y A(x,y) d̃(x,y) q_y(y)
    kernel_d = kernel * shifted.unsqueeze(0)
    exp_shifted = torch.bmm(torch.bmm(w, kernel_d), q_y.unsqueeze(-1)).reshape(-1)
    dval = exp_shifted + (p * dist.min(dim=1).values).sum()
    rate = (
        -beta * _LN2 * exp_shifted
        + (torch.special.xlogy(marginal, q_y) - torch.special.xlogy(marginal, marginal)).sum(-1)
        - (torch.special.xlogy(p, z)).sum(-1)
    ) / _LN2
    del kernel_d
    torch.mul(kernel, (q_y.unsqueeze(1) / z.unsqueeze(-1)), out=out_channel)
    return rate.clamp_min(0.0), dval


# ---------------------------------------------------------------------------------------------------------------------
# rate–distortion signature of one system: the torchmetrics pipeline shared by the functional and the Metric
#   _rate_distortion_signature_arg_validation -> _rate_distortion_signature_update -> _rate_distortion_signature_compute

AxisType = Literal["distortion", "severity"]
_AXES = ("distortion", "severity")
#: default rate estimator of the RD functional and Metric
DEFAULT_CORRECTION = "panzeri_treves"  # chosen by benchmarks/rd_calibration.py
#: default bootstrap interval method of the RD functional and Metric (see :func:`bootstrap_summary`)
DEFAULT_CI_METHOD = "smoothed"  # chosen by benchmarks/rd_calibration.py
#: permutation-null draws per condition for ``rate_floor`` (0 disables the floor)
DEFAULT_N_NULL = 100
#: signature keys that get bootstrap intervals (besides the per-condition ``rate``)
SIGNATURE_KEYS = ("beta", "beta_normalized", "kappa", "curvature", "auc", "secant_slope", "excess_rate")
_FLOOR_TAG = 0x5EED_F1004
# elements per tensor when replicates / null tables are processed in chunks (bounds memory)
_CHUNK_ELEMENTS = 1 << 22


def _rate_distortion_signature_arg_validation(
    *,
    axis: str = "distortion",
    at: float | None = None,
    at_accuracy: float | None = None,
    prior: PriorType = "uniform",
    correction: str = DEFAULT_CORRECTION,
    method: str = "quadratic",
    n_bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    ci_method: str = DEFAULT_CI_METHOD,
    strict: bool = True,
    n_null: int = DEFAULT_N_NULL,
    num_classes: int | None = None,
) -> None:
    """Validate every option of the RD signature (one place for the functional and the Metric)."""
    from rdmetrics.functional.bootstrap import _CI_METHODS
    from rdmetrics.functional.information import _check_correction
    from rdmetrics.functional.signatures import _METHODS, _check_at_accuracy

    if axis not in _AXES:
        raise ValueError(f"`axis` must be one of {_AXES}, got {axis!r}")
    if at is not None:
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
            raise ValueError(f"`at` must be a finite number or None, got {at!r}")
    if at_accuracy is not None:
        _check_at_accuracy(at, at_accuracy)
    if num_classes is not None:
        _check_positive_int(num_classes, "num_classes", minimum=2)
    if isinstance(prior, Tensor):
        if num_classes is not None and tuple(prior.shape) != (num_classes,):
            raise ValueError(f"`prior` must have shape ({num_classes},), got {tuple(prior.shape)}")
    elif prior not in ("uniform", "empirical"):
        raise ValueError(f"`prior` must be 'uniform', 'empirical' or a tensor, got {prior!r}")
    _check_correction(correction)
    if method not in _METHODS:
        raise ValueError(f"`method` must be one of {_METHODS}, got {method!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"`n_bootstrap` must be an integer >= 0, got {n_bootstrap!r}")
    if isinstance(n_null, bool) or not isinstance(n_null, int) or n_null < 0:
        raise ValueError(f"`n_null` must be an integer >= 0, got {n_null!r}")
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not 0.0 < float(ci) < 1.0:
        raise ValueError(f"`ci` must lie in (0, 1), got {ci!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
    if ci_method not in _CI_METHODS:
        raise ValueError(f"`ci_method` must be one of {_CI_METHODS}, got {ci_method!r}")
    if not isinstance(strict, bool):
        raise TypeError(f"`strict` must be a bool, got {type(strict).__name__}")


def _condition_values(conditions: object, num_conditions: int | None = None) -> tuple[Tensor, Tensor]:
    """``(values [L], severity x [L])`` of the condition labels.

    ``values``: the numeric value of every label (NaN where a label is not a number). ``x``: the severity
    coordinates of ``axis="severity"``: the values themselves when they are all finite numbers and strictly
    monotone (increasing or decreasing), otherwise the rank scale ``0, 1, …, L−1`` of the given order (non-numeric
    labels, ``inf`` such as high-pass "no filter", repeated or non-monotone values). ``None`` gives ``0..L-1``.
    """
    if conditions is None:
        if num_conditions is None:
            raise ValueError("`conditions` or the number of conditions is needed")
        ranks = torch.arange(num_conditions, dtype=torch.float64)
        return ranks, ranks.clone()
    if isinstance(conditions, Tensor):
        values = conditions.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
    else:
        if isinstance(conditions, (str, bytes)):
            raise TypeError("`conditions` must be a sequence of condition labels / severity values, not a string")
        vals = []
        for v in conditions:  # type: ignore[attr-defined]
            try:
                vals.append(float(v))
            except (TypeError, ValueError):
                vals.append(float("nan"))
        values = torch.tensor(vals, dtype=torch.float64)
    if num_conditions is not None and values.numel() != num_conditions:
        raise ValueError(f"`conditions` must have {num_conditions} entries (one per condition), got {values.numel()}")
    steps = values.diff()
    usable = bool(torch.isfinite(values).all()) and (bool((steps > 0).all()) or bool((steps < 0).all()))
    x = values.clone() if usable else torch.arange(values.numel(), dtype=torch.float64)
    return values, x


def _rate_distortion_signature_update(
    preds: Tensor,
    target: Tensor,
    condition: int | Tensor,
    state: Tensor,
    validate_args: bool = True,
) -> Tensor:
    """Add a batch to the ``[L, C, K]`` count ``state`` in place (and return it).

    ``preds``: logits / probabilities ``[N, K]`` (argmax) or labels ``[N]`` in ``[0, K)``; ``target``: labels
    ``[N]`` in ``[0, C)``; ``condition``: an int or an integer tensor ``[N]`` in ``[0, L)``.
    """
    from rdmetrics.utilities.checks import _check_same_num_samples, _format_predictions

    num_conditions, num_classes, num_cols = state.shape
    if validate_args:
        labels = _format_predictions(preds, num_cols, "preds")
        target = _format_predictions(target, num_classes, "target")
        _check_same_num_samples(labels, target, "preds", "target")
    else:
        _check_tensor(preds, "preds")
        labels = preds.argmax(dim=1) if preds.is_floating_point() else preds.long()
        target = target.long()
    cond = _condition_index(condition, labels.shape[0], num_conditions, validate_args)
    block = num_classes * num_cols
    flat = torch.add(labels, target, alpha=num_cols)  # target * K + pred
    if isinstance(cond, Tensor):
        flat.add_(cond.to(flat.device), alpha=block)  # condition * C * K + target * K + pred
        target_state = state.view(-1)
    else:
        target_state = state[cond].view(-1)
    if target_state.numel() <= 8 * flat.numel():
        # one bincount over all bins (cheap when the state is small relative to the batch)
        target_state += torch.bincount(flat, minlength=target_state.numel())
    else:
        # large state (many classes / conditions): O(N) scatter instead of an O(L*C*K) histogram
        target_state.index_add_(0, flat, torch.ones_like(flat))
    return state


def _condition_index(condition: int | Tensor, num_samples: int, num_conditions: int, validate: bool) -> Tensor | int:
    if isinstance(condition, Tensor):
        if condition.is_floating_point() or condition.is_complex() or condition.dtype == torch.bool:
            raise ValueError(f"`condition` must hold integer condition indices, got dtype {condition.dtype}")
        if condition.ndim == 0:
            condition = int(condition)
        else:
            if validate:
                if condition.ndim != 1 or condition.shape[0] != num_samples:
                    raise ValueError(
                        f"`condition` must be an int or a [N] tensor with N = {num_samples}, got shape"
                        f" {tuple(condition.shape)}"
                    )
                if condition.numel():
                    lo, hi = (int(v) for v in torch.aminmax(condition))
                    if lo < 0 or hi >= num_conditions:
                        raise ValueError(f"`condition` out of range [0, {num_conditions - 1}]: min {lo}, max {hi}")
            return condition.long()
    if isinstance(condition, bool) or not isinstance(condition, int):
        raise TypeError(f"`condition` must be an int or an integer tensor, got {type(condition).__name__}")
    if not 0 <= condition < num_conditions:
        raise ValueError(f"`condition`={condition} out of range [0, {num_conditions - 1}]")
    return condition


def rate_distortion_confmats(
    preds: Tensor,
    target: Tensor,
    condition: int | Tensor,
    num_classes: int,
    num_conditions: int,
    abstain: bool = False,
) -> Tensor:
    """Per-condition confusion matrices ``[L, C, K]`` (int64) of predictions: the input of
    :func:`rate_distortion_signature` (the same update as :class:`~rdmetrics.RateDistortionSignature`).

    Example:
        >>> import torch
        >>> preds, target, condition = torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), torch.tensor([0, 0, 2])
        >>> cms = rate_distortion_confmats(preds, target, condition, num_classes=2, num_conditions=3)
        >>> cms[0].tolist(), cms[2].tolist()
        ([[1, 0], [0, 1]], [[0, 1], [0, 0]])
    """
    _check_positive_int(num_classes, "num_classes", minimum=2)
    _check_positive_int(num_conditions, "num_conditions")
    _check_tensor(target, "target")
    state = torch.zeros(num_conditions, num_classes, num_classes + int(abstain), dtype=torch.long, device=target.device)
    return _rate_distortion_signature_update(preds, target, condition, state)


def _points(
    tables: Tensor, prior: PriorType, correction: str, empty_rows: EmptyRowsType, seed: int
) -> tuple[Tensor, Tensor]:
    """``(D, R)`` of ``tables [M, C, K]``, processed in chunks of ``_CHUNK_ELEMENTS`` (bounded memory)."""
    per = max(1, tables.shape[-2] * tables.shape[-1])
    step = max(1, _CHUNK_ELEMENTS // per)
    if tables.shape[0] <= step:
        return rate_distortion_points(tables, prior=prior, correction=correction, empty_rows=empty_rows, seed=seed)
    dist, rate = [], []
    for start in range(0, tables.shape[0], step):
        d, r = rate_distortion_points(
            tables[start : start + step], prior=prior, correction=correction, empty_rows=empty_rows, seed=seed + start
        )
        dist.append(d)
        rate.append(r)
    return torch.cat(dist), torch.cat(rate)


def _rate_floor(
    cm: Tensor, prior: PriorType, correction: str, empty_rows: EmptyRowsType, n_null: int, seed: int
) -> tuple[Tensor, Tensor]:
    """Mean and 95 % quantile of the rate estimator over ``n_null`` permutation-null tables of every condition."""
    from rdmetrics.functional.bootstrap import replicate_seed
    from rdmetrics.functional.information import _generator, _permutation_tables

    num_conditions = cm.shape[0]
    nan = torch.full((num_conditions,), float("nan"), dtype=torch.float64, device=cm.device)
    if n_null <= 0 or not bool((cm == cm.round()).all()):
        return nan, nan.clone()
    floor, floor_hi = nan.clone(), nan.clone()
    step = max(1, _CHUNK_ELEMENTS // max(1, cm.shape[-2] * cm.shape[-1]))
    for ell in range(num_conditions):
        generator = _generator(replicate_seed(seed ^ _FLOOR_TAG, ell))
        rates = []
        for start in range(0, n_null, step):
            null = _permutation_tables(cm[ell], min(step, n_null - start), generator)
            rates.append(
                rate_distortion_points(
                    null, prior=prior, correction=correction, empty_rows=empty_rows, seed=seed + start
                )[1]
            )
        r = torch.cat(rates)
        floor[ell] = r.mean()
        floor_hi[ell] = torch.quantile(r, 0.95)
    return floor, floor_hi


def _bootstrap_points(
    cm: Tensor,
    prior: PriorType,
    correction: str,
    empty_rows: EmptyRowsType,
    n_bootstrap: int,
    seed: int,
    start: int,
    stop: int,
    pseudocount: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """``(D, R)`` ``[stop − start, L]`` of bootstrap replicates ``start..stop−1`` (replicate r seeded by (seed, r)),
    generated and reduced in chunks so that memory stays bounded whatever B (``pseudocount``: smoothed bootstrap)."""
    from rdmetrics.functional.bootstrap import bootstrap_confmat, replicate_seed
    from rdmetrics.functional.information import RANDOM_CORRECTIONS

    num_conditions = cm.shape[0]
    if stop <= start:
        empty = torch.empty(0, num_conditions, dtype=torch.float64, device=cm.device)
        return empty, empty.clone()
    per_replicate = max(1, cm.numel())
    chunk = max(1, _CHUNK_ELEMENTS // per_replicate)
    if correction in RANDOM_CORRECTIONS:
        chunk = 1  # the estimator's own random draws are keyed to the replicate index
    dist, rate = [], []
    for lo in range(start, stop, chunk):
        m = min(chunk, stop - lo)
        boot = bootstrap_confmat(cm, m, seed, replicate_offset=lo, pseudocount=pseudocount)  # [m, L, C, K] int64
        flat = boot.reshape(m * num_conditions, *cm.shape[-2:])
        d, r = _points(flat, prior, correction, empty_rows, replicate_seed(seed, lo))
        dist.append(d.reshape(m, num_conditions))
        rate.append(r.reshape(m, num_conditions))
        del boot, flat
    return torch.cat(dist), torch.cat(rate)


def _rate_distortion_signature_compute(
    confmats: Tensor,
    *,
    conditions: object = None,
    axis: str = "distortion",
    at: float | None = None,
    at_accuracy: float | None = None,
    prior: PriorType = "uniform",
    correction: str = DEFAULT_CORRECTION,
    method: str = "quadratic",
    n_bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    ci_method: str = DEFAULT_CI_METHOD,
    strict: bool = True,
    n_null: int = DEFAULT_N_NULL,
    severity_x: Tensor | None = None,
    replicate_split: tuple[int, int] = (0, 1),
    gather: Callable[[Tensor], Tensor] | None = None,
    warn_floor: bool = True,
) -> dict[str, Tensor]:
    """The RD signature of validated options (see :func:`rate_distortion_signature`).

    ``severity_x``: explicit severity coordinates (the deprecated ``axis_values``). ``replicate_split = (rank,
    world)``: compute only this rank's share of the bootstrap replicates and ``gather`` them (concatenated in rank
    order) from every rank; replicate ``r`` depends only on ``(seed, r)``, so the result is the same for any world size.
    """
    from rdmetrics.functional.bootstrap import SMOOTHED_PSEUDOCOUNT, bootstrap_summary, smoothed_confmat
    from rdmetrics.functional.signatures import _fit_signatures

    cm = _check_confmat(confmats, "confmats")
    if cm.ndim != 3:
        raise ValueError(f"`confmats` must be [L, C, K] (one matrix per condition), got shape {tuple(cm.shape)}")
    num_conditions, num_classes = cm.shape[0], cm.shape[1]
    if num_conditions < 3:
        raise ValueError(f"a frontier needs at least 3 conditions, got {num_conditions}")
    empty = cm.sum(dim=(-2, -1)) <= 0
    if bool(empty.any()):
        raise ValueError(f"condition {int(empty.nonzero()[0])} is empty (no samples): every condition needs data")
    values, x_sev = _condition_values(conditions, num_conditions)
    if severity_x is not None:
        x_sev = severity_x.detach().to(dtype=torch.float64, device="cpu").reshape(-1)
        _check_finite(x_sev, "axis_values")
        if x_sev.numel() != num_conditions:
            raise ValueError(
                f"`axis_values` must have {num_conditions} entries (one per condition), got {x_sev.numel()}"
            )
    values, x_sev = values.to(cm.device), x_sev.to(cm.device)
    empty_rows: EmptyRowsType = "raise"
    if not strict:
        missing = (cm.sum(-1) == 0).nonzero().tolist()
        if missing:
            empty_rows = "drop"
            rank_zero_warn(
                f"{len(missing)} (condition, class) pairs have no samples (e.g. condition {missing[0][0]}, class"
                f" {missing[0][1]}); their classes are dropped from that condition's prior"
            )
    dist, rate = rate_distortion_points(cm, prior=prior, correction=correction, empty_rows=empty_rows, seed=seed)
    rate_plugin = (
        rate
        if correction == "none"
        else rate_distortion_points(cm, prior=prior, correction="none", empty_rows=empty_rows)[1]
    )
    nc = num_classes if num_classes >= 2 else None
    on_d = axis == "distortion"
    x = dist if on_d else x_sev
    sig = _fit_signatures(
        x[None], dist[None], rate[None], method, at, nc, strict, at_accuracy=at_accuracy, distortion_axis=on_d
    )
    floor, floor_hi = _rate_floor(cm, prior, correction, empty_rows, n_null, seed)
    out: dict[str, Tensor] = {
        "rate": rate,
        "rate_plugin": rate_plugin,
        "rate_floor": floor,
        "rate_floor_hi": floor_hi,
        "distortion": dist,
        "accuracy": 1.0 - dist,
        "bound": hamming_rd_bound(dist.clamp(0.0, 1.0), num_classes) if nc else torch.zeros_like(dist),
        "num_samples": cm.sum(dim=(-2, -1)),
        "conditions": values,
        "x": x.clone(),
        **{k: v[0] for k, v in sig.items()},
    }
    if n_bootstrap > 0:
        rank, world = replicate_split
        start, stop = n_bootstrap * rank // world, n_bootstrap * (rank + 1) // world
        # ci_method="smoothed" (see bootstrap_summary): rows resampled from (N + a) / (n + aK), and the pivot is
        # θ* − t with t = the signatures of the smoothed table's exact (plug-in) rates; calibrated by
        # benchmarks/rd_calibration.py
        smoothed = ci_method == "smoothed"
        pseudocount = SMOOTHED_PSEUDOCOUNT if smoothed else 0.0
        _warn_few_trials(cm)
        b_dist, b_rate = _bootstrap_points(
            cm, prior, correction, empty_rows, n_bootstrap, seed, start, stop, pseudocount=pseudocount
        )
        if gather is not None:
            b_dist, b_rate = gather(b_dist), gather(b_rate)
        if b_dist.shape[0] != n_bootstrap:
            raise RuntimeError(f"gathered {b_dist.shape[0]} bootstrap replicates, expected {n_bootstrap}")
        b_x = b_dist if on_d else torch.broadcast_to(x_sev, b_dist.shape)
        b_sig = _fit_signatures(
            b_x, b_dist, b_rate, method, at, nc, False, at_accuracy=at_accuracy, distortion_axis=on_d
        )
        ref: dict[str, Tensor | None] = dict.fromkeys((*SIGNATURE_KEYS, "rate"))
        if smoothed:
            sm_dist, sm_rate = rate_distortion_points(
                smoothed_confmat(cm, pseudocount), prior=prior, correction="none", empty_rows=empty_rows
            )
            sm_x = sm_dist if on_d else x_sev
            sm_kw = {"at_accuracy": at_accuracy, "distortion_axis": on_d}
            sm_sig = _fit_signatures(sm_x[None], sm_dist[None], sm_rate[None], method, at, nc, False, **sm_kw)
            ref = {**{k: sm_sig[k][0] for k in SIGNATURE_KEYS}, "rate": sm_rate}
        corrected = ci_method not in ("percentile", "basic")  # the method reports a bias-corrected value
        for key in SIGNATURE_KEYS:
            summary = bootstrap_summary(out[key], b_sig[key], float(ci), ci_method, reference=ref[key])
            _summarise(out, key, summary, corrected)
        log_c = math.log2(num_classes)
        summary = bootstrap_summary(rate, b_rate, float(ci), ci_method, bounds=(0.0, log_c), reference=ref["rate"])
        _summarise(out, "rate", summary, corrected)
        finite = b_sig["beta"][torch.isfinite(b_sig["beta"])]
        out["beta_se"] = (
            finite.std() if finite.numel() > 1 else torch.tensor(float("nan"), dtype=torch.float64, device=cm.device)
        )
    if warn_floor:
        within = (out["rate"] <= floor_hi).nonzero().reshape(-1).tolist()
        if within:
            rank_zero_warn(
                f"the rate at condition(s) {within} lies within the 95 % range of its null floor (rate_floor_hi: the"
                f" {correction!r} estimator on tables with the same totals but no dependence): no information is"
                " detectable there beyond the estimator's small-sample floor",
                category=UserWarning,
            )
    return out


def _warn_few_trials(cm: Tensor) -> None:
    """Warn when some condition has fewer trials per class than the calibration study needs for its coverage."""
    from rdmetrics.functional.bootstrap import MIN_TRIALS_PER_CLASS

    per_class = cm.sum(dim=(-2, -1)) / cm.shape[-2]
    if bool((per_class < MIN_TRIALS_PER_CLASS).any()):
        rank_zero_warn(
            f"bootstrap intervals are unreliable below {MIN_TRIALS_PER_CLASS} trials per class and condition (here"
            f" {float(per_class.min()):.3g}): in benchmarks/rd_calibration.py their coverage of β and AUC falls below"
            " the nominal level there, because the small-sample bias of the rate dominates its sampling error",
            category=UserWarning,
        )


def _summarise(out: dict[str, Tensor], key: str, summary: dict[str, Tensor], corrected: bool) -> None:
    """Store a bootstrap summary: value, ``_ci``, ``_bias`` and, for bias-corrected methods, the raw estimate."""
    out[key] = summary["value"]
    out[f"{key}_ci"] = summary["ci"]
    out[f"{key}_bias"] = summary["bias"]
    if corrected and "raw" in summary:
        out[f"{key}_raw"] = summary["raw"]


def rate_distortion_signature(
    confmats: Tensor,
    *,
    conditions: object = None,
    axis: AxisType = "distortion",
    at: float | None = None,
    at_accuracy: float | None = None,
    prior: PriorType = "uniform",
    correction: CorrectionType = DEFAULT_CORRECTION,  # type: ignore[assignment]
    method: str = "quadratic",
    n_bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    ci_method: str = DEFAULT_CI_METHOD,
    strict: bool = True,
    n_null: int = DEFAULT_N_NULL,
    axis_values: Tensor | None = None,
) -> dict[str, Tensor]:
    r"""Rate–distortion signature of one system from its per-condition confusion matrices.

    For each condition ``ℓ``: ``D_ℓ`` (Hamming, abstain = error), the plug-in rate and the rate with ``correction``
    (clipped to ``[0, log2 C]``), and the null floor of that estimator; then the frontier fit through ``(x_ℓ, R_ℓ)``
    and its signatures (:func:`rd_signatures`): ``x = D`` (``axis="distortion"``) or the severity of each condition
    (``axis="severity"``: the ``conditions`` values when they are finite and strictly monotone, else the rank scale
    ``0..L-1`` — e.g. for non-numeric labels or high-pass ``inf``).

    * **Reading point**: ``at`` (an x value; default the midpoint of the observed x range) or ``at_accuracy=a``:
      on the distortion axis ``x* = 1 − a``; on the severity axis the x where the accuracy-vs-severity curve, fitted
      with the same ``method``, first reaches ``a`` (scanning from the low end of the range; raises, or NaN with
      ``strict=False``, when the fit never reaches ``a`` there). Replicates recompute their own crossing.
    * **κ is unit-free**: computed in normalised coordinates (x scaled to ``[0, 1]`` over the observed range, rate
      divided by ``log2 C``), so rescaling the severities or changing the class count leaves it unchanged; the raw
      second derivative ``R̂''(x*)`` is ``curvature``. β stays in bits per unit x (on the distortion axis it is
      directly comparable with the slope of the Hamming bound, the Lagrange multiplier of ``R(D)``); its
      normalised twin is ``beta_normalized = β (x_max − x_min) / log2 C``.
    * **Null floor**: ``rate_floor[ℓ]`` is the mean of the chosen estimator over ``n_null`` tables from the
      permutation null of condition ``ℓ`` (responses shuffled across trials: same class and response totals, no
      dependence; seeded), ``rate_floor_hi[ℓ]`` its 95 % quantile. A rate at or below ``rate_floor_hi`` is not
      distinguishable from no information, and a warning names those conditions (the frontier is still fitted).
    * **Intervals** (``n_bootstrap > 0``): every confusion-matrix row is resampled
      (:func:`~rdmetrics.functional.bootstrap_confmat`; replicate ``r`` seeded by ``(seed, r)``, generated and
      reduced in chunks so memory stays bounded), the pipeline is rerun per replicate and
      :func:`~rdmetrics.functional.bootstrap.bootstrap_summary` with ``ci_method`` reports, for every signature and
      for the per-condition ``rate``: the value (for ``"bc"`` and the default ``"smoothed"`` the bias-corrected one,
      with the uncorrected estimate as ``{key}_raw``), ``{key}_ci`` and ``{key}_bias`` (``mean(θ*) − θ̂``; for
      ``"smoothed"``: ``mean(θ*) − t``). The reported value always lies inside its finite interval. Replicates where
      a fit is undefined are skipped.

    Args:
        confmats: counts ``[L, C, K]`` (``K = C`` or ``C + 1`` with an abstain column), one matrix per condition.
        conditions: ``[L]`` condition labels / severity values (numbers, ``inf`` or strings; default ``0..L-1``),
            returned as ``"conditions"`` (NaN for non-numeric labels).
        axis: ``"distortion"`` (x = D) or ``"severity"`` (x = conditions, see above).
        at: reference point ``x*`` in x units (default: midpoint of the observed range).
        at_accuracy: read β and κ where the fitted frontier reaches this accuracy (see above); excludes ``at``.
        prior: ``"uniform"``, ``"empirical"`` or a ``[C]`` tensor.
        correction: rate estimator, one of :data:`rdmetrics.functional.information.CORRECTIONS` (default
            ``"panzeri_treves"``, chosen by the calibration study ``benchmarks/rd_calibration.py``).
        method: frontier fit (see :func:`rd_signatures`).
        n_bootstrap: number of bootstrap replicates (0 = no intervals).
        ci: confidence level of the intervals.
        seed: seed of the bootstrap, the null floor and the seeded estimators.
        ci_method: interval method of :func:`~rdmetrics.functional.bootstrap.bootstrap_summary`; default
            ``"smoothed"`` (rows resampled from ``(N + a) / (n + aK)``, pivot around the smoothed table's exact values;
            the only method whose β / AUC intervals reach nominal coverage in ``benchmarks/rd_calibration.py``).
            Below ``MIN_TRIALS_PER_CLASS`` trials per class and condition a warning says the intervals are unreliable.
        strict: if ``False`` (for monitoring, e.g. early training epochs): an undefined frontier gives NaN
            ``beta`` / ``kappa`` / ``auc`` instead of raising, and a class with no samples in some condition is
            dropped from that condition's prior with a warning. A condition with no samples at all still raises.
        n_null: permutation-null tables per condition for ``rate_floor`` (0: NaN floor, no warning).
        axis_values: deprecated: explicit ``[L]`` x coordinates; use ``axis="severity"`` with ``conditions``.

    Returns:
        dict of float64 tensors: ``rate [L]`` (bits), ``rate_plugin [L]``, ``rate_floor [L]``, ``rate_floor_hi [L]``,
        ``distortion [L]``, ``accuracy [L]`` (``1 − D``), ``bound [L]`` (Hamming bound at ``D``), ``num_samples [L]``,
        ``conditions [L]``, ``x [L]`` (the x coordinates used), scalars ``beta``, ``beta_normalized``, ``kappa``,
        ``curvature``, ``auc``, ``secant_slope``, ``excess_rate``, ``at``; with ``n_bootstrap > 0`` also
        ``{key}_ci`` (``[2]``, ``rate_ci`` ``[L, 2]``), ``{key}_bias``, ``{key}_raw`` (when the value is bias-corrected)
        for those keys and ``rate``, and ``beta_se`` (bootstrap std).

    Example:
        >>> import torch
        >>> eps = torch.tensor([0.05, 0.2, 0.4, 0.6])  # 4-class symmetric channels, error rates eps
        >>> cms = torch.stack([(1 - e) * 100 * torch.eye(4) + e * 100 / 3 * (1 - torch.eye(4)) for e in eps])
        >>> out = rate_distortion_signature(cms.round().long(), correction="none")
        >>> [round(v, 2) for v in out["distortion"].tolist()]
        [0.05, 0.2, 0.4, 0.6]
        >>> round(float(out["beta"]), 2) > 0, bool((out["rate"] > out["rate_floor_hi"]).all())
        (True, True)
        >>> sev = rate_distortion_signature(cms.round().long(), conditions=[0.0, 1.0, 2.0, 4.0], axis="severity")
        >>> sev["x"].tolist(), float(sev["at"])
        ([0.0, 1.0, 2.0, 4.0], 2.0)
    """
    if axis_values is not None:
        warnings.warn(
            "`axis_values` is deprecated: pass the severities as `conditions` with axis='severity'",
            DeprecationWarning,
            stacklevel=2,
        )
        axis = "severity"
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
    )
    return _rate_distortion_signature_compute(
        confmats,
        conditions=conditions,
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
        severity_x=axis_values,
    )


__all__ = [
    "blahut_arimoto",
    "hamming_distortion",
    "hamming_rd_bound",
    "rate_distortion_confmats",
    "rate_distortion_points",
    "rate_distortion_signature",
]
