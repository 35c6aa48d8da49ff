r"""Directional-confusion asymmetry of a classifier's channel, read off a confusion matrix.

The follow-up to the RD-signatures paper (arXiv 2604.21909) reports that humans make *broad but weak* directional
confusions and DNNs *sparse, strong* collapses into a few dominant categories. rdmetrics' definitions (the paper's
exact estimator is not public; these are documented reconstructions):

With counts ``N[x, y]`` (true class ``x`` of ``C``, response ``y``; an optional last *abstain* column is not a
confusion and is ignored, but its trials still count in the row total ``n_x``), the prior ``p(x)`` and the
row-normalised channel ``q(y|x) = N[x, y] / n_x``, the *error joint* is ``E[x, y] = p(x) q(y|x)`` for ``x ≠ y``
(0 on the diagonal) and ``ε = Σ E`` the total (prior-weighted) confusion rate:

* ``asymmetry = Σ_{x<y} |E[x,y] − E[y,x]| / ε`` — 0 when every confusion is matched by its reverse, 1 when every
  confusion is one-way;
* ``top1_error_share = Σ_x max_{y≠x} E[x,y] / ε`` — the share of errors that go to each class's single most common
  wrong answer;
* ``effective_wrong_answers = Σ_x (ε_x / ε) exp(H(E[x,·] / ε_x))`` with ``ε_x = Σ_y E[x,y]`` and the natural-log
  entropy over ``y ≠ x`` (classes without errors skipped): how many distinct wrong answers a class's errors spread
  over (``C − 1`` for uniform errors, 1 for a collapse);
* ``asymmetric_pairs = exp(H(a))`` with ``a_xy = |E[x,y] − E[y,x]| / Σ_{x<y} |E[x,y] − E[y,x]|`` over the pairs
  ``x < y``: the effective number of pairs that carry the asymmetry (NaN when there is none);
* ``asymmetry_null``: the asymmetry a *symmetric* observer would show at this sample size. Under a symmetric error
  joint (``E[x,y] = E[y,x]``) and conditional on each pair's confusion total ``m = N[x,y] + N[y,x]``, the split is
  binomial, ``N[x,y] ~ Bin(m, π)`` with ``π = (n_x/p(x)) / (n_x/p(x) + n_y/p(y))``. With ``w_x = p(x)/n_x``,
  ``|E[x,y] − E[y,x]| = (w_x + w_y) |N[x,y] − mπ|``, so

  .. math::
      \mathrm{asymmetry\_null} = \frac{\sum_{x<y} (w_x + w_y)\,\mathbb E|K - m\pi|}
                                     {\sum_{x<y} m\,\frac{2 w_x w_y}{w_x + w_y}},\qquad K \sim \mathrm{Bin}(m, \pi),

  each expectation computed exactly as a sum over the binomial probabilities (no simulation). The denominator is
  the null expectation of ``ε``; whenever ``p(x) / n_x`` is the same for every class (balanced designs under the
  uniform prior, or the empirical prior) ``ε`` does not depend on the split and this is exactly the null
  expectation of ``asymmetry``; otherwise it is the ratio of the null expectations (documented choice).
  ``asymmetry − asymmetry_null`` (returned as ``asymmetry_excess``) is the asymmetry in excess of sampling noise.
  The binomial split is the many-trials-per-class limit: with fixed row totals ``n`` the two cells of a pair are
  independent and, given ``m``, split hypergeometrically (variance smaller by ``(2n − m)/(2n − 1)``), so at small
  ``n`` the null slightly over-states a symmetric observer's asymmetry (by 0.01–0.02 at 10 trials per class and
  16 classes, see ``tests/test_asymmetry.py``): the excess is then conservative.

Every statistic is NaN where ``ε = 0`` (no confusions). The asymmetry of a small sample is biased upwards (with
few errors most pairs are seen in one direction only), which is what the null quantifies: compare systems at equal
trial counts, or compare their excess.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from rdmetrics.functional.information import _resolve_prior
from rdmetrics.utilities.checks import _check_finite, _check_positive_int, _check_tensor

PriorType = Literal["uniform", "empirical"] | Tensor
_KEYS = ("asymmetry", "top1_error_share", "effective_wrong_answers", "asymmetric_pairs")
_NULL_CHUNK = 2**22  # elements of the [..., pairs, k] binomial table evaluated at once


# ------------------------------------------------------------------------------------------------------- validation


def _confusion_asymmetry_arg_validation(
    confmat: Tensor,
    prior: PriorType,
    abstain: bool | None,
    n_bootstrap: int,
    ci: float,
    empty_rows: str,
) -> tuple[Tensor, int]:
    """Validate the inputs; return the float64 counts ``[..., C, K]`` and the number of classes ``C``."""
    _check_tensor(confmat, "confmat")
    if confmat.ndim < 2:
        raise ValueError(f"`confmat` must have shape [C, K] or [..., C, K], got shape {tuple(confmat.shape)}")
    if confmat.is_complex() or confmat.dtype == torch.bool:
        raise TypeError(f"`confmat` must hold real counts, got dtype {confmat.dtype}")
    num_classes, num_cols = confmat.shape[-2], confmat.shape[-1]
    if num_classes < 2:
        raise ValueError(f"`confmat` needs at least 2 classes (rows), got shape {tuple(confmat.shape)}")
    if abstain is None:
        if num_cols not in (num_classes, num_classes + 1):
            raise ValueError(
                f"`confmat` must be [..., C, C] or [..., C, C + 1] (last column = abstain), got shape"
                f" {tuple(confmat.shape)}"
            )
    elif num_cols != num_classes + int(bool(abstain)):
        raise ValueError(
            f"`confmat` with abstain={abstain} must have {num_classes + int(bool(abstain))} columns, got shape"
            f" {tuple(confmat.shape)}"
        )
    cm = confmat.detach().to(torch.float64)
    _check_finite(cm, "confmat")
    if bool((cm < 0).any()):
        raise ValueError("`confmat` has negative counts")
    if isinstance(prior, Tensor):
        if prior.shape[-1:] != (num_classes,):
            raise ValueError(f"`prior` must have {num_classes} entries (one per row), got shape {tuple(prior.shape)}")
        _check_finite(prior.detach().to(torch.float64), "prior")
        if bool((prior < 0).any()) or bool((prior.sum(-1) <= 0).any()):
            raise ValueError("`prior` must be non-negative with a positive sum")
    elif prior not in ("uniform", "empirical"):
        raise ValueError(f"`prior` must be 'uniform', 'empirical' or a tensor, got {prior!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or n_bootstrap < 0:
        raise ValueError(f"`n_bootstrap` must be an integer >= 0, got {n_bootstrap!r}")
    if not 0.0 < float(ci) < 1.0:
        raise ValueError(f"`ci` must lie in (0, 1), got {ci!r}")
    if empty_rows not in ("raise", "drop"):
        raise ValueError(f"`empty_rows` must be 'raise' or 'drop', got {empty_rows!r}")
    return cm, num_classes


def _weights(cm: Tensor, num_classes: int, prior: PriorType, empty_rows: str) -> Tensor:
    """``w_x = p(x) / n_x`` ``[..., C]`` (0 for classes without trials or without prior weight); the prior is
    resolved exactly as for the rate (:func:`rdmetrics.functional.information._resolve_prior`)."""
    p, rows = _resolve_prior(cm, prior, empty_rows)
    return torch.where(rows > 0, p / rows.clamp_min(1e-300), torch.zeros_like(p))


# -------------------------------------------------------------------------------------------------------- compute


def _error_joint(cm: Tensor, w: Tensor, num_classes: int) -> Tensor:
    """``E[..., x, y] = p(x) q(y|x)`` for ``x ≠ y`` (diagonal and abstain column dropped)."""
    off = 1.0 - torch.eye(num_classes, dtype=cm.dtype, device=cm.device)
    return w.unsqueeze(-1) * cm[..., :num_classes] * off


def _entropy_exp(prob: Tensor, dim: int) -> Tensor:
    """``exp(H(prob))`` (natural log) along ``dim``; ``prob`` sums to 1 there (rows of zeros give exp(0) = 1)."""
    h = -torch.where(prob > 0, prob * torch.log(prob.clamp_min(1e-300)), torch.zeros_like(prob)).sum(dim)
    return torch.exp(h)


def _pairs(num_classes: int, device: torch.device) -> tuple[Tensor, Tensor]:
    return torch.triu_indices(num_classes, num_classes, offset=1, device=device).unbind(0)


def _asymmetry_null(cm: Tensor, w: Tensor, num_classes: int) -> Tensor:
    """Exact binomial null of ``asymmetry`` (see the module docstring); ``cm`` must hold integer counts."""
    ix, iy = _pairs(num_classes, cm.device)
    nxy, nyx = cm[..., ix, iy], cm[..., iy, ix]  # [..., P]
    m = nxy + nyx
    wx, wy = w[..., ix], w[..., iy]
    wsum = wx + wy
    pi = torch.where(wsum > 0, wy / wsum.clamp_min(1e-300), torch.full_like(wsum, 0.5))
    mean_eps = torch.where(wsum > 0, m * 2.0 * wx * wy / wsum.clamp_min(1e-300), torch.zeros_like(m))
    batch = m.shape[:-1]
    m_flat, pi_flat, ws_flat = m.reshape(-1, m.shape[-1]), pi.reshape(-1, m.shape[-1]), wsum.reshape(-1, m.shape[-1])
    num = torch.zeros(m_flat.shape[0], dtype=torch.float64, device=cm.device)
    m_max = int(m_flat.max()) if m_flat.numel() else 0
    if m_max > 0:
        k = torch.arange(m_max + 1, dtype=torch.float64, device=cm.device)
        rows_per_chunk = max(1, _NULL_CHUNK // (m_flat.shape[-1] * (m_max + 1)))
        for start in range(0, m_flat.shape[0], rows_per_chunk):
            mm = m_flat[start : start + rows_per_chunk, :, None]  # [b, P, 1]
            pp = pi_flat[start : start + rows_per_chunk, :, None]
            valid = k <= mm
            km = (mm - k).clamp_min(0.0)
            log_pmf = (
                torch.lgamma(mm + 1)
                - torch.lgamma(k + 1)
                - torch.lgamma(km + 1)
                + torch.xlogy(k, pp)
                + torch.xlogy(km, 1.0 - pp)
            )
            pmf = torch.where(valid, torch.exp(log_pmf), torch.zeros_like(log_pmf))
            mad = (pmf * (k - mm * pp).abs()).sum(-1)  # E|K − mπ| per pair
            num[start : start + rows_per_chunk] = (ws_flat[start : start + rows_per_chunk] * mad).sum(-1)
    den = mean_eps.sum(-1).reshape(-1)
    null = torch.where(den > 0, num / den.clamp_min(1e-300), torch.full_like(den, math.nan))
    return null.reshape(batch)


def _confusion_asymmetry_compute(
    cm: Tensor, num_classes: int, prior: PriorType, empty_rows: str = "raise", null: bool = True
) -> dict[str, Tensor]:
    """Point statistics of float64 counts ``[..., C, K]`` (each output shaped like the batch dims)."""
    w = _weights(cm, num_classes, prior, empty_rows)
    e = _error_joint(cm, w, num_classes)
    eps = e.sum((-2, -1))
    ok = eps > 0
    nan = torch.full_like(eps, math.nan)
    safe = eps.clamp_min(1e-300)
    diff = (e - e.transpose(-1, -2)).abs()
    asym_mass = diff.sum((-2, -1)) / 2  # Σ_{x<y} |E[x,y] − E[y,x]|
    out: dict[str, Tensor] = {}
    out["asymmetry"] = torch.where(ok, asym_mass / safe, nan)
    out["top1_error_share"] = torch.where(ok, e.max(-1).values.sum(-1) / safe, nan)
    eps_x = e.sum(-1)  # [..., C]
    within = e / eps_x.clamp_min(1e-300).unsqueeze(-1)
    eff_x = _entropy_exp(within, -1)
    out["effective_wrong_answers"] = torch.where(ok, (eps_x * eff_x).sum(-1) / safe, nan)
    ix, iy = _pairs(num_classes, cm.device)
    pair_diff = diff[..., ix, iy]
    a = pair_diff / asym_mass.clamp_min(1e-300).unsqueeze(-1)
    out["asymmetric_pairs"] = torch.where(ok & (asym_mass > 0), _entropy_exp(a, -1), nan)
    if null:
        out["asymmetry_null"] = torch.where(ok, _asymmetry_null(cm, w, num_classes), nan)
        out["asymmetry_excess"] = out["asymmetry"] - out["asymmetry_null"]
    out["error_rate"] = eps
    return out


def _summarise(point: Tensor, replicates: Tensor, ci: float, ci_method: str) -> dict[str, Tensor]:
    """Bootstrap summary: the library's ``bootstrap_summary`` when available, else NaN-aware basic/percentile."""
    import rdmetrics.functional as F

    try:
        summary = F.bootstrap_summary  # the library's summary (rdmetrics.functional.bootstrap), when it exists
    except AttributeError:
        summary = None
    if summary is not None:
        return dict(summary(point, replicates, ci, ci_method))
    from rdmetrics.functional.bootstrap import basic_interval

    if ci_method not in ("basic", "percentile"):
        raise ValueError(f"`ci_method` must be 'basic' or 'percentile', got {ci_method!r}")
    qs = torch.tensor([(1 - ci) / 2, (1 + ci) / 2], dtype=torch.float64, device=point.device)
    q = torch.nanquantile(replicates, qs, dim=0).movedim(0, -1)  # [..., 2]
    interval = q if ci_method == "percentile" else basic_interval(point, q)
    return {"value": point, "ci": interval, "bias": replicates.nanmean(0) - point}


