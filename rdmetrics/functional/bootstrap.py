"""Parametric bootstrap of confusion matrices and bootstrap interval summaries.

* :func:`bootstrap_confmat` / :func:`bootstrap_chunks`: multinomial resampling of every row (the trials of one true
  class). Replicate ``r`` is drawn with its own generator seeded from ``(seed, r)``, so any split of the replicate
  range (chunks for bounded memory, ranks of a DDP job with any world size) reproduces exactly the same replicates
  as one call over the whole range.
* :func:`bootstrap_summary`: the reported value and its interval from an estimate and its replicates, for several
  interval methods; the reported value always lies inside its own interval whenever the interval is finite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor

from rdmetrics.functional.information import _check_confmat
from rdmetrics.utilities.checks import _check_positive_int

CIMethodType = Literal["smoothed", "percentile", "basic", "bc"]
_CI_METHODS = ("smoothed", "percentile", "basic", "bc")
#: pseudocount ``a`` of the smoothed bootstrap behind ``ci_method="smoothed"`` (chosen by benchmarks/rd_calibration.py)
SMOOTHED_PSEUDOCOUNT = 0.25
#: below this many trials per class (per condition) the RD intervals under-cover in benchmarks/rd_calibration.py
MIN_TRIALS_PER_CLASS = 40
_MASK64 = (1 << 64) - 1
# inverse-CDF sampling draws one uniform per trial (in row blocks of at most _MAX_UNIFORMS uniforms); rows with more
# than _INVERSE_CDF_TRIALS_PER_COLUMN trials per column use chained binomials instead (cost independent of the trial
# count). Both are exact multinomial samplers.
_MAX_UNIFORMS = 1 << 22
_INVERSE_CDF_TRIALS_PER_COLUMN = 64


def _splitmix64(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def replicate_seed(seed: int, replicate: int) -> int:
    """Seed of bootstrap replicate ``replicate`` under base ``seed``: a SplitMix64 hash of the pair (63 bits).

    Example:
        >>> replicate_seed(0, 0) == replicate_seed(0, 0), replicate_seed(0, 0) == replicate_seed(0, 1)
        (True, False)
    """
    return _splitmix64(_splitmix64(seed & _MASK64) ^ (replicate & _MASK64)) >> 1


def _check_seed(seed: object, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`{name}` must be an int, got {type(seed).__name__}")
    return seed


class _RowSampler:
    """Multinomial resampling of every row of ``counts [R, K]`` (float64): ``trials[x]`` draws (default: the row
    sum) from the cell probabilities ``counts / row sum``; one replicate per :meth:`draw`, all randomness from the
    given generator. Per-matrix work (cumulative weights) is done once."""

    def __init__(self, counts: Tensor, trials: Tensor | None = None) -> None:
        self.counts = counts
        self.total = counts.sum(-1)
        self.rows = self.total if trials is None else trials
        num_rows, num_cols = counts.shape
        self.n_max = int(self.rows.max()) if num_rows else 0
        self.inverse_cdf = self.n_max <= _INVERSE_CDF_TRIALS_PER_COLUMN * num_cols
        if self.inverse_cdf:
            self.cdf = counts.cumsum(-1)
            self.last = (counts > 0).to(torch.int64).cumsum(-1).argmax(-1, keepdim=True)  # last non-empty column
            self.valid = (torch.arange(self.n_max, device=counts.device)[None, :] < self.rows[:, None]).to(torch.int64)
            self.block = max(1, _MAX_UNIFORMS // max(self.n_max, 1))
        else:
            tail = counts.flip(-1).cumsum(-1).flip(-1)
            self.cond_prob = torch.where(tail > 0, counts / tail.clamp_min(1e-300), torch.zeros_like(counts))
            self.cond_prob = self.cond_prob.clamp(0.0, 1.0)

    def draw(self, generator: torch.Generator) -> Tensor:
        counts = self.counts
        num_rows, num_cols = counts.shape
        out = torch.zeros(counts.shape, dtype=torch.int64, device=counts.device)
        if self.n_max == 0:
            return out
        if self.inverse_cdf:
            # inverse CDF on integer cumulative counts (exact in float64): cell k is hit when cdf[k-1] <= u·n < cdf[k];
            # rows in blocks of at most _MAX_UNIFORMS uniforms (bounded memory)
            for start in range(0, num_rows, self.block):
                stop = min(start + self.block, num_rows)
                u = torch.rand(stop - start, self.n_max, dtype=torch.float64, device=counts.device, generator=generator)
                idx = torch.searchsorted(self.cdf[start:stop], u * self.total[start:stop, None], right=True)
                idx = torch.minimum(idx, self.last[start:stop])  # guards u·n rounding up to n
                out[start:stop].scatter_add_(1, idx, self.valid[start:stop])
            return out
        # many trials per row: chained conditional binomials, N(x,k) ~ Bin(n_x − Σ_{j<k} N(x,j), p_k / Σ_{j>=k} p_j)
        remaining = self.rows.clone()
        for k in range(num_cols - 1):
            draw = torch.binomial(remaining, self.cond_prob[:, k].contiguous(), generator=generator)
            out[:, k] = draw.round().to(torch.int64)
            remaining = remaining - draw
        out[:, -1] = remaining.round().to(torch.int64)
        return out


def _validated_counts(confmat: Tensor) -> Tensor:
    cm = _check_confmat(confmat)
    if not bool((cm == cm.round()).all()):
        raise ValueError("`confmat` must hold integer counts to be resampled")
    return cm


def _sampler(cm: Tensor, pseudocount: float) -> _RowSampler:
    flat = cm.reshape(-1, cm.shape[-1])
    if pseudocount == 0:
        return _RowSampler(flat)
    return _RowSampler(smoothed_confmat(flat, pseudocount), flat.sum(-1))


def _check_pseudocount(pseudocount: object) -> float:
    if isinstance(pseudocount, bool) or not isinstance(pseudocount, (int, float)) or not pseudocount >= 0:
        raise ValueError(f"`pseudocount` must be a number >= 0, got {pseudocount!r}")
    if pseudocount == float("inf"):
        raise ValueError("`pseudocount` must be finite")
    return float(pseudocount)


def smoothed_confmat(confmat: Tensor, pseudocount: float) -> Tensor:
    r"""The smoothed table ``N(x, y) + a`` on every row with trials (rows without trials stay empty), float64.

    Its row-normalised channel ``(N(x, ·) + a) / (n_x + a K)`` is the generating channel of the smoothed bootstrap
    (:func:`bootstrap_confmat` with ``pseudocount=a``), and any plug-in quantity of this table is that quantity's
    exact value in the bootstrap world (the ``reference`` of :func:`bootstrap_summary`).

    Example:
        >>> import torch
        >>> smoothed_confmat(torch.tensor([[3, 0], [0, 0]]), 0.5).tolist()
        [[3.5, 0.5], [0.0, 0.0]]
    """
    cm = _check_confmat(confmat).to(torch.float64)
    a = _check_pseudocount(pseudocount)
    return cm + a * (cm.sum(-1, keepdim=True) > 0).to(cm.dtype)


def _resample(cm: Tensor, start: int, stop: int, seed: int, sampler: _RowSampler | None = None) -> Tensor:
    shape = cm.shape
    sampler = sampler if sampler is not None else _sampler(cm, 0.0)
    generator = torch.Generator(device=cm.device)
    out = torch.empty((stop - start, *shape), dtype=torch.int64, device=cm.device)
    for i, r in enumerate(range(start, stop)):
        generator.manual_seed(replicate_seed(seed, r))
        out[i] = sampler.draw(generator).reshape(shape)
    return out


def bootstrap_confmat(
    confmat: Tensor, n_bootstrap: int, seed: int = 0, *, replicate_offset: int = 0, pseudocount: float = 0.0
) -> Tensor:
    r"""Resample each row of a confusion matrix: ``N*(x, ·) ~ Multinomial(n_x, N(x, ·) / n_x)``.

    Every row keeps its number of trials ``n_x`` (a class shown ``n_x`` times is re-shown ``n_x`` times), which is
    the trial bootstrap for a design with fixed per-class counts. Replicate ``r`` (``r = replicate_offset, …,
    replicate_offset + n_bootstrap − 1``) is drawn with a ``torch.Generator`` seeded from ``(seed, r)``
    (:func:`replicate_seed`): the same seed gives the same replicates, and replicates ``[0, k)`` and ``[k, n)``
    drawn separately equal replicates ``[0, n)`` drawn at once (split them across DDP ranks or chunks freely).
    Each row is drawn by inverse-CDF sampling of its ``n_x`` trials (or, for very large counts, as a chain of
    conditional binomials over the columns); both are exact multinomial samplers.

    ``pseudocount=a > 0`` gives the *smoothed* bootstrap: rows are drawn from ``(N(x, ·) + a) / (n_x + a K)``
    (:func:`smoothed_confmat`), still ``n_x`` trials each. The empirical channel has structural zeros (cells never
    seen in ``n_x`` trials) that the true channel need not have, so the plain bootstrap under-states the
    small-sample bias of mutual information where errors are rare; smoothing restores those cells.

    Args:
        confmat: counts ``[..., C, K]`` (integer valued).
        n_bootstrap: number of replicates ``B >= 1``.
        seed: base seed.
        replicate_offset: index of the first replicate (keyword-only; default 0).
        pseudocount: smoothing ``a >= 0`` added to every cell of rows with trials (keyword-only; default 0).

    Returns:
        int64 tensor ``[B, ..., C, K]`` of resampled counts (row sums equal the input's).

    Example:
        >>> import torch
        >>> cm = torch.tensor([[8, 2], [3, 7]])
        >>> boot = bootstrap_confmat(cm, 100, seed=0)
        >>> tuple(boot.shape), boot.sum(-1).unique(dim=0).tolist()
        ((100, 2, 2), [[10, 10]])
        >>> torch.equal(boot[60:], bootstrap_confmat(cm, 40, seed=0, replicate_offset=60))
        True
    """
    _check_positive_int(n_bootstrap, "n_bootstrap")
    _check_seed(seed)
    _check_positive_int(replicate_offset, "replicate_offset", minimum=0)
    a = _check_pseudocount(pseudocount)
    cm = _validated_counts(confmat)
    return _resample(cm, replicate_offset, replicate_offset + n_bootstrap, seed, _sampler(cm, a))


def bootstrap_chunks(
    confmat: Tensor,
    n_bootstrap: int,
    seed: int = 0,
    *,
    chunk_size: int = 32,
    replicate_offset: int = 0,
    pseudocount: float = 0.0,
) -> Iterator[Tensor]:
    """Yield the replicates of :func:`bootstrap_confmat` in chunks ``[≤ chunk_size, ..., C, K]`` (bounded memory).

    Concatenating the chunks gives exactly ``bootstrap_confmat(confmat, n_bootstrap, seed,
    replicate_offset=replicate_offset, pseudocount=pseudocount)``.

    Example:
        >>> import torch
        >>> cm = torch.tensor([[8, 2], [3, 7]])
        >>> chunks = list(bootstrap_chunks(cm, 10, seed=3, chunk_size=4))
        >>> [c.shape[0] for c in chunks], torch.equal(torch.cat(chunks), bootstrap_confmat(cm, 10, seed=3))
        ([4, 4, 2], True)
    """
    _check_positive_int(n_bootstrap, "n_bootstrap")
    _check_positive_int(chunk_size, "chunk_size")
    _check_seed(seed)
    _check_positive_int(replicate_offset, "replicate_offset", minimum=0)
    a = _check_pseudocount(pseudocount)
    cm = _validated_counts(confmat)
    sampler = _sampler(cm, a)
    stop = replicate_offset + n_bootstrap
    for start in range(replicate_offset, stop, chunk_size):
        yield _resample(cm, start, min(start + chunk_size, stop), seed, sampler)


def basic_interval(point: Tensor, percentile_ci: Tensor) -> Tensor:
    r"""The 'basic' (reverse-percentile) bootstrap interval ``[2θ̂ − q_hi, 2θ̂ − q_lo]`` from a percentile interval.

    It corrects a shift of the bootstrap distribution relative to the estimate to first order, so unlike the
    percentile interval it does not drift away from the estimate when the estimator is biased.

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


def nan_quantile(values: Tensor, q: Tensor | list[float], dim: int = 0) -> tuple[Tensor, Tensor]:
    """NaN-skipping quantiles along ``dim`` (numpy's default 'linear' interpolation), with the count of finite values.

    Unlike ``torch.nanquantile`` it has no input-size limit. A slice with no finite value gives NaN.

    Returns:
        ``(quantiles [len(q), *rest], count [*rest])``.

    Example:
        >>> import torch
        >>> qs, n = nan_quantile(torch.tensor([[1.0, float("nan")], [3.0, 2.0], [2.0, float("nan")]]), [0.5])
        >>> qs.tolist(), n.tolist()
        ([[2.0, 2.0]], [3, 1])
    """
    v = values.movedim(dim, 0).to(torch.float64)
    v = torch.where(torch.isinf(v), torch.full_like(v, float("nan")), v)  # inf replicates count as undefined
    qt = torch.as_tensor(q, dtype=torch.float64, device=v.device).reshape(-1)
    finite = ~torch.isnan(v)
    count = finite.sum(0)
    srt = torch.where(finite, v, torch.full_like(v, float("inf"))).sort(dim=0).values  # finite first
    pos = qt.reshape(-1, *([1] * count.ndim)) * (count - 1).clamp_min(0).to(torch.float64)  # [Q, *rest]
    lo = pos.floor().long()
    hi = pos.ceil().long()
    frac = pos - lo.to(torch.float64)
    expand = (qt.numel(), *srt.shape[1:])
    v_lo = srt.gather(0, lo.expand(expand).clamp(max=srt.shape[0] - 1))
    v_hi = srt.gather(0, hi.expand(expand).clamp(max=srt.shape[0] - 1))
    out = v_lo + (v_hi - v_lo) * frac
    out = torch.where(v_hi == v_lo, v_lo, out)  # exact where no interpolation is needed
    out = torch.where(count[None] > 0, out, torch.full_like(out, float("nan")))
    return out, count


def bootstrap_summary(
    point: Tensor,
    replicates: Tensor,
    ci: float = 0.95,
    method: str = "bc",
    *,
    bounds: tuple[float | None, float | None] | None = None,
    min_replicates: int = 2,
    reference: Tensor | None = None,
) -> dict[str, Tensor]:
    r"""Reported value, bootstrap interval and bias estimate of an estimate ``θ̂`` from its replicates ``θ*``.

    With ``q_lo, q_hi`` the ``(1 ∓ ci) / 2`` quantiles of the finite replicates and ``b = mean(θ*) − θ̂`` the
    bootstrap bias estimate:

    * ``"percentile"``: value ``θ̂``, interval ``[q_lo, q_hi]``;
    * ``"basic"`` (reverse percentile): value ``θ̂``, interval ``[2θ̂ − q_hi, 2θ̂ − q_lo]``;
    * ``"bc"`` (bias-corrected): value ``θ̂ − b = 2θ̂ − mean(θ*)``, reported with the raw ``θ̂`` beside it
      (key ``raw``), interval = the basic interval (which is centred on the bias-corrected value: the replicate
      distribution reflected about ``θ̂``);
    * ``"smoothed"``: ``"bc"`` with a required ``reference`` — meant for replicates of the smoothed bootstrap
      (:func:`bootstrap_confmat` with ``pseudocount``) and ``t`` = the quantity computed exactly on
      :func:`smoothed_confmat` (the bootstrap world's truth).

    ``reference`` (``t``, default ``θ̂``) is the value of the quantity in the bootstrap world, i.e. on the resampled
    data's generating distribution. For a plug-in estimator that is ``θ̂`` itself; for a bias-corrected estimator
    (e.g. a Miller–Madow rate) it is the plug-in value of the observed data, so the pivot is ``θ* − t`` instead of
    ``θ* − θ̂``: ``b = mean(θ*) − t``, and the basic interval becomes ``[θ̂ − (q_hi − t), θ̂ − (q_lo − t)]``
    (``"percentile"`` ignores it).

    The reported value always lies inside its interval when the interval is finite: an interval that misses its
    value (possible for ``"percentile"`` / ``"basic"`` with a skewed or shifted replicate distribution, or for
    ``"bc"`` when the replicate mean falls outside ``[q_lo, q_hi]``) is extended to the value; ``bounds`` (e.g.
    ``(0, log2 C)`` for a rate) clip the value and the interval, the value first, so the rule still holds.
    NaN / inf replicates (undefined fits) are skipped; with fewer than ``min_replicates`` finite replicates, or a
    NaN estimate, the interval is NaN and the value is ``θ̂``.

    Args:
        point: the estimate ``θ̂``, any shape ``S``.
        replicates: ``[B, *S]`` bootstrap replicates (replicate dim first).
        ci: confidence level in ``(0, 1)``.
        method: ``"smoothed"``, ``"percentile"``, ``"basic"`` or ``"bc"``.
        bounds: optional ``(low, high)`` range of the quantity (``None`` = unbounded side).
        min_replicates: minimal number of finite replicates for an interval.
        reference: optional bootstrap-world value ``t`` (shape ``S``), see above.

    Returns:
        dict of float64 tensors: ``value`` ``S``, ``ci`` ``[*S, 2]``, ``bias`` ``S`` (``mean(θ*) − θ̂``), ``raw`` ``S``
        (``θ̂``; differs from ``value`` only for ``"bc"``), ``n_valid`` ``S`` (finite replicates used) and the bool
        ``extended`` ``S`` (where the interval had to be extended to reach the value).

    Example:
        >>> import torch
        >>> reps = torch.tensor([1.2, 1.4, 1.6, 1.8, 2.0])  # shifted up by 0.6 on average
        >>> s = bootstrap_summary(torch.tensor(1.0), reps, ci=0.5, method="bc")
        >>> round(float(s["value"]), 3), [round(v, 3) for v in s["ci"].tolist()], round(float(s["bias"]), 3)
        (0.4, [0.2, 0.6], 0.6)
        >>> s = bootstrap_summary(torch.tensor(1.0), reps, ci=0.5, method="percentile")  # [1.4, 1.8] misses 1.0
        >>> [round(v, 3) for v in s["ci"].tolist()]
        [1.0, 1.8]
    """
    if method not in _CI_METHODS:
        raise ValueError(f"`method` must be one of {_CI_METHODS}, got {method!r}")
    if isinstance(ci, bool) or not isinstance(ci, (int, float)) or not (0.0 < float(ci) < 1.0):
        raise ValueError(f"`ci` must lie in (0, 1), got {ci!r}")
    _check_positive_int(min_replicates, "min_replicates")
    theta = torch.as_tensor(point).detach().to(torch.float64)
    reps = torch.as_tensor(replicates).detach().to(device=theta.device, dtype=torch.float64)
    if reps.ndim != theta.ndim + 1 or reps.shape[1:] != theta.shape:
        raise ValueError(
            f"`replicates` must have shape [B, *point.shape] = [B, {', '.join(map(str, theta.shape))}],"
            f" got {tuple(reps.shape)}"
        )
    if reps.shape[0] < 1:
        raise ValueError("`replicates` must hold at least one replicate")
    if method == "smoothed":
        if reference is None:
            raise ValueError("method='smoothed' needs the `reference` value t of the smoothed bootstrap world")
        method = "bc"
    shift = torch.zeros_like(theta)
    if reference is not None and method != "percentile":
        ref = torch.as_tensor(reference).detach().to(device=theta.device, dtype=torch.float64)
        if ref.shape != theta.shape:
            raise ValueError(f"`reference` must have the shape of `point` {tuple(theta.shape)}, got {tuple(ref.shape)}")
        shift = theta - ref  # replicates θ* + (θ̂ − t): their pivot around θ̂ is θ* − t
        reps = reps + shift
    alpha = 1.0 - float(ci)
    (q_lo, q_hi), count = nan_quantile(reps, [alpha / 2, 1 - alpha / 2])
    finite = torch.isfinite(reps)
    mean = torch.where(finite, reps, torch.zeros_like(reps)).sum(0) / count.clamp_min(1)
    ok = (count >= min_replicates) & torch.isfinite(theta) & torch.isfinite(shift)
    nan = torch.full_like(theta, float("nan"))
    bias = torch.where(ok, mean - theta, nan)
    value = theta.clone()
    if method == "percentile":
        lo, hi = q_lo, q_hi
    else:
        lo, hi = 2 * theta - q_hi, 2 * theta - q_lo
        if method == "bc":
            value = torch.where(ok, theta - bias, theta)
    if bounds is not None:
        b_lo, b_hi = bounds
        if b_lo is not None:
            value, lo, hi = value.clamp_min(b_lo), lo.clamp_min(b_lo), hi.clamp_min(b_lo)
        if b_hi is not None:
            value, lo, hi = value.clamp_max(b_hi), lo.clamp_max(b_hi), hi.clamp_max(b_hi)
    extended = ok & ((lo > value) | (hi < value))
    lo = torch.minimum(lo, value)
    hi = torch.maximum(hi, value)
    interval = torch.stack([torch.where(ok, lo, nan), torch.where(ok, hi, nan)], dim=-1)
    return {"value": value, "ci": interval, "bias": bias, "raw": theta, "n_valid": count, "extended": extended}


__all__ = [
    "MIN_TRIALS_PER_CLASS",
    "SMOOTHED_PSEUDOCOUNT",
    "basic_interval",
    "bootstrap_chunks",
    "bootstrap_confmat",
    "bootstrap_summary",
    "nan_quantile",
    "replicate_seed",
    "smoothed_confmat",
]
