"""Mutual information of a classifier's channel, read off a confusion matrix (the *rate* of rdmetrics).

Conventions (rdmetrics' definitions, see the README):

* ``confmat[..., x, y]`` counts trials with true class ``x`` (``C`` rows) and response ``y`` (``K`` columns; ``K = C``,
  or ``K = C + 1`` when the last column is an *abstain* / no-answer response). Leading dims are batch dims.
* channel ``p(y|x) = N(x, y) / sum_y' N(x, y')`` (row-normalised counts);
* prior ``p(x)``: ``"uniform"`` (``1/C``), ``"empirical"`` (row sums / total) or a tensor of ``C`` weights;
* rate ``I(X;Y) = sum_x sum_y p(x) p(y|x) log_b[p(y|x) / p(y)]`` with ``p(y) = sum_x p(x) p(y|x)``.

Rows with no counts (a class never shown) have no channel. With ``empty_rows="raise"`` (default) a row that has
positive prior weight but no counts raises a ``ValueError`` naming the row; with ``empty_rows="drop"`` the prior is
renormalised over the observed rows. With the empirical prior an empty row simply has weight 0.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from rdmetrics.utilities.checks import _check_finite, _check_tensor

PriorType = Literal["uniform", "empirical"] | Tensor
CorrectionType = Literal["none", "miller_madow"]
EmptyRowsType = Literal["raise", "drop"]


def _check_confmat(confmat: Tensor, name: str = "confmat") -> Tensor:
    """Validate a ``[..., C, K]`` count tensor; return it as float64."""
    _check_tensor(confmat, name)
    if confmat.ndim < 2:
        raise ValueError(f"`{name}` must have shape [..., C, K], got shape {tuple(confmat.shape)}")
    if confmat.is_complex() or confmat.dtype == torch.bool:
        raise TypeError(f"`{name}` must hold real counts, got dtype {confmat.dtype}")
    num_classes, num_cols = confmat.shape[-2], confmat.shape[-1]
    if num_classes < 1 or num_cols < 1:
        raise ValueError(f"`{name}` must have at least one row and one column, got shape {tuple(confmat.shape)}")
    cm = confmat.detach().to(torch.float64)
    _check_finite(cm, name)
    if bool((cm < 0).any()):
        raise ValueError(f"`{name}` has negative counts")
    return cm


def _resolve_prior(
    cm: Tensor, prior: PriorType, empty_rows: EmptyRowsType = "raise", name: str = "confmat"
) -> tuple[Tensor, Tensor]:
    """Return ``(p_x [..., C], row_counts [..., C])`` for a float64 count tensor ``cm [..., C, K]``."""
    if empty_rows not in ("raise", "drop"):
        raise ValueError(f"`empty_rows` must be 'raise' or 'drop', got {empty_rows!r}")
    num_classes = cm.shape[-2]
    rows = cm.sum(dim=-1)
    totals = rows.sum(dim=-1)
    if bool((totals <= 0).any()):
        idx = torch.nonzero(totals <= 0)[0].tolist()
        raise ValueError(f"`{name}` is empty (no counts) at batch index {tuple(idx)}: nothing to estimate")
    if isinstance(prior, Tensor):
        p = prior.detach().to(device=cm.device, dtype=torch.float64)
        if p.shape[-1] != num_classes:
            raise ValueError(f"`prior` must have {num_classes} entries (one per row), got shape {tuple(p.shape)}")
        _check_finite(p, "prior")
        if bool((p < 0).any()) or bool((p.sum(-1) <= 0).any()):
            raise ValueError("`prior` must be non-negative with a positive sum")
        p = torch.broadcast_to(p, rows.shape)
    elif prior == "uniform":
        p = torch.full_like(rows, 1.0)
    elif prior == "empirical":
        p = rows.clone()
    else:
        raise ValueError(f"`prior` must be 'uniform', 'empirical' or a tensor, got {prior!r}")
    missing = (rows <= 0) & (p > 0)
    if bool(missing.any()):
        if empty_rows == "raise":
            idx = torch.nonzero(missing)[0].tolist()
            where = f"row (true class) {idx[-1]}" + (f" of batch index {tuple(idx[:-1])}" if len(idx) > 1 else "")
            raise ValueError(
                f"`{name}` {where} has no counts but positive prior weight: the channel p(y|x) is undefined there."
                " Pass empty_rows='drop' to renormalise the prior over the observed rows, or use prior='empirical'."
            )
        p = torch.where(rows > 0, p, torch.zeros_like(p))
        if bool((p.sum(-1) <= 0).any()):
            raise ValueError("`prior` puts no weight on any observed row")
    p = p / p.sum(dim=-1, keepdim=True)
    return p, rows


def _channel(cm: Tensor, rows: Tensor) -> Tensor:
    """Row-normalised channel ``p(y|x)``; empty rows become all zeros (they carry zero prior weight)."""
    return cm / rows.clamp_min(1e-300).unsqueeze(-1)


def _plugin_mi(p_x: Tensor, channel: Tensor) -> Tensor:
    """Plug-in ``I(X;Y)`` in nats for ``p_x [..., C]`` and ``channel [..., C, K]``."""
    joint = p_x.unsqueeze(-1) * channel
    p_y = joint.sum(dim=-2, keepdim=True)
    ratio = channel / p_y.clamp_min(1e-300)
    terms = torch.where(joint > 0, joint * torch.log(ratio.clamp_min(1e-300)), torch.zeros_like(joint))
    return terms.sum(dim=(-2, -1))


def _miller_madow_bias(cm: Tensor) -> Tensor:
    """Miller–Madow bias of the plug-in MI in nats: ``(K_xy − K_x − K_y + 1) / (2N)`` over non-empty cells."""
    k_xy = (cm > 0).sum(dim=(-2, -1)).to(torch.float64)
    k_x = (cm.sum(-1) > 0).sum(-1).to(torch.float64)
    k_y = (cm.sum(-2) > 0).sum(-1).to(torch.float64)
    n = cm.sum(dim=(-2, -1))
    return (k_xy - k_x - k_y + 1.0) / (2.0 * n)


def mutual_information(
    confmat: Tensor,
    prior: PriorType = "uniform",
    correction: CorrectionType = "none",
    base: float = 2,
    empty_rows: EmptyRowsType = "raise",
) -> Tensor:
    r"""Mutual information ``I(X;Y)`` of the channel estimated from confusion-matrix counts.

    .. math::
        I(X;Y) = \sum_x \sum_y p(x)\,\hat p(y|x) \log_b \frac{\hat p(y|x)}{\hat p(y)},\quad
        \hat p(y|x) = \frac{N(x,y)}{\sum_{y'} N(x,y')},\quad \hat p(y) = \sum_x p(x)\hat p(y|x)

    With ``correction="miller_madow"`` the plug-in estimate is reduced by the Miller–Madow bias
    ``(K_xy − K_x − K_y + 1) / (2 N ln b)`` where ``K_xy``, ``K_x``, ``K_y`` count the non-empty cells, rows and
    columns and ``N`` is the total count (the same correction is used whatever the prior). The result is always
    clipped to ``[0, log_b C]`` (the correction can push it outside).

    Args:
        confmat: counts ``[..., C, K]`` (rows = true class, columns = response; ``K = C`` or ``C + 1`` with an
            abstain column). Leading dimensions are batch dimensions.
        prior: ``"uniform"``, ``"empirical"`` (row sums) or a tensor of ``C`` (broadcastable) non-negative weights.
        correction: ``"none"`` (plug-in) or ``"miller_madow"``.
        base: logarithm base (2 = bits).
        empty_rows: ``"raise"`` (default): a row with no counts and positive prior weight raises ``ValueError``
            naming the row; ``"drop"``: renormalise the prior over the observed rows.

    Returns:
        float64 tensor of shape ``confmat.shape[:-2]``: the rate in units of ``log base``.

    Raises:
        ValueError: on NaN/inf or negative counts, an all-zero matrix ("empty"), an empty row (see above), a bad
            prior, correction or base.

    Example:
        >>> import torch
        >>> from rdmetrics.functional import mutual_information
        >>> round(float(mutual_information(torch.eye(4) * 10)), 4)  # perfect 4-class channel: log2 4 bits
        2.0
        >>> cm = torch.tensor([[8, 2], [2, 8]])
        >>> round(float(mutual_information(cm)), 4)  # binary symmetric channel, error 0.2: 1 - h2(0.2)
        0.2781
    """
    cm = _check_confmat(confmat)
    if correction not in ("none", "miller_madow"):
        raise ValueError(f"`correction` must be 'none' or 'miller_madow', got {correction!r}")
    if not isinstance(base, (int, float)) or isinstance(base, bool) or base <= 1:
        raise ValueError(f"`base` must be a number > 1, got {base!r}")
    p_x, rows = _resolve_prior(cm, prior, empty_rows)
    mi = _plugin_mi(p_x, _channel(cm, rows))
    if correction == "miller_madow":
        mi = mi - _miller_madow_bias(cm)
    mi = mi / math.log(base)
    return mi.clamp(0.0, math.log(cm.shape[-2]) / math.log(base))


__all__ = ["mutual_information"]