def confusion_asymmetry(
    confmat: Tensor,
    prior: PriorType = "uniform",
    *,
    abstain: bool | None = None,
    null: bool = True,
    n_bootstrap: int = 0,
    ci: float = 0.95,
    seed: int = 0,
    ci_method: str = "basic",
    empty_rows: Literal["raise", "drop"] = "raise",
) -> dict[str, Tensor]:
    r"""Directional-confusion asymmetry, top-1 error share, effective wrong answers and the sampling null.

    See the module docstring of :mod:`rdmetrics.functional.asymmetry` for the definitions (rdmetrics' documented
    reconstruction of the follow-up paper's measures). Computed per condition: a ``[C, K]`` matrix gives scalars,
    ``[L, C, K]`` (or any leading batch dims) gives ``[L]``-shaped outputs.

    Args:
        confmat: counts ``[..., C, K]``: rows = true class, columns = response; ``K = C`` or ``K = C + 1`` with a
            last *abstain* column (ignored as a response, counted in the row totals).
        prior: ``"uniform"`` (default), ``"empirical"`` (row sums) or a ``[C]`` tensor of class weights.
        abstain: whether the last column is an abstain column; ``None`` (default) infers it from ``K = C + 1``.
        null: compute ``asymmetry_null`` / ``asymmetry_excess`` (needs integer counts).
        n_bootstrap: bootstrap replicates (0 = no intervals): every row is resampled multinomially
            (:func:`~rdmetrics.functional.bootstrap_confmat`) and every statistic recomputed, as for the RD
            signatures; the intervals use the library's bootstrap summary (``ci_method``).
        ci: confidence level of the intervals.
        seed: bootstrap seed.
        ci_method: interval type, ``"basic"`` (default, reverse percentile, as the RD signatures) or
            ``"percentile"`` (or any method of the library's bootstrap summary).
        empty_rows: ``"raise"`` (default) on a class with no trials but positive prior weight, or ``"drop"`` it from
            the prior.

    Returns:
        dict of float64 tensors shaped like the batch dims: ``asymmetry``, ``top1_error_share``,
        ``effective_wrong_answers``, ``asymmetric_pairs``, ``error_rate`` (``ε``) and, with ``null=True``,
        ``asymmetry_null`` and ``asymmetry_excess``; with ``n_bootstrap > 0`` also ``{key}_ci`` (``[..., 2]``)
        and ``{key}_bias`` for the four statistics and the excess (and ``{key}_raw`` where the summary method
        reports a bias-corrected value). NaN where ``ε = 0``.

    Raises:
        ValueError: bad shape, NaN/inf or negative counts, a bad prior, an empty row (see ``empty_rows``),
            non-integer counts with ``null=True`` or a bootstrap.

    Example:
        >>> import torch
        >>> from rdmetrics.functional import confusion_asymmetry
        >>> cyclic = torch.tensor([[8, 2, 0], [0, 8, 2], [2, 0, 8]])  # 0→1, 1→2, 2→0: every confusion one-way
        >>> out = confusion_asymmetry(cyclic)
        >>> float(out["asymmetry"]), float(out["top1_error_share"]), float(out["effective_wrong_answers"])
        (1.0, 1.0, 1.0)
        >>> round(float(out["asymmetric_pairs"]), 6), round(float(out["asymmetry_null"]), 4)  # E|Bin(2,½)−1| = ½
        (3.0, 0.5)
        >>> sym = torch.tensor([[8, 1, 1], [1, 8, 1], [1, 1, 8]])
        >>> float(confusion_asymmetry(sym)["asymmetry"])
        0.0
    """
    cm, num_classes = _confusion_asymmetry_arg_validation(confmat, prior, abstain, n_bootstrap, ci, empty_rows)
    if (null or n_bootstrap > 0) and not bool((cm == cm.round()).all()):
        raise ValueError(
            "`confmat` must hold integer counts for the binomial null and the bootstrap (pass null=False and"
            " n_bootstrap=0 for a probability matrix)"
        )
    out = _confusion_asymmetry_compute(cm, num_classes, prior, empty_rows, null)
    if n_bootstrap > 0:
        from rdmetrics.functional.bootstrap import bootstrap_confmat

        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
        boot = bootstrap_confmat(cm, n_bootstrap, seed).to(torch.float64)
        rep = _confusion_asymmetry_compute(boot, num_classes, prior, empty_rows, null)
        keys = [*_KEYS, "asymmetry_excess"] if null else list(_KEYS)
        for key in keys:
            res = _summarise(out[key], rep[key], float(ci), ci_method)
            if "raw" in res:
                out[f"{key}_raw"] = out[key]
            out[key] = res["value"]
            out[f"{key}_ci"] = res["ci"]
            out[f"{key}_bias"] = res["bias"]
    return out


