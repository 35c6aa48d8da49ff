"""Parametric bootstrap of confusion matrices: multinomial resampling of every row (trials of one true class)."""

from __future__ import annotations

import torch
from torch import Tensor

from rdmetrics.functional.information import _check_confmat
from rdmetrics.utilities.checks import _check_positive_int


def bootstrap_confmat(confmat: Tensor, n_bootstrap: int, seed: int = 0) -> Tensor:
    r"""Resample each row of a confusion matrix: ``N*(x, ·) ~ Multinomial(n_x, N(x, ·) / n_x)``.

    Every row keeps its number of trials ``n_x`` (a class shown ``n_x`` times is re-shown ``n_x`` times), which is
    the trial bootstrap for a design with fixed per-class counts. Vectorised over all replicates, batch dims and
    rows: the multinomial is drawn as a chain of conditional binomials over the ``K`` columns,
    ``N*(x, k) ~ Bin(n_x − Σ_{j<k} N*(x, j), p_k / Σ_{j≥k} p_j)``, with a seeded ``torch.Generator``
    (same seed → same replicates).

    Args:
        confmat: counts ``[..., C, K]`` (integer valued).
        n_bootstrap: number of replicates ``B >= 1``.
        seed: generator seed.

    Returns:
        int64 tensor ``[B, ..., C, K]`` of resampled counts (row sums equal the input's).

    Example:
        >>> import torch
        >>> cm = torch.tensor([[8, 2], [3, 7]])
        >>> boot = bootstrap_confmat(cm, 100, seed=0)
        >>> tuple(boot.shape), boot.sum(-1).unique(dim=0).tolist()
        ((100, 2, 2), [[10, 10]])
    """
    _check_positive_int(n_bootstrap, "n_bootstrap")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
    cm = _check_confmat(confmat)
    if not bool((cm == cm.round()).all()):
        raise ValueError("`confmat` must hold integer counts to be resampled")
    generator = torch.Generator(device=cm.device).manual_seed(seed)
    # conditional probabilities p_k / Σ_{j≥k} p_j, computed once on the un-replicated counts
    tail = cm.flip(-1).cumsum(-1).flip(-1)
    cond_prob = torch.where(tail > 0, cm / tail.clamp_min(1e-300), torch.zeros_like(cm)).clamp(0.0, 1.0)
    remaining = cm.sum(-1).expand(n_bootstrap, *cm.shape[:-1]).contiguous()  # [B, ..., C]
    num_cols = cm.shape[-1]
    draws = []
    for k in range(num_cols - 1):  # loop over the K columns only; everything else is one tensor op
        draw = torch.binomial(remaining, cond_prob[..., k].expand_as(remaining).contiguous(), generator=generator)
        draws.append(draw)
        remaining = remaining - draw
    draws.append(remaining)
    out = torch.stack(draws, dim=-1)
    return out.round().to(torch.int64)


__all__ = ["basic_interval", "bootstrap_confmat"]


def basic_interval(point: Tensor, percentile_ci: Tensor) -> Tensor:
    r"""The 'basic' (reverse-percentile) bootstrap interval ``[2θ̂ − q_hi, 2θ̂ − q_lo]`` from a percentile interval.

    It corrects a shift of the bootstrap distribution relative to the estimate to first order (here: the plug-in
    bias of mutual information, which grows under resampling), so unlike the percentile interval it does not drift
    away from the estimate when the estimator is biased.

    Args:
        point: the estimate ``θ̂`` (any shape ``S``).
        percentile_ci: ``[..., 2]`` = ``(q_lo, q_hi)`` percentile bounds of the replicates, broadcastable with ``S``.

    Returns:
        ``[..., 2]`` = (low, high).

    Example:
        >>> import torch
        >>> basic_interval(torch.tensor(1.0), torch.tensor([1.1, 1.5])).tolist()
        [0.5, 0.8999999761581421]
    """
    point = torch.as_tensor(point)
    return torch.stack([2 * point - percentile_ci[..., 1], 2 * point - percentile_ci[..., 0]], dim=-1)
