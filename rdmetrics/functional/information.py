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

from rdmetrics.utilities.checks import _check_finite, _check_positive_int, _check_tensor

PriorType = Literal["uniform", "empirical"] | Tensor
CorrectionType = Literal["none", "miller_madow", "jackknife", "panzeri_treves", "quadratic_extrapolation", "shuffle"]
EmptyRowsType = Literal["raise", "drop"]

#: every rate estimator accepted by ``correction=`` (discoverable at run time, e.g. by benchmarks)
CORRECTIONS: tuple[str, ...] = (
    "none",
    "miller_madow",
    "jackknife",
    "panzeri_treves",
    "quadratic_extrapolation",
    "shuffle",
)
#: estimators that draw random numbers (seeded by ``seed``)
RANDOM_CORRECTIONS: tuple[str, ...] = ("quadratic_extrapolation", "shuffle")


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


def _xlogx(t: Tensor) -> Tensor:
    return torch.special.xlogy(t, t)


# ---------------------------------------------------------------------------------------------------------------------
# jackknife (leave-one-trial-out, exact per cell)


def _jackknife_mi(cm: Tensor, p_x: Tensor, rows: Tensor, empirical: bool) -> Tensor:
    r"""Jackknife MI in nats: ``N Î − (N−1)/N Σ_{x,y} n_xy Î_{−(x,y)}`` with ``Î_{−(x,y)}`` the plug-in MI after
    removing one trial from cell ``(x, y)``, computed exactly for every cell in ``O(C K)`` (no resampling).

    ``empirical``: the prior follows the counts (``p(x) = n_x / N``, re-estimated after the removal); otherwise the
    prior ``p_x`` is fixed (uniform / given weights; a row whose only trial is removed leaves the prior renormalised
    over the remaining rows).
    """
    n = cm.sum(dim=(-2, -1))  # [...]
    if empirical:
        a = _xlogx(cm).sum(dim=(-2, -1))
        n_x, n_y = cm.sum(-1), cm.sum(-2)
        b = _xlogx(n_x).sum(-1)
        c = _xlogx(n_y).sum(-1)
        full = (a - b - c + _xlogx(n)) / n
        nm1 = (n - 1).clamp_min(1.0)
        a_loo = a[..., None, None] - _xlogx(cm) + _xlogx((cm - 1).clamp_min(0))
        b_loo = b[..., None, None] - _xlogx(n_x)[..., :, None] + _xlogx((n_x - 1).clamp_min(0))[..., :, None]
        c_loo = c[..., None, None] - _xlogx(n_y)[..., None, :] + _xlogx((n_y - 1).clamp_min(0))[..., None, :]
        loo = (a_loo - b_loo - c_loo + _xlogx(n - 1)[..., None, None]) / nm1[..., None, None]
    else:
        channel = _channel(cm, rows)
        full = _plugin_mi(p_x, channel)
        q_y = (p_x.unsqueeze(-1) * channel).sum(-2)  # [..., K]
        phi_total = _xlogx(q_y).sum(-1)  # Σ_y φ(q_y)
        s_x = _xlogx(cm).sum(-1)  # Σ_y φ(n_xy)  [..., C]
        safe_n = rows.clamp_min(1.0)
        h_x = torch.where(rows > 0, torch.log(safe_n) - s_x / safe_n, torch.zeros_like(rows))
        h_cond = (p_x * h_x).sum(-1)  # H(Y|X)
        # rows with n_x >= 2: the row keeps weight p_x, its channel changes
        nm1 = (rows - 1).clamp_min(1.0)
        a_x = p_x / (safe_n * nm1)  # [..., C]
        base = q_y.unsqueeze(-2) + a_x.unsqueeze(-1) * cm  # [..., C, K]
        t_x = _xlogx(base).sum(-1)  # [..., C]
        shifted = (base - (p_x / nm1).unsqueeze(-1)).clamp_min(0.0)
        phi_loo = t_x.unsqueeze(-1) - _xlogx(base) + _xlogx(shifted)
        h_x_loo = torch.log(nm1).unsqueeze(-1) - (
            s_x.unsqueeze(-1) - _xlogx(cm) + _xlogx((cm - 1).clamp_min(0))
        ) / nm1.unsqueeze(-1)
        h_cond_loo = (h_cond.unsqueeze(-1) - p_x * h_x).unsqueeze(-1) + p_x.unsqueeze(-1) * h_x_loo
        loo_multi = -phi_loo - h_cond_loo
        # rows with n_x == 1: the row disappears and the prior is renormalised over the others
        s = (1.0 - p_x).clamp_min(1e-300)  # [..., C]
        q_minus = (q_y.unsqueeze(-2) - p_x.unsqueeze(-1)).clamp_min(0.0)  # q_y − p_x at column y
        phi_single = (
            phi_total.unsqueeze(-1).unsqueeze(-1) - _xlogx(q_y).unsqueeze(-2) + _xlogx(q_minus)
        ) / s.unsqueeze(-1) - torch.log(s).unsqueeze(-1)
        loo_single = -phi_single - (h_cond.unsqueeze(-1) / s).unsqueeze(-1)
        loo_single = torch.where((p_x < 1.0).unsqueeze(-1), loo_single, torch.zeros_like(loo_single))
        loo = torch.where((rows > 1).unsqueeze(-1), loo_multi, loo_single)
    weighted = torch.where(cm > 0, cm * loo, torch.zeros_like(cm)).sum(dim=(-2, -1))
    jack = n * full - (n - 1) / n.clamp_min(1.0) * weighted
    return torch.where(n > 1, jack, full)


