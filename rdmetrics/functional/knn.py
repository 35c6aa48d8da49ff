r"""Exact, blocked k-nearest-neighbour engine shared by every kNN metric of rdmetrics.

How it works (same on CPU and CUDA):

1. Both sets are centred on a common mean (distances are translation invariant; centring shrinks the norms and
   so the rounding error of the next step).
2. Squared distances of one *row block* of queries against all references come from one GEMM,
   :math:`\|a\|^2 + \|b\|^2 - 2 a b^\top`, in the input precision (float32 or float64; half precision is upcast to
   float32). Memory is ``O(block_size x M)``; the full ``N x M`` matrix never exists.
3. A few more than ``k`` candidates per row are kept (``torch.topk``); their distances are then **recomputed
   exactly in float64 by difference** :math:`\sqrt{\sum_l (a_l - b_l)^2}` and re-sorted (ties broken by the lower
   index).
4. Exactness is *certified*: with a rigorous bound ``band`` on the GEMM rounding error of a squared distance,
   a row whose ``(k+extra)``-th approximate candidate is not farther than the exact ``k``-th distance plus ``band``
   is recomputed entirely in float64. Ball-membership tests (:math:`\|a - b\| < r`) whose GEMM value lies within
   ``band`` of :math:`r^2` are also decided on the exact float64 distance. Results therefore equal a float64
   brute force (up to float64 rounding of the difference form) whatever the input precision.

Duplicates / zero distances: the engine returns them as they are (distance ``0``; ties broken by index). The
policy for estimators that take ``log`` of a distance lives with them: :func:`rdmetrics.functional.generative
.precision_recall_entropy` raises a ``ValueError`` naming the duplicated points.

Public functions:

* :func:`knn_within` - k nearest *other* points of a set (self excluded).
* :func:`knn_cross` - for two sets, the k nearest neighbours in ``b`` of every point of ``a`` **and** the k nearest
  in ``a`` of every point of ``b``, plus (optionally) ball-membership counts, all from one pass over each
  ``a x b`` block.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from rdmetrics.utilities.checks import _check_finite, _check_positive_int, _check_tensor

_EXTRA_CANDIDATES = 8
_CPU_BLOCK_BYTES = 64 * 2**20
_CUDA_BLOCK_BYTES = 1024 * 2**20
_EXACT_CHUNK_BYTES = 32 * 2**20

Metric = Literal["euclidean", "cosine"]


class CrossKNN(NamedTuple):
    r"""Result of :func:`knn_cross`.

    Attributes:
        dist_ab: ``[N, k]`` float64, ascending distances from each point of ``a`` to its k nearest points of ``b``.
        idx_ab: ``[N, k]`` long, their indices in ``b``.
        dist_ba: ``[M, k]`` float64, ascending distances from each point of ``b`` to its k nearest points of ``a``.
        idx_ba: ``[M, k]`` long, their indices in ``a``.
        count_b_in_a_balls: ``[M]`` long, for each ``b_j`` the number of ``i`` with
            :math:`\|b_j - a_i\| < r^a_i` (``None`` unless ``radius_a`` was given).
        count_a_in_b_balls: ``[N]`` long, for each ``a_i`` the number of ``j`` with
            :math:`\|a_i - b_j\| < r^b_j` (``None`` unless ``radius_b`` was given).
    """

    dist_ab: Tensor
    idx_ab: Tensor
    dist_ba: Tensor
    idx_ba: Tensor
    count_b_in_a_balls: Tensor | None
    count_a_in_b_balls: Tensor | None


# ---------------------------------------------------------------------------------------------------------------------
# validation and preparation


def _validate_points(x: object, name: str) -> Tensor:
    x = _check_tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D [num_points, dim] tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor, got dtype {x.dtype}")
    if x.shape[1] == 0:
        raise ValueError(f"`{name}` has zero feature dimensions")
    _check_finite(x, name)
    return x


def _compute_dtype(*xs: Tensor) -> torch.dtype:
    return torch.float64 if any(x.dtype == torch.float64 for x in xs) else torch.float32


def _normalize_rows(x: Tensor, name: str) -> Tensor:
    """Unit-norm rows in float64 (cosine metric); zero rows are an error."""
    x64 = x.double()
    norms = x64.norm(dim=1, keepdim=True)
    zero = (norms == 0).squeeze(1)
    if bool(zero.any()):
        where = zero.nonzero().flatten()[:5].tolist()
        raise ValueError(
            f"`{name}` has {int(zero.sum())} zero vector(s) (e.g. rows {where}): cosine distance is undefined"
        )
    return x64 / norms


def _resolve_block_size(block_size: int | None, n_rows: int, n_cols: int, device: torch.device, itemsize: int) -> int:
    if block_size is not None:
        return _check_positive_int(block_size, "block_size")
    budget = _CUDA_BLOCK_BYTES if device.type == "cuda" else _CPU_BLOCK_BYTES
    return max(1, min(n_rows, budget // max(1, n_cols * itemsize)))


def _error_band(a: Tensor, b: Tensor, dtype: torch.dtype) -> float:
    r"""Rigorous bound on the rounding error of a GEMM-trick squared distance (centred data, either precision).

    Every term of :math:`\|a\|^2 + \|b\|^2 - 2 a\cdot b` is a d-term sum whose worst-case error is ``d u`` times
    the sum of absolute products; ``(2 d + 8) u (max|a|^2 + max|b|^2)`` covers all of them plus the final adds.
    """
    u = torch.finfo(dtype).eps
    d = a.shape[1]
    max_sq = float(a.double().pow(2).sum(1).max()) + float(b.double().pow(2).sum(1).max())
    return (2 * d + 8) * u * max_sq


def _exact_dist(a64: Tensor, rows: Tensor, b64: Tensor, cols: Tensor) -> Tensor:
    """Exact float64 distances ``||a[rows[i]] - b[cols[i, j]]||`` by difference, chunked in memory.

    ``rows``: ``[R]``; ``cols``: ``[R, C]``. Returns ``[R, C]`` float64.
    """
    r, c = cols.shape
    d = a64.shape[1]
    out = torch.empty((r, c), dtype=torch.float64, device=a64.device)
    chunk = max(1, _EXACT_CHUNK_BYTES // max(1, c * d * 8))
    for s in range(0, r, chunk):
        e = min(r, s + chunk)
        diff = a64[rows[s:e]].unsqueeze(1) - b64[cols[s:e]]
        out[s:e] = diff.pow_(2).sum(-1).sqrt_()
    return out


def _exact_pairs(a64: Tensor, ia: Tensor, b64: Tensor, ib: Tensor) -> Tensor:
    """Exact float64 distances of the pairs ``(a[ia[t]], b[ib[t]])``, chunked."""
    d = a64.shape[1]
    out = torch.empty(ia.shape[0], dtype=torch.float64, device=a64.device)
    chunk = max(1, _EXACT_CHUNK_BYTES // max(1, d * 8))
    for s in range(0, ia.shape[0], chunk):
        e = min(ia.shape[0], s + chunk)
        out[s:e] = (a64[ia[s:e]] - b64[ib[s:e]]).pow_(2).sum(-1).sqrt_()
    return out


def _sort_by_dist_then_index(dist: Tensor, idx: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Sort rows ascending by distance, ties by index; keep the first ``k``."""
    order = idx.argsort(dim=1)
    dist, idx = dist.gather(1, order), idx.gather(1, order)
    order = dist.argsort(dim=1, stable=True)
    return dist.gather(1, order)[:, :k], idx.gather(1, order)[:, :k]