def simulate_asymmetric_channel(
    num_classes: int,
    accuracy: float | Tensor,
    kind: Literal["symmetric", "broad", "sparse"] = "broad",
    strength: float = 0.5,
    num_attractors: int = 2,
) -> Tensor:
    r"""Population channels ``q(y|x)`` at a given per-class accuracy with broad-weak or sparse-strong asymmetry.

    For simulations of the follow-up paper's claim that the two kinds of directional asymmetry shift the RD
    frontier differently at matched accuracy. Every row has ``q(x|x) = accuracy`` (so ``D = 1 − accuracy`` under
    any prior); the error mass ``1 − accuracy`` is spread over the wrong answers with weights ``w[x, y]``:

    * ``"symmetric"``: uniform, ``w = 1`` (the Hamming-bound channel: its rate is ``R_H(D)``);
    * ``"broad"`` (broad but weak, human-like): every wrong answer gets errors, tilted one way around the class
      circle: ``w = 1 + strength · t[x, y]`` with ``t = +1`` when ``(y − x) mod C ∈ [1, C/2)``, ``−1`` when it
      lies in ``(C/2, C)`` and 0 for the opposite class, so every pair carries a little asymmetry;
    * ``"sparse"`` (sparse and strong, DNN-like collapse): a share ``strength`` of each class's errors goes to one
      of ``num_attractors`` attractor classes (class ``x ≥ k`` to ``x mod k``, attractor ``a`` to ``(a + 1) mod k``;
      with one attractor its own errors stay uniform), the rest uniformly to all wrong answers.

    Args:
        num_classes: ``C >= 3``.
        accuracy: per-class accuracy in ``[0, 1]``; a float gives ``[C, C]``, a ``[L]`` tensor gives ``[L, C, C]``.
        kind: ``"symmetric"``, ``"broad"`` or ``"sparse"``.
        strength: tilt (``"broad"``, in ``[0, 1)``) or attractor share (``"sparse"``, in ``[0, 1]``).
        num_attractors: number of attractor classes for ``"sparse"`` (``1 <= k < C``).

    Returns:
        float64 row-stochastic channel(s) ``q[..., x, y]`` (feed ``confmat``-style to the functionals: they
        row-normalise; pass ``null=False`` to :func:`confusion_asymmetry`).

    Example:
        >>> from rdmetrics.functional import confusion_asymmetry, simulate_asymmetric_channel
        >>> q = simulate_asymmetric_channel(16, 0.5, "sparse", strength=0.9)
        >>> out = confusion_asymmetry(q, null=False)
        >>> round(float(out["top1_error_share"]), 3), round(float(out["effective_wrong_answers"]), 1)
        (0.907, 1.7)
    """
    _check_positive_int(num_classes, "num_classes", minimum=3)
    if kind not in ("symmetric", "broad", "sparse"):
        raise ValueError(f"`kind` must be 'symmetric', 'broad' or 'sparse', got {kind!r}")
    acc = torch.as_tensor(accuracy, dtype=torch.float64)
    _check_finite(acc, "accuracy")
    if acc.ndim > 1 or bool(((acc < 0) | (acc > 1)).any()):
        raise ValueError("`accuracy` must be a float or a [L] tensor of values in [0, 1]")
    hi = 1.0 if kind == "sparse" else 1.0 - 1e-12
    if not 0.0 <= float(strength) <= hi:
        raise ValueError(
            f"`strength` must lie in [0, 1{')' if kind != 'sparse' else ']'} for kind={kind!r}, got {strength}"
        )
    c = num_classes
    idx = torch.arange(c)
    if kind == "symmetric":
        w = torch.ones(c, c, dtype=torch.float64)
    elif kind == "broad":
        d = (idx[None, :] - idx[:, None]) % c
        t = torch.where((d >= 1) & (2 * d < c), 1.0, torch.where(2 * d > c, -1.0, 0.0)).to(torch.float64)
        w = 1.0 + float(strength) * t
    else:
        _check_positive_int(num_attractors, "num_attractors")
        if num_attractors >= c:
            raise ValueError(f"`num_attractors` must be < num_classes ({c}), got {num_attractors}")
        k = num_attractors
        w = torch.full((c, c), (1.0 - float(strength)) / (c - 1), dtype=torch.float64)
        for x in range(c):
            if x >= k:
                w[x, x % k] += float(strength)
            elif k > 1:
                w[x, (x + 1) % k] += float(strength)
            else:
                w[x] = 1.0 / (c - 1)
    w.fill_diagonal_(0.0)
    w = w / w.sum(-1, keepdim=True)
    eye = torch.eye(c, dtype=torch.float64)
    a = acc.reshape(*acc.shape, 1, 1)
    return (1.0 - a) * w + a * eye


__all__ = ["confusion_asymmetry", "simulate_asymmetric_channel"]