# ---------------------------------------------------------------------------------------------------------------------
# Panzeri–Treves with the Bayesian count of relevant bins


def _pt_bayes_count(counts: Tensor) -> Tensor:
    """Panzeri–Treves (1996) Bayesian estimate of the number of relevant bins of each distribution ``counts [M, K]``.

    Vectorised form of the published procedure (as in the Information Breakdown Toolbox / pyentropy
    ``pt_bayescount``): with ``R`` observed non-empty bins out of ``K`` and ``n`` trials, try ``x = 1, 2, …`` extra
    bins, each given the posterior mass ``γ/x`` with ``γ = x (1 − (n / (n + R))^{1/n})`` and the occupied bins
    ``(1 − γ)(n_k + 1)/(n + R)``; stop at the first ``x`` whose expected number of occupied bins
    ``Σ (1 − (1 − p)^n)`` moves away from ``R`` and report ``R + x − 1`` (or ``K`` when every extra bin helped).
    Rows with no trials give 0.
    """
    num_cols = counts.shape[-1]
    n = counts.sum(-1)
    occ = counts > 0
    r_naive = occ.sum(-1).to(torch.float64)
    safe_n = n.clamp_min(1.0)
    p = counts / safe_n[:, None]
    r_exp = torch.where(occ, 1.0 - (1.0 - p) ** safe_n[:, None], torch.zeros_like(p)).sum(-1)
    delta = (r_naive - r_exp).abs()
    delta_prev = torch.full_like(delta, float(num_cols))
    xtr = torch.zeros_like(delta)
    running = (r_naive < num_cols) & (n > 0)
    searched = running.clone()
    gamma_base = 1.0 - (safe_n / (safe_n + r_naive)) ** (1.0 / safe_n)
    while bool(running.any()):
        xtr = torch.where(running, xtr + 1.0, xtr)
        gamma = xtr * gamma_base
        p_occ = (1.0 - gamma)[:, None] * (counts + 1.0) / (safe_n + r_naive)[:, None]
        expect = torch.where(occ, 1.0 - (1.0 - p_occ) ** safe_n[:, None], torch.zeros_like(p_occ)).sum(-1)
        p_new = gamma / xtr.clamp_min(1.0)
        expect = expect + xtr * (1.0 - (1.0 - p_new) ** safe_n)
        new_delta = (r_naive - expect).abs()
        delta_prev = torch.where(running, delta, delta_prev)
        delta = torch.where(running, new_delta, delta)
        running = running & (delta < delta_prev) & (r_naive + xtr < num_cols)
    bayes = r_naive + xtr - 1.0 + (delta < delta_prev).to(torch.float64)
    return torch.where(searched, bayes, r_naive)