def _full_exact_rows(a64: Tensor, rows: Tensor, b64: Tensor, k: int, exclude_self: bool) -> tuple[Tensor, Tensor]:
    """Brute-force float64 kNN of ``a[rows]`` in ``b`` (fallback for rows whose candidates are not certified)."""
    dists, idxs = [], []
    m, d = b64.shape
    chunk = max(1, _EXACT_CHUNK_BYTES // max(1, m * d * 8))
    for s in range(0, rows.shape[0], chunk):
        r = rows[s : s + chunk]
        full = (a64[r].unsqueeze(1) - b64.unsqueeze(0)).pow_(2).sum(-1).sqrt_()
        if exclude_self:
            full[torch.arange(r.shape[0], device=full.device), r] = math.inf
        dd, ii = torch.sort(full, dim=1, stable=True)
        dists.append(dd[:, :k])
        idxs.append(ii[:, :k])
    return torch.cat(dists), torch.cat(idxs)


def _finalize(
    a64: Tensor,
    rows: Tensor,
    b64: Tensor,
    cand_idx: Tensor,
    cand_worst_sq: Tensor,
    k: int,
    band: float,
    exclude_self: bool,
) -> tuple[Tensor, Tensor]:
    """Exact re-ranking of candidates; uncertified rows fall back to a full float64 search.

    ``cand_worst_sq``: per row, the largest approximate squared distance among the candidates, or ``+inf`` when the
    candidates are all the available points (nothing outside them can be closer).
    """
    cand_dist = _exact_dist(a64, rows, b64, cand_idx)
    dist, idx = _sort_by_dist_then_index(cand_dist, cand_idx, k)
    kth_sq = dist[:, -1].pow(2)
    bad = cand_worst_sq.double() - band <= kth_sq + band
    if bool(bad.any()):
        bad_pos = bad.nonzero().flatten()
        fd, fi = _full_exact_rows(a64, rows[bad_pos], b64, k, exclude_self)
        dist[bad_pos], idx[bad_pos] = fd, fi
    return dist, idx


# ---------------------------------------------------------------------------------------------------------------------
# public API


def knn_within(
    x: Tensor, k: int, *, metric: Metric = "euclidean", block_size: int | None = None
) -> tuple[Tensor, Tensor]:
    r"""The ``k`` nearest *other* points of every point of a set (self excluded), exact.

    For each :math:`x_i` returns the ``k`` smallest :math:`d(x_i, x_j)`, :math:`j \ne i`, ascending, where
    :math:`d` is the Euclidean distance :math:`\|x_i - x_j\|_2` or the cosine distance
    :math:`1 - \frac{x_i \cdot x_j}{\|x_i\|\|x_j\|}` (computed as :math:`\tfrac12\|\hat x_i - \hat x_j\|^2` of the
    unit vectors, which is the same number with better accuracy for close pairs). Candidates come from a blocked GEMM
    in the input precision; the selected distances are recomputed exactly in float64 by difference and the selection
    is certified against a rigorous rounding bound (see the module docstring), so the result equals a float64 brute
    force. Memory ``O(block_size x N)``. Ties (e.g. duplicated points, distance ``0``) are broken by the lower index.

    Args:
        x: ``[N, d]`` floating tensor (CPU or CUDA), finite.
        k: number of neighbours, ``1 <= k <= N - 1``.
        metric: ``"euclidean"`` or ``"cosine"`` (zero vectors raise ``ValueError``).
        block_size: rows per GEMM block; default keeps a block at about 64 MiB on CPU (1 GiB on CUDA).

    Returns:
        ``(dist, idx)``: ``dist`` ``[N, k]`` float64 ascending distances, ``idx`` ``[N, k]`` long neighbour indices.

    Example:
        >>> import torch
        >>> x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
        >>> dist, idx = knn_within(x, k=2)
        >>> dist.tolist()
        [[1.0, 3.0], [1.0, 2.0], [2.0, 3.0], [4.0, 6.0]]
        >>> idx.tolist()
        [[1, 2], [0, 2], [1, 0], [2, 1]]
    """
    x = _validate_points(x, "x")
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"`metric` must be 'euclidean' or 'cosine', got {metric!r}")
    n = x.shape[0]
    k = _check_positive_int(k, "k")
    if k >= n:
        raise ValueError(f"`k` must be smaller than the number of points ({n}) to exclude self, got k={k}")

    dtype = _compute_dtype(x)
    if metric == "cosine":
        x64 = _normalize_rows(x, "x")
        xc = x64.to(dtype)
        xc = xc - xc.mean(0)
    else:
        x64 = x.double()
        xc = x.to(dtype)
        xc = xc - xc.mean(0)
    band = _error_band(xc, xc, dtype)
    sq = xc.pow(2).sum(1)
    c = min(n - 1, k + _EXTRA_CANDIDATES)
    bs = _resolve_block_size(block_size, n, n, x.device, xc.element_size())

    dists, idxs = [], []
    for i0 in range(0, n, bs):
        i1 = min(n, i0 + bs)
        # row-constant ||a||^2 is irrelevant for the ranking: add it only to the kept values
        d2 = torch.addmm(sq.unsqueeze(0), xc[i0:i1], xc.T, alpha=-2.0)
        d2.diagonal(offset=i0).fill_(math.inf)
        vals, cand = torch.topk(d2, c, dim=1, largest=False, sorted=False)
        del d2
        worst = vals.max(1).values + sq[i0:i1]
        if c == n - 1:
            worst = torch.full_like(worst, math.inf)
        rows = torch.arange(i0, i1, device=x.device)
        d, ix = _finalize(x64, rows, x64, cand, worst, k, band, exclude_self=True)
        dists.append(d)
        idxs.append(ix)
    dist = torch.cat(dists)
    idx = torch.cat(idxs)
    if metric == "cosine":
        dist = dist.pow(2) / 2
    return dist, idx


