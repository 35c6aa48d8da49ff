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

import torch
from torch import Tensor

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
) -> tuple[Tensor, Tensor]:
    r"""Operating point ``(D, R)`` of each confusion matrix.

    .. math::
        D = \sum_{x,y} p(x)\,\hat p(y|x)\, d(x,y), \qquad R = I(X;Y)\ \text{[bits]}

    Args:
        confmat: counts ``[..., C, K]`` with ``K = C`` or ``K = C + 1`` (last column = abstain, counted as error).
        distortion: ``[C, K]`` distortion matrix (broadcastable over the batch dims); default Hamming.
        prior: see :func:`~rdmetrics.functional.mutual_information`.
        correction: ``"none"`` or ``"miller_madow"`` (applies to ``R`` only).
        empty_rows: see :func:`~rdmetrics.functional.mutual_information`.

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
    rate = mutual_information(cm, prior=prior, correction=correction, base=2, empty_rows=empty_rows)
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


__all__ = ["blahut_arimoto", "hamming_distortion", "hamming_rd_bound", "rate_distortion_points"]