def _panzeri_treves_bias(cm: Tensor, max_elements: int = 1 << 24) -> Tensor:
    r"""Panzeri–Treves (1996) bias of the plug-in MI in nats: ``[Σ_x (R̃_x − 1) − (R̃ − 1)] / (2N)`` with ``R̃_x``,
    ``R̃`` the Bayesian counts of relevant responses of each row (``n_x`` trials) and of the response marginal
    (``N`` trials); rows without trials are left out. With every ``R̃`` equal to the observed count this is
    Miller–Madow."""
    batch, (num_rows, num_cols) = cm.shape[:-2], cm.shape[-2:]
    flat = cm.reshape(-1, num_rows, num_cols)
    out = torch.empty(flat.shape[0], dtype=torch.float64, device=cm.device)
    step = max(1, max_elements // max(1, num_rows * num_cols))
    for start in range(0, flat.shape[0], step):
        block = flat[start : start + step]
        rows = block.sum(-1)
        r_rows = _pt_bayes_count(block.reshape(-1, num_cols)).reshape(rows.shape)
        r_rows = torch.where(rows > 0, r_rows - 1.0, torch.zeros_like(r_rows)).sum(-1)
        r_all = _pt_bayes_count(block.sum(-2))
        out[start : start + step] = (r_rows - (r_all - 1.0)) / (2.0 * rows.sum(-1))
    return out.reshape(batch)


# ---------------------------------------------------------------------------------------------------------------------
# trial-level random helpers (permutation null, subsamples): one seeded generator per call


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) & ((1 << 63) - 1))