def knn_cross(
    a: Tensor,
    b: Tensor,
    k: int,
    *,
    radius_a: Tensor | None = None,
    radius_b: Tensor | None = None,
    block_size: int | None = None,
) -> CrossKNN:
    r"""Both cross-set kNN directions and ball-membership counts from **one** pass over the ``a x b`` distances.

    Euclidean, exact in float64 (see the module docstring). For each row block of ``a`` one GEMM gives the block of
    squared distances to all of ``b``; from it the engine keeps

    * the k nearest points of ``b`` for each ``a_i`` (row-wise top-k, final for the block),
    * running candidates of the k nearest points of ``a`` for each ``b_j`` (column-wise top-k, merged over blocks),
    * if ``radius_a`` is given: :math:`c^{b}_j = \#\{i : \|b_j - a_i\| < r^a_i\}` (``b_j`` inside the balls of ``a``),
    * if ``radius_b`` is given: :math:`c^{a}_i = \#\{j : \|a_i - b_j\| < r^b_j\}`.

    Comparisons are strict (``<``, as in ``prdc``). Memory ``O(block_size x M)``.

    Args:
        a: ``[N, d]`` floating tensor.
        b: ``[M, d]`` floating tensor, same ``d`` and device.
        k: neighbours per direction, ``1 <= k <= min(N, M)``.
        radius_a: optional ``[N]`` ball radii around the points of ``a``.
        radius_b: optional ``[M]`` ball radii around the points of ``b``.
        block_size: rows of ``a`` per block; default keeps a block at about 64 MiB on CPU (1 GiB on CUDA).

    Returns:
        :class:`CrossKNN` ``(dist_ab, idx_ab, dist_ba, idx_ba, count_b_in_a_balls, count_a_in_b_balls)``.

    Example:
        >>> import torch
        >>> a = torch.tensor([[0.0], [10.0]])
        >>> b = torch.tensor([[1.0], [2.0], [12.0]])
        >>> out = knn_cross(a, b, k=1, radius_a=torch.tensor([1.5, 1.5]))
        >>> out.dist_ab.flatten().tolist(), out.idx_ab.flatten().tolist()
        ([1.0, 2.0], [0, 2])
        >>> out.dist_ba.flatten().tolist(), out.idx_ba.flatten().tolist()
        ([1.0, 2.0, 2.0], [0, 0, 1])
        >>> out.count_b_in_a_balls.tolist()
        [1, 0, 0]
    """
    a = _validate_points(a, "a")
    b = _validate_points(b, "b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"dimension mismatch: `a` has {a.shape[1]} features, `b` has {b.shape[1]}")
    if a.device != b.device:
        raise ValueError(f"`a` and `b` are on different devices ({a.device}, {b.device})")
    n, m = a.shape[0], b.shape[0]
    k = _check_positive_int(k, "k")
    if k > min(n, m):
        raise ValueError(f"`k` must be at most the size of each set (|a|={n}, |b|={m}), got k={k}")
    for r, name, size in ((radius_a, "radius_a", n), (radius_b, "radius_b", m)):
        if r is not None:
            _check_tensor(r, name)
            if r.shape != (size,):
                raise ValueError(f"`{name}` must have shape ({size},), got {tuple(r.shape)}")
            _check_finite(r, name)

    dtype = _compute_dtype(a, b)
    a64, b64 = a.double(), b.double()
    mean = (a64.sum(0) + b64.sum(0)) / (n + m)
    ac, bc = (a64 - mean).to(dtype), (b64 - mean).to(dtype)
    band = _error_band(ac, bc, dtype)
    sq_a, sq_b = ac.pow(2).sum(1), bc.pow(2).sum(1)
    c_ab = min(m, k + _EXTRA_CANDIDATES)
    c_ba = min(n, k + _EXTRA_CANDIDATES)
    bs = _resolve_block_size(block_size, n, m, a.device, ac.element_size())

    ra2 = radius_a.to(device=a.device, dtype=torch.float64).pow(2) if radius_a is not None else None
    rb2 = radius_b.to(device=a.device, dtype=torch.float64).pow(2) if radius_b is not None else None
    count_b = torch.zeros(m, dtype=torch.long, device=a.device) if radius_a is not None else None
    count_a = torch.zeros(n, dtype=torch.long, device=a.device) if radius_b is not None else None
    if rb2 is not None:
        rb2_lo, rb2_hi = (rb2 - band).to(dtype), (rb2 + band).to(dtype)

    dists_ab, idxs_ab = [], []
    run_val = torch.empty((m, 0), dtype=dtype, device=a.device)
    run_idx = torch.empty((m, 0), dtype=torch.long, device=a.device)
    for i0 in range(0, n, bs):
        i1 = min(n, i0 + bs)
        d2 = torch.addmm(sq_b.unsqueeze(0), ac[i0:i1], bc.T, alpha=-2.0)
        d2.add_(sq_a[i0:i1].unsqueeze(1))
        rows = torch.arange(i0, i1, device=a.device)

        # a -> b (row-wise), final for this block
        vals, cand = torch.topk(d2, c_ab, dim=1, largest=False, sorted=False)
        worst = vals.max(1).values if c_ab < m else torch.full((i1 - i0,), math.inf, dtype=dtype, device=a.device)
        d, ix = _finalize(a64, rows, b64, cand, worst, k, band, exclude_self=False)
        dists_ab.append(d)
        idxs_ab.append(ix)

        # b -> a (column-wise), merged into running candidates
        cb = min(c_ba, i1 - i0)
        cvals, crows = torch.topk(d2, cb, dim=0, largest=False, sorted=False)
        run_val = torch.cat([run_val, cvals.T], dim=1)
        run_idx = torch.cat([run_idx, crows.T + i0], dim=1)
        if run_val.shape[1] > c_ba:
            run_val, keep = torch.topk(run_val, c_ba, dim=1, largest=False, sorted=False)
            run_idx = run_idx.gather(1, keep)

        # ball memberships: decided on the GEMM value unless it is within `band` of r^2, then exactly
        if ra2 is not None:
            lo, hi = (ra2[i0:i1] - band).to(dtype), (ra2[i0:i1] + band).to(dtype)
            count_b += (d2 < lo.unsqueeze(1)).sum(0)
            amb = (d2 >= lo.unsqueeze(1)) & (d2 <= hi.unsqueeze(1))
            if bool(amb.any()):
                ia, jb = amb.nonzero(as_tuple=True)
                exact = _exact_pairs(a64, ia + i0, b64, jb)
                hit = exact < ra2[ia + i0].sqrt()
                count_b.index_add_(0, jb[hit], torch.ones_like(jb[hit]))
        if rb2 is not None:
            count_a[i0:i1] += (d2 < rb2_lo.unsqueeze(0)).sum(1)
            amb = (d2 >= rb2_lo.unsqueeze(0)) & (d2 <= rb2_hi.unsqueeze(0))
            if bool(amb.any()):
                ia, jb = amb.nonzero(as_tuple=True)
                exact = _exact_pairs(a64, ia + i0, b64, jb)
                hit = exact < rb2[jb].sqrt()
                count_a.index_add_(0, ia[hit] + i0, torch.ones_like(ia[hit]))
        del d2

    worst_b = run_val.max(1).values if c_ba < n else torch.full((m,), math.inf, dtype=dtype, device=a.device)
    rows_b = torch.arange(m, device=a.device)
    dist_ba, idx_ba = _finalize(b64, rows_b, a64, run_idx, worst_b, k, band, exclude_self=False)
    return CrossKNN(torch.cat(dists_ab), torch.cat(idxs_ab), dist_ba, idx_ba, count_b, count_a)


__all__ = ["CrossKNN", "knn_cross", "knn_within"]