def _trial_labels(tables: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Table, row and column label of every trial of integer tables ``[T, C, K]`` (trials ordered by cell)."""
    num_tables, num_rows, num_cols = tables.shape
    counts = tables.reshape(-1).round().to(torch.int64).cpu()
    cells = torch.repeat_interleave(torch.arange(num_tables * num_rows * num_cols), counts)
    return cells // (num_rows * num_cols), (cells // num_cols) % num_rows, cells % num_cols


def _permutation_tables(tables: Tensor, num: int, generator: torch.Generator, max_elements: int = 1 << 22) -> Tensor:
    """``num`` tables drawn from the permutation null of every table in ``tables`` (``[C, K]`` or ``[T, C, K]``): the
    responses of a table's trials are shuffled across its trials, so row totals and response totals stay fixed and
    X, Y are independent (hypergeometric tables). One tensor program for all tables.

    Returns float64 ``[num, C, K]`` (or ``[num, T, C, K]``) on the input's device.
    """
    single = tables.ndim == 2
    t3 = tables[None] if single else tables
    num_tables, num_rows, num_cols = t3.shape
    tid, rows, cols = _trial_labels(t3)
    total = rows.numel()
    cells = num_tables * num_rows * num_cols
    out = torch.empty(num, cells, dtype=torch.float64)
    step = max(1, max_elements // max(1, total))
    base = (tid * num_rows + rows) * num_cols
    for start in range(0, num, step):
        m = min(step, num - start)
        # a random order of the trials within each table: sort by table id + a uniform key
        perm = (
            tid.to(torch.float64)[None, :] + torch.rand(m, total, generator=generator, dtype=torch.float64)
        ).argsort(-1)
        flat = base[None, :] + cols[perm] + torch.arange(m)[:, None] * cells
        out[start : start + m] = torch.bincount(flat.reshape(-1), minlength=m * cells).reshape(m, -1).to(torch.float64)
    out = out.reshape(num, num_tables, num_rows, num_cols).to(tables.device)
    return out[:, 0] if single else out


def _subsample_tables(tables: Tensor, parts: int, generator: torch.Generator) -> Tensor:
    """Split the trials of every row of every table (``[C, K]`` or ``[T, C, K]``) at random into ``parts``
    near-equal disjoint subsets (stratified by row; sizes ``⌊n_x/parts⌋`` or one more). Returns float64
    ``[parts, C, K]`` (or ``[parts, T, C, K]``) summing to the input.

    The split for ``parts = 4`` nests in the split for ``parts = 2`` when drawn with the same generator state (both
    are read off one random order of each row's trials).
    """
    single = tables.ndim == 2
    t3 = tables[None] if single else tables
    num_tables, num_rows, num_cols = t3.shape
    tid, rows, cols = _trial_labels(t3)
    group = tid * num_rows + rows  # (table, row) of every trial, non-decreasing
    order = torch.argsort(group.to(torch.float64) + torch.rand(group.numel(), generator=generator, dtype=torch.float64))
    group, cols = group[order], cols[order]
    n_g = t3.sum(-1).reshape(-1).round().to(torch.int64).cpu()
    start = torch.cumsum(n_g, 0) - n_g
    pos = torch.arange(group.numel()) - start[group]
    part = (pos * parts) // n_g[group].clamp_min(1)
    cells = num_tables * num_rows * num_cols
    flat = part * cells + group * num_cols + cols
    out = torch.bincount(flat, minlength=parts * cells).to(torch.float64)
    out = out.reshape(parts, num_tables, num_rows, num_cols).to(tables.device)
    return out[:, 0] if single else out


def _flat_tables(cm: Tensor, prior: PriorType) -> tuple[Tensor, PriorType]:
    """``cm [..., C, K]`` as ``[T, C, K]`` and the prior flattened the same way: a tensor prior (already checked by
    :func:`_resolve_prior`; ``[C]`` or any shape broadcastable to ``[..., C]``) becomes ``[T, C]``, one row per table,
    so that it still pairs with its own table (and with every resampled copy of it) after the batch dims are merged.
    """
    if not bool((cm == cm.round()).all()):
        raise ValueError("this rate estimator resamples trials: `confmat` must hold integer counts")
    if isinstance(prior, Tensor):
        p = prior.detach().to(device=cm.device, dtype=torch.float64)
        prior = torch.broadcast_to(p, cm.shape[:-1]).reshape(-1, cm.shape[-2])
    return cm.reshape(-1, *cm.shape[-2:]), prior


def _shuffle_mean_plugin(cm: Tensor, prior: PriorType, empty_rows: EmptyRowsType, n_shuffles: int, seed: int) -> Tensor:
    """Mean plug-in MI (nats) over ``n_shuffles`` permutation-null tables of every table in ``cm [..., C, K]``."""
    flat, prior = _flat_tables(cm, prior)
    generator = _generator(seed)
    total = torch.zeros(flat.shape[0], dtype=torch.float64, device=cm.device)
    per = max(1, flat.numel())
    step = max(1, (1 << 23) // per)
    for start in range(0, n_shuffles, step):
        null = _permutation_tables(flat, min(step, n_shuffles - start), generator)  # [S, T, C, K]
        p_x, rows = _resolve_prior(null, prior, empty_rows)
        total = total + _plugin_mi(p_x, _channel(null, rows)).sum(0)
    return (total / n_shuffles).reshape(cm.shape[:-2])


def _lagrange_at_zero(x: Tensor, y: Tensor) -> Tensor:
    """Value at 0 of the polynomial through the points ``(x_i, y_i)`` (last dim), vectorised."""
    num = x.shape[-1]
    total = torch.zeros_like(y[..., 0])
    for i in range(num):
        w = torch.ones_like(total)
        for j in range(num):
            if j != i:
                w = w * (0.0 - x[..., j]) / (x[..., i] - x[..., j])
        total = total + w * y[..., i]
    return total


def _quadratic_extrapolation_mi(cm: Tensor, prior: PriorType, seed: int) -> Tensor:
    r"""Quadratic extrapolation (Strong et al. 1998) in nats: the plug-in MI of the whole table and the means over
    a random split of every row's trials into halves and into quarters, fitted by ``I(N) = I_∞ + a/N + b/N²``
    through the three points ``(1/N, Î_N)``, ``(mean 1/N_half, mean Î_half)``, ``(mean 1/N_quarter, mean
    Î_quarter)`` (exact interpolation); the estimate is ``I_∞``. Rows left without trials in a subsample are
    dropped from that subsample's prior. A table with fewer than 4 trials in some observed row gives the plug-in.
    One tensor program for all tables of the batch."""
    flat, prior = _flat_tables(cm, prior)
    generator = _generator(seed)
    p_x, rows = _resolve_prior(flat, prior, "drop")
    full = _plugin_mi(p_x, _channel(flat, rows))  # [T]
    state = generator.get_state()
    halves = _subsample_tables(flat, 2, generator)
    generator.set_state(state)
    quarters = _subsample_tables(flat, 4, generator)
    xs, ys = [1.0 / flat.sum(dim=(-2, -1))], [full]
    for sub in (halves, quarters):
        sizes = sub.sum(dim=(-2, -1))  # [parts, T]
        safe = torch.where((sizes > 0)[..., None, None], sub, torch.ones_like(sub))  # empty only for tiny tables
        p_s, rows_s = _resolve_prior(safe, prior, "drop")
        ys.append(_plugin_mi(p_s, _channel(safe, rows_s)).mean(0))
        xs.append((1.0 / sizes.clamp_min(1.0)).mean(0))
    extrapolated = _lagrange_at_zero(torch.stack(xs, -1), torch.stack(ys, -1))
    observed_min = torch.where(rows > 0, rows, torch.full_like(rows, float("inf"))).min(-1).values
    out = torch.where(observed_min >= 4, extrapolated, full)
    return out.reshape(cm.shape[:-2])


# ---------------------------------------------------------------------------------------------------------------------


def _check_correction(correction: object) -> None:
    if correction not in CORRECTIONS:
        raise ValueError(f"`correction` must be one of {CORRECTIONS}, got {correction!r}")


def _rate_nats(
    cm: Tensor,
    prior: PriorType,
    correction: str,
    empty_rows: EmptyRowsType,
    seed: int = 0,
    n_shuffles: int = 20,
) -> Tensor:
    """Unclipped rate estimate in nats of the float64 count tensor ``cm [..., C, K]``."""
    p_x, rows = _resolve_prior(cm, prior, empty_rows)
    if correction == "jackknife":
        return _jackknife_mi(cm, p_x, rows, empirical=isinstance(prior, str) and prior == "empirical")
    if correction == "quadratic_extrapolation":
        return _quadratic_extrapolation_mi(cm, prior, seed)
    mi = _plugin_mi(p_x, _channel(cm, rows))
    if correction == "miller_madow":
        mi = mi - _miller_madow_bias(cm)
    elif correction == "panzeri_treves":
        mi = mi - _panzeri_treves_bias(cm)
    elif correction == "shuffle":
        mi = mi - _shuffle_mean_plugin(cm, prior, empty_rows, n_shuffles, seed)
    return mi


def mutual_information(
    confmat: Tensor,
    prior: PriorType = "uniform",
    correction: CorrectionType = "none",
    base: float = 2,
    empty_rows: EmptyRowsType = "raise",
    *,
    seed: int = 0,
    n_shuffles: int = 20,
) -> Tensor:
    r"""Mutual information ``I(X;Y)`` of the channel estimated from confusion-matrix counts.

    .. math::
        I(X;Y) = \sum_x \sum_y p(x)\,\hat p(y|x) \log_b \frac{\hat p(y|x)}{\hat p(y)},\quad
        \hat p(y|x) = \frac{N(x,y)}{\sum_{y'} N(x,y')},\quad \hat p(y) = \sum_x p(x)\hat p(y|x)

    Rate estimators (``correction``; ``K_xy``, ``K_x``, ``K_y`` count the non-empty cells, rows and columns, ``N``
    the total count; bias terms are computed from the counts whatever the prior):

    * ``"none"``: the plug-in estimate above (positively biased with few trials);
    * ``"miller_madow"`` (Miller 1955): plug-in − ``(K_xy − K_x − K_y + 1) / (2 N ln b)``;
    * ``"panzeri_treves"`` (Panzeri & Treves 1996): plug-in − ``[Σ_x (R̃_x − 1) − (R̃ − 1)] / (2 N ln b)`` with the
      Bayesian counts ``R̃`` of relevant response bins per row and overall (larger than the observed counts when
      the rows are undersampled; equal to Miller–Madow when nothing is undersampled);
    * ``"jackknife"`` (Efron & Stein 1981; leave-one-trial-out): ``N Î − (N−1)/N Σ_{x,y} n_xy Î_{−(x,y)}``, every
      leave-one-out estimate computed exactly per cell (no resampling), vectorised;
    * ``"quadratic_extrapolation"`` (Strong et al. 1998): the plug-in on the full data, on a random split of every
      row's trials into halves and into quarters, extrapolated to ``N → ∞`` by ``I_∞ + a/N + b/N²`` (seeded);
    * ``"shuffle"`` (permutation-subtracted; Panzeri et al. 2007): plug-in − the mean plug-in over ``n_shuffles``
      tables whose responses are permuted across trials (same row and response totals, no dependence; seeded).

    Every estimator accepts any number of leading batch dims (with a tensor prior of shape ``[C]`` or broadcastable
    to ``[..., C]``, each table keeps its own prior row). The non-seeded estimators give, table by table, exactly what
    a call on that table alone gives. The two seeded estimators draw the permutations / splits of the whole batch
    (flattened in C order) from one generator seeded by ``seed``: each table gets different draws, so a table's value
    depends on its position in the batch and the tables before it, and is not the value of a lone call with the same
    seed (it is the same estimator on other draws); ``[A, B, C, K]`` and its ``[A*B, C, K]`` reshape agree exactly.
    The result is always clipped to ``[0, log_b C]`` (corrections can push it outside).

    Args:
        confmat: counts ``[..., C, K]`` (rows = true class, columns = response; ``K = C`` or ``C + 1`` with an
            abstain column). Leading dimensions are batch dimensions.
        prior: ``"uniform"``, ``"empirical"`` or a tensor of ``C`` (broadcastable) non-negative weights.
        correction: one of :data:`CORRECTIONS` (above).
        base: logarithm base (2 = bits).
        empty_rows: ``"raise"`` (default): a row with no counts and positive prior weight raises ``ValueError``
            naming the row; ``"drop"``: renormalise the prior over the observed rows.
        seed: seed of the random subsamples / permutations (``"quadratic_extrapolation"``, ``"shuffle"``).
        n_shuffles: number of permutations for ``"shuffle"``.

    Returns:
        float64 tensor of shape ``confmat.shape[:-2]``: the rate in units of ``log base``.

    Raises:
        ValueError: on NaN/inf or negative counts, an all-zero matrix ("empty"), an empty row (see above), a bad
            prior, correction or base, non-integer counts for a seeded estimator.

    Example:
        >>> import torch
        >>> from rdmetrics.functional import mutual_information
        >>> round(float(mutual_information(torch.eye(4) * 10)), 4)  # perfect 4-class channel: log2 4 bits
        2.0
        >>> cm = torch.tensor([[8, 2], [2, 8]])
        >>> round(float(mutual_information(cm)), 4)  # binary symmetric channel, error 0.2: 1 - h2(0.2)
        0.2781
        >>> round(float(mutual_information(cm, correction="jackknife")), 4)  # bias-reduced: smaller
        0.211
    """
    cm = _check_confmat(confmat)
    _check_correction(correction)
    if not isinstance(base, (int, float)) or isinstance(base, bool) or base <= 1:
        raise ValueError(f"`base` must be a number > 1, got {base!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
    _check_positive_int(n_shuffles, "n_shuffles")
    mi = _rate_nats(cm, prior, correction, empty_rows, seed=seed, n_shuffles=n_shuffles) / math.log(base)
    return mi.clamp(0.0, math.log(cm.shape[-2]) / math.log(base))


__all__ = ["CORRECTIONS", "mutual_information"]
