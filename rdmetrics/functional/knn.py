r"""Exact, blocked k-nearest-neighbour engine shared by every kNN metric of rdmetrics.

How it works (same on CPU and CUDA):

1. Both sets are centred on a common mean (distances are translation invariant; centring shrinks the norms and
   so the rounding error of the next step).
2. Squared distances of one *row block* of queries against all references come from one GEMM,
   :math:`\|a\|^2 + \|b\|^2 - 2 a b^\top` (augmented operands ``[a, 1, |a|^2]`` and ``[-2b, |b|^2, 1]``, written
   into a reused buffer, so no extra pass over the block), in the input precision (float32 or float64; half
   precision is upcast to float32). Memory is ``O(block_size x M)``; the full ``N x M`` matrix never exists.
3. ``k + 8`` candidates per point are kept. Row-wise they come from an exact two-level selection through strided
   group minima (:func:`_row_smallest`); column-wise (the other set's points in :func:`knn_cross`, the earlier
   points in :func:`knn_within`, which uses the symmetry of the matrix and multiplies each row block only with the
   points up to it) from running per-point lists that only entries below the list's current ``(k+8)``-th value
   can enter (found through minima over groups of rows). Either way every point left out has an approximate value
   ``>=`` the last candidate's. With a rigorous bound ``band`` on the GEMM rounding
   error of a squared distance, only the candidates whose approximate value is within ``2 band`` of the approximate
   ``k``-th can belong to the true k nearest; their distances are **recomputed exactly in float64 by difference**
   :math:`\sqrt{\sum_l (a_l - b_l)^2}` and re-sorted (ties broken by the lower index).
4. Exactness is *certified*: a row for which all ``k + 8`` candidates are within ``2 band`` (so a non-candidate
   might be closer) is recomputed entirely in float64. Ball-membership tests (:math:`\|a - b\| < r`) whose GEMM
   value lies within ``band`` of :math:`r^2` are decided on the exact float64 distance. Results therefore equal a
   float64 brute force (up to float64 rounding of the difference form) whatever the input precision.

Duplicates / zero distances: the engine returns them as they are (distance ``0``; ties broken by index). The
policy for estimators that take ``log`` of a distance lives with them: :func:`rdmetrics.functional.generative
.precision_recall_entropy` raises a ``ValueError`` naming the duplicated points.

Scale: every kNN quantity is invariant under :math:`x \to s x`. Inputs whose largest coordinate lies outside
:math:`[2^{-32}, 2^{32})` are divided by a power of two first (exact in floating point), so features at ``1e200``
(squared norms overflow) or ``1e-200`` (they underflow) give the same neighbours as at scale 1; distances are
returned in the input's units.

DDP: :func:`sharded_knn_within` and :func:`sharded_knn_cross` split the same engine's work over ranks by pairs of
blocks (each call exact on its pair; lists merged by distance, then global index), on features either gathered on
every rank or kept on their rank and broadcast in pieces (:class:`ShardedPoints`). Results equal the one-process
functions.

Public functions:

* :func:`knn_within` - k nearest *other* points of a set (self excluded).
* :func:`knn_cross` - for two sets, the k nearest neighbours in ``b`` of every point of ``a`` **and** the k nearest
  in ``a`` of every point of ``b``, plus (optionally) ball-membership counts, all from one pass over each
  ``a x b`` block.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from rdmetrics.utilities.checks import _check_finite, _check_positive_int, _check_tensor

_EXTRA_CANDIDATES = 8
_CPU_BLOCK_BYTES = 16 * 2**20
_CUDA_BLOCK_BYTES = 1024 * 2**20
_EXACT_CHUNK_BYTES = 8 * 2**20
_PAIR_CHUNK_BYTES = 2 * 2**20
_SAFE_EXPONENT = 32
# sharded DDP mode: another rank's rows travel in pieces of at most 1/_SHARD_PIECES of its block (and at most
# _SHARD_PIECE_BYTES), so a rank holds its own rows plus one piece
_SHARD_PIECES = 8
_SHARD_PIECE_BYTES = 256 * 2**20
# row selection through group minima: columns are pooled into strided groups of ``_GROUP`` (and groups into
# super-groups of ``_GROUP``) whose minima are reduced with contiguous (vectorised) loads; used when a row has at
# least ``_GROUP**2 * max(c, _MIN_GROUPS_PER_CAND)`` columns
_GROUP = 8
_MIN_GROUPS_PER_CAND = 8

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
        a_in_any_b_ball: ``[N]`` bool, whether :math:`\|a_i - b_j\| < r^b_j` for some ``j`` (``None`` unless
            ``radius_b`` was given).
    """

    dist_ab: Tensor
    idx_ab: Tensor
    dist_ba: Tensor
    idx_ba: Tensor
    count_b_in_a_balls: Tensor | None
    a_in_any_b_ball: Tensor | None


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


def _pow2_exponent(*xs: Tensor) -> int:
    """``e`` such that the largest ``|x|`` over ``xs`` lies in ``[2**(e-1), 2**e)``; ``0`` (no rescaling needed) when
    that is within ``[2**-32, 2**32)`` or there is no nonzero data. See :func:`_scale_pow2`."""
    top = max((float(x.abs().max()) for x in xs if x.numel()), default=0.0)
    return _exponent_of(top)


def _exponent_of(top: float) -> int:
    e = math.frexp(top)[1] if top > 0 else 0
    # inside this range no squared norm or product of the engine overflows or underflows (float32 included), and
    # rescaling by a power of two changes no exact distance beyond the factor: skip the copy
    return 0 if -_SAFE_EXPONENT <= e <= _SAFE_EXPONENT else e


def _scale_pow2(x: Tensor, e: int) -> Tensor:
    r"""``x * 2**-e``, exact in floating point (a power of two, applied in two halves so no factor overflows).

    Every distance ratio, neighbour order and ball membership is invariant under this rescaling, and it brings the
    largest coordinate to ``[0.5, 1)``: squared norms at scale ``1e200`` (overflow) or ``1e-200`` (underflow) become
    ordinary numbers. (Only a data set whose own dynamic range exceeds the floating-point range, e.g. coordinates
    of ``1e200`` and ``1e-200`` in one set, still loses its smallest coordinates.)
    """
    if e == 0:
        return x
    h = -e // 2
    return x * 2.0**h * 2.0 ** (-e - h)


def _resolve_block_size(block_size: int | None, n_rows: int, n_cols: int, device: torch.device, itemsize: int) -> int:
    if block_size is not None:
        return _check_positive_int(block_size, "block_size")
    budget = _CUDA_BLOCK_BYTES if device.type == "cuda" else _CPU_BLOCK_BYTES
    return max(1, min(n_rows, budget // max(1, n_cols * itemsize)))


def _two_level(n_cols: int, c: int, grouped: bool) -> bool:
    """Whether :func:`_row_smallest` selects through group minima (wide rows, overflow-free values)."""
    return grouped and n_cols >= _GROUP * _GROUP * max(c, _MIN_GROUPS_PER_CAND)


def _no_overflow(sq_a: Tensor, sq_b: Tensor, dtype: torch.dtype) -> bool:
    """Whether every GEMM-trick value is finite (no NaN from ``inf - inf``): needed by the two-level selection."""
    bound = 4.0 * (float(sq_a.max()) + float(sq_b.max()))
    return math.isfinite(bound) and bound < torch.finfo(dtype).max / 4


def _padded_width(n_cols: int, two_level: bool) -> int:
    """Row width used by :func:`_row_smallest`: a multiple of ``_GROUP**2`` (two group levels) when two-level."""
    return -(-n_cols // _GROUP**2) * _GROUP**2 if two_level else n_cols


def _padded_buffer(rows: int, n_cols: int, c: int, grouped: bool, dtype: torch.dtype, device: torch.device) -> Tensor:
    """GEMM output buffer ``[rows, W]``; columns ``>= n_cols`` (padding for :func:`_row_smallest`) hold ``+inf``."""
    width = _padded_width(n_cols, _two_level(n_cols, c, grouped))
    buf = torch.empty((rows, width), dtype=dtype, device=device)
    buf[:, n_cols:] = math.inf
    return buf


def _row_smallest(full: Tensor, n_cols: int, c: int, two_level: bool) -> tuple[Tensor, Tensor]:
    r"""The ``c`` smallest entries of every row of ``full[:, :n_cols]``, ascending, with their column indices.

    ``full`` is a contiguous ``[R, W]`` block whose columns ``>= n_cols`` hold ``+inf`` (see :func:`_padded_buffer`).
    For wide rows the selection is two-level and exact: column ``j`` belongs to group ``j mod G`` (``G = W / g``);
    the group minima come from one vectorised pass, the ``c`` groups with the smallest minima are kept, and the
    answer is the ``c`` smallest of their ``c g`` entries. Why this is exact: if :math:`T` is the ``c``-th smallest
    group minimum, ``c`` entries (those minima) are :math:`\le T`, so the ``c``-th smallest entry is :math:`\le T`;
    a group left out has its minimum :math:`\ge T`, so none of its entries is below the ``c``-th smallest kept one.
    Hence every entry not returned is ``>=`` the last returned value (the invariant :func:`_select_exact` relies on;
    which of exactly tied entries is returned does not matter there).
    """
    r, width = full.shape
    if not two_level:
        return torch.topk(full[:, :n_cols], c, dim=1, largest=False, sorted=True)
    groups = width // _GROUP
    offsets = torch.arange(_GROUP, device=full.device)
    gmin = full.view(r, _GROUP, groups).amin(1)
    # the same argument one level up: groups of groups (group g in super-group g mod (groups / _GROUP)) narrow
    # the search for the c groups with the smallest minima to c * _GROUP of them
    supers = groups // _GROUP
    _, ssel = torch.topk(gmin.view(r, _GROUP, supers).amin(1), c, dim=1, largest=False, sorted=False)
    gcand = (ssel.unsqueeze(2) + supers * offsets).view(r, c * _GROUP)
    _, gpos = torch.topk(gmin.gather(1, gcand), c, dim=1, largest=False, sorted=False)
    gsel = gcand.gather(1, gpos)
    cols = (gsel.unsqueeze(2) + groups * offsets).view(r, c * _GROUP)
    vals, pos = torch.topk(full.gather(1, cols), c, dim=1, largest=False, sorted=True)
    return vals, cols.gather(1, pos)


def _centred_into(x: Tensor, mean64: Tensor, dtype: torch.dtype, extra: int) -> tuple[Tensor, Tensor]:
    """``[x - mean, <extra empty columns>]`` in the compute dtype (one allocation) and the squared row norms."""
    n, d = x.shape
    out = torch.empty((n, d + extra), dtype=dtype, device=x.device)
    torch.sub(x.to(dtype), mean64.to(dtype), out=out[:, :d])
    return out, torch.linalg.vector_norm(out[:, :d], dim=1).pow_(2)


def _error_band(d: int, sq_a: Tensor, sq_b: Tensor, dtype: torch.dtype) -> float:
    r"""Rigorous bound on the rounding error of a GEMM-trick squared distance (centred data, either precision).

    Every term of :math:`\|a\|^2 + \|b\|^2 - 2 a\cdot b` is a d-term sum whose worst-case error is ``d u`` times
    the sum of absolute products; ``(2 d + 8) u (max|a|^2 + max|b|^2)`` covers all of them, the rounding of the
    centring and the final adds.
    """
    u = torch.finfo(dtype).eps
    max_sq = (float(sq_a.max()) + float(sq_b.max())) * 1.01
    return (2 * d + 8) * u * max_sq


def _exact_dist(a: Tensor, rows: Tensor, b: Tensor, cols: Tensor) -> Tensor:
    """Exact float64 distances ``||a[rows[i]] - b[cols[i, j]]||`` by difference, chunked in memory.

    ``rows``: ``[R]``; ``cols``: ``[R, C]``. Returns ``[R, C]`` float64.
    """
    r, c = cols.shape
    d = a.shape[1]
    out = torch.empty((r, c), dtype=torch.float64, device=a.device)
    if r == 0 or c == 0:
        return out
    chunk = max(1, _PAIR_CHUNK_BYTES // max(1, c * d * 8))
    for s in range(0, r, chunk):
        e = min(r, s + chunk)
        diff = b[cols[s:e]].double().sub_(a[rows[s:e]].double().unsqueeze(1))
        out[s:e] = torch.linalg.vector_norm(diff, dim=-1)
    return out


def _exact_pairs(a: Tensor, ia: Tensor, b: Tensor, ib: Tensor) -> Tensor:
    """Exact float64 distances of the pairs ``(a[ia[t]], b[ib[t]])``, chunked."""
    d = a.shape[1]
    out = torch.empty(ia.shape[0], dtype=torch.float64, device=a.device)
    chunk = max(1, _PAIR_CHUNK_BYTES // max(1, d * 8))  # small chunks stay in cache (about 3x faster on CPU)
    for s in range(0, ia.shape[0], chunk):
        e = min(ia.shape[0], s + chunk)
        diff = a.index_select(0, ia[s:e]).double().sub_(b.index_select(0, ib[s:e]).double())
        out[s:e] = torch.linalg.vector_norm(diff, dim=-1)
    return out


def _sort_by_dist_then_index(dist: Tensor, idx: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Sort rows ascending by distance, ties by index; keep the first ``k``."""
    order = idx.argsort(dim=1)
    dist, idx = dist.gather(1, order), idx.gather(1, order)
    order = dist.argsort(dim=1, stable=True)
    return dist.gather(1, order)[:, :k], idx.gather(1, order)[:, :k]


def _full_exact_rows(a: Tensor, rows: Tensor, b: Tensor, k: int, exclude_self: bool) -> tuple[Tensor, Tensor]:
    """Brute-force float64 kNN of ``a[rows]`` in ``b`` (fallback for rows whose candidates are not certified)."""
    m, d = b.shape
    col_chunk = max(1, min(m, _EXACT_CHUNK_BYTES // (d * 8)))
    row_chunk = max(1, _EXACT_CHUNK_BYTES // (col_chunk * d * 8))
    dists, idxs = [], []
    for s in range(0, rows.shape[0], row_chunk):
        r = rows[s : s + row_chunk]
        ar = a[r].double()
        best_d = torch.empty((r.shape[0], 0), dtype=torch.float64, device=a.device)
        best_i = torch.empty((r.shape[0], 0), dtype=torch.long, device=a.device)
        for c0 in range(0, m, col_chunk):
            c1 = min(m, c0 + col_chunk)
            dd = torch.linalg.vector_norm(ar.unsqueeze(1) - b[c0:c1].double().unsqueeze(0), dim=-1)
            ii = torch.arange(c0, c1, device=a.device).expand(r.shape[0], -1)
            if exclude_self:
                dd[r.unsqueeze(1) == ii] = math.inf
            # earlier (lower-index) entries first + stable sort = ties broken by the lower index
            best_d, best_i = torch.cat([best_d, dd], 1), torch.cat([best_i, ii], 1)
            best_d, order = torch.sort(best_d, dim=1, stable=True)
            best_d, best_i = best_d[:, :k], best_i.gather(1, order)[:, :k]
        dists.append(best_d)
        idxs.append(best_i)
    return torch.cat(dists), torch.cat(idxs)


def _select_exact(
    a: Tensor,
    rows: Tensor,
    b: Tensor,
    vals: Tensor,
    cand: Tensor,
    k: int,
    band: float,
    complete: bool,
    exclude_self: bool,
) -> tuple[Tensor, Tensor]:
    """Exact k nearest from approximate candidates; uncertified rows fall back to a full float64 search.

    ``vals``: ``[R, c]`` approximate squared distances in ascending order (float64), ``cand`` their indices in
    ``b``; every non-candidate has an approximate value ``>= vals[:, -1]``. ``complete``: the candidates are all the
    available points. Only candidates within ``2 band`` of the approximate k-th can be among the true k nearest.
    """
    r, c = cand.shape
    thr = vals[:, k - 1] + 2 * band
    cnt = (vals <= thr.unsqueeze(1)).sum(1)
    width = int(cnt.max()) if r else k
    cd = torch.full((r, width), math.inf, dtype=torch.float64, device=a.device)
    cd[:, :k] = _exact_dist(a, rows, b, cand[:, :k])
    if width > k:
        more = (cnt > k).nonzero().flatten()
        ext = _exact_dist(a, rows[more], b, cand[more, k:width])
        col = torch.arange(k, width, device=a.device).unsqueeze(0)
        ext[col >= cnt[more].unsqueeze(1)] = math.inf
        cd[more, k:] = ext
    dist, idx = _sort_by_dist_then_index(cd, cand[:, :width], k)
    if not complete:
        bad = cnt >= c
        if bool(bad.any()):
            bad_pos = bad.nonzero().flatten()
            fd, fi = _full_exact_rows(a, rows[bad_pos], b, k, exclude_self)
            dist[bad_pos], idx[bad_pos] = fd, fi
    return dist, idx


def _select_exact_ranks(
    a: Tensor,
    rows: Tensor,
    b: Tensor,
    vals: Tensor,
    cand: Tensor,
    ranks: tuple[int, ...],
    band: float,
    complete: bool,
    exclude_self: bool,
) -> tuple[Tensor, Tensor]:
    """Exact distance and index of the neighbours of the given 1-based ``ranks`` only (cheaper than all k).

    For rank ``p``, candidates more than ``2 band`` below (above) the approximate ``p``-th are certainly nearer
    (farther) than it; only the window in between is recomputed exactly, usually a single candidate. Ties are
    broken by the lower index, as in :func:`_select_exact`. Returns ``[R, len(ranks)]`` distances and indices.
    """
    r, c = cand.shape
    dists, idxs = [], []
    bad = torch.zeros(r, dtype=torch.bool, device=a.device)
    col = torch.arange(c, device=a.device).unsqueeze(0)
    for p in ranks:
        lo = vals[:, p - 1] - 2 * band
        hi = vals[:, p - 1] + 2 * band
        below = (vals < lo.unsqueeze(1)).sum(1)
        inside = (vals <= hi.unsqueeze(1)).sum(1) - below
        width = int(inside.max()) if r else 1
        take = (below.unsqueeze(1) + col[:, :width]).clamp_(max=c - 1)
        w_idx = cand.gather(1, take)
        # exact distances of the window members only (usually one per row)
        pr, pc = (col[:, :width] < inside.unsqueeze(1)).nonzero(as_tuple=True)
        w_dist = torch.full((r, width), math.inf, dtype=torch.float64, device=a.device)
        w_dist[pr, pc] = _exact_pairs(a, rows[pr], b, w_idx[pr, pc])
        pick = (p - 1 - below).unsqueeze(1)
        if width == 1:
            dists.append(w_dist)
            idxs.append(w_idx)
        else:
            d_sorted, i_sorted = _sort_by_dist_then_index(w_dist, w_idx, width)
            dists.append(d_sorted.gather(1, pick))
            idxs.append(i_sorted.gather(1, pick))
        if not complete:
            bad |= vals[:, -1] <= hi
    dist, idx = torch.cat(dists, 1), torch.cat(idxs, 1)
    if bool(bad.any()):
        bad_pos = bad.nonzero().flatten()
        fd, fi = _full_exact_rows(a, rows[bad_pos], b, max(ranks), exclude_self)
        sel = torch.tensor([p - 1 for p in ranks], device=a.device)
        dist[bad_pos], idx[bad_pos] = fd[:, sel], fi[:, sel]
    return dist, idx


def _merge_column_candidates(
    run_val: Tensor, run_idx: Tensor, ii: Tensor, jj: Tensor, vv: Tensor, c: int
) -> tuple[Tensor, Tensor]:
    """Merge new entries ``(row ii, column jj, value vv)``, grouped by ascending ``jj``, into per-column top-``c``.

    Only the columns that received entries are touched; ``run_val``/``run_idx`` are updated in place and returned.
    """
    if jj.numel() == 0:
        return run_val, run_idx
    cols, counts = torch.unique_consecutive(jj, return_counts=True)
    u = cols.shape[0]
    width = int(counts.max())
    grp = torch.repeat_interleave(torch.arange(u, device=jj.device), counts)
    pos = torch.arange(jj.numel(), device=jj.device) - (counts.cumsum(0) - counts)[grp] + c
    pad_v = torch.full((u, c + width), math.inf, dtype=run_val.dtype, device=run_val.device)
    pad_i = torch.zeros((u, c + width), dtype=torch.long, device=run_val.device)
    pad_v[:, :c] = run_val[cols]
    pad_i[:, :c] = run_idx[cols]
    pad_v[grp, pos] = vv
    pad_i[grp, pos] = ii
    val, keep = torch.topk(pad_v, c, dim=1, largest=False, sorted=False)
    run_val[cols] = val
    run_idx[cols] = pad_i.gather(1, keep)
    return run_val, run_idx


def _update_column_candidates(
    padded: Tensor, r: int, run_val: Tensor, run_idx: Tensor, row0: int, c: int, grouped: bool
) -> tuple[Tensor, Tensor]:
    """Merge the entries of a block into running per-column top-``c`` lists (one list per column of the block).

    ``padded``: ``[rp, m]`` view whose first ``r`` rows are the block (approximate squared distances of rows
    ``row0 ..`` to the ``m`` columns); rows ``r .. rp`` (``rp`` a multiple of ``_GROUP`` when ``grouped``) are
    scratch and set to ``+inf`` here. Only entries below a column's running ``c``-th best can enter its list, so
    every entry left out is ``>=`` the list's final maximum (the invariant :func:`_select_exact` relies on).
    """
    d2 = padded[:r]
    m = d2.shape[1]
    thr = run_val.max(1).values
    gmin = None
    if grouped:
        # minima over groups of _GROUP consecutive rows (one vectorised pass); only the groups whose minimum is
        # below a column's threshold are opened. Padding rows hold +inf (never below a threshold).
        rp = padded.shape[0]
        if rp > r:
            padded[r:rp] = math.inf
        gmin = padded.view(rp // _GROUP, _GROUP, m).amin(1)
        if rp // _GROUP >= c and bool(torch.isinf(thr).any()):
            # lists not full yet: the c-th smallest group minimum bounds the column's c-th smallest entry
            # (c groups each hold an entry <= it), so entries above it cannot enter the list either
            gkth = torch.topk(gmin.T.contiguous(), c, dim=1, largest=False, sorted=False).values.amax(1)
            thr = torch.minimum(thr, gkth)
    if bool(torch.isinf(thr).any()):
        # too few candidates yet (first block): a dense column-wise top-k seeds the running lists
        cb = min(c, r)
        step = max(1, _EXACT_CHUNK_BYTES // (r * d2.element_size()))  # bounded transient copies
        tops = [torch.topk(d2[:, j0 : j0 + step], cb, dim=0, largest=False, sorted=False) for j0 in range(0, m, step)]
        cvals, crows = torch.cat([t[0] for t in tops], 1), torch.cat([t[1] for t in tops], 1)
        run_val = torch.cat([run_val, cvals.T], dim=1)
        run_idx = torch.cat([run_idx, crows.T + row0], dim=1)
        run_val, keep = torch.topk(run_val, c, dim=1, largest=False, sorted=False)
        return run_val, run_idx.gather(1, keep)
    # entries above a column's threshold (>= its current c-th best, or above the bound just derived) can never
    # enter its list, so every entry left out is >= the list's final maximum (the invariant _select_exact needs)
    if gmin is not None:
        # nonzero of the transposed mask lists the hits grouped by ascending column (no sort needed)
        jj, gg = (gmin <= thr.unsqueeze(0)).T.nonzero(as_tuple=True)
        if jj.numel() * 8 <= gmin.numel():  # few groups to open (else the dense scan below is cheaper)
            ii = (gg * _GROUP).unsqueeze(1) + torch.arange(_GROUP, device=d2.device)
            vv = padded[ii, jj.unsqueeze(1)]
            h, o = (vv <= thr[jj].unsqueeze(1)).nonzero(as_tuple=True)  # row-major: still grouped by column
            return _merge_column_candidates(run_val, run_idx, ii[h, o] + row0, jj[h], vv[h, o], c)
    # nonzero of the transposed mask lists the entries grouped by column (no sort needed)
    jj, ii = (d2 <= thr.unsqueeze(0)).T.nonzero(as_tuple=True)
    return _merge_column_candidates(run_val, run_idx, ii + row0, jj, d2[ii, jj], c)


def _count_hits(
    count: Tensor,
    owner: Tensor,
    vv: Tensor,
    lo: Tensor,
    radius: Tensor,
    a: Tensor,
    ia: Tensor,
    b: Tensor,
    ib: Tensor,
) -> None:
    """``count[owner[t]] += 1`` for each pair ``t`` inside its ball.

    A pair whose approximate squared distance ``vv`` is below ``lo = r^2 - band`` is certainly inside; the others
    (callers pass only pairs with ``vv <= r^2 + band``) are decided on the exact distance ``||a[ia] - b[ib]|| < r``.
    """
    certain = vv < lo
    count.index_add_(0, owner[certain], torch.ones_like(owner[certain]))
    amb = (~certain).nonzero().flatten()
    if amb.numel():
        hit = _exact_pairs(a, ia[amb], b, ib[amb]) < radius[amb]
        count.index_add_(0, owner[amb[hit]], torch.ones_like(owner[amb[hit]]))


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
        block_size: rows per GEMM block; default keeps a block at about 16 MiB on CPU (1 GiB on CUDA).

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
    k = _check_positive_int(k, "k")
    if k >= x.shape[0]:
        raise ValueError(f"`k` must be smaller than the number of points ({x.shape[0]}) to exclude self, got k={k}")
    e = _pow2_exponent(x)
    dist, idx = _knn_within(_scale_pow2(x, e), k, metric, block_size)
    # cosine distances are scale-free; Euclidean ones are scaled back (exact: a power of two)
    return (dist if metric == "cosine" else _scale_pow2(dist, -e)), idx


def _knn_within(
    x: Tensor, k: int, metric: Metric, block_size: int | None, ranks: tuple[int, ...] | None = None
) -> tuple[Tensor, Tensor]:
    """:func:`knn_within` on validated input; with ``ranks`` only those neighbour ranks (1-based) are returned."""
    n = x.shape[0]
    dtype = _compute_dtype(x)
    src = _normalize_rows(x, "x") if metric == "cosine" else x
    dim = x.shape[1]
    dev = x.device
    # the distance matrix is symmetric: row block I is multiplied only with the points up to its last row (a strip,
    # about half the GEMM work). The strip gives its rows their candidates among those points (row-wise), and its
    # entries left of the diagonal block are offered to the candidate lists of the earlier points (column-wise,
    # only entries below a list's current c-th best can enter). An earlier point's list is already full when the
    # offers come, so its threshold is tight from the start. One GEMM gives the full ||a||^2 + ||b||^2 - 2 a.b
    # (operands [a, 1, ||a||^2] . [-2b, ||b||^2, 1]): column-wise ranking needs it.
    lhs, sq = _centred_into(src, src.mean(0), dtype, 2)  # any centre works: exactness never relies on it
    lhs[:, dim], lhs[:, dim + 1] = 1.0, sq
    rhs = torch.empty_like(lhs)
    torch.mul(lhs[:, :dim], -2.0, out=rhs[:, :dim])
    rhs[:, dim], rhs[:, dim + 1] = sq, 1.0
    band = _error_band(dim, sq, sq, dtype)
    c = min(n - 1, k + _EXTRA_CANDIDATES)
    bs = _resolve_block_size(block_size, n, n, dev, lhs.element_size())
    grouped = _no_overflow(sq, sq, dtype)
    buf = _padded_buffer(-(-bs // _GROUP) * _GROUP, n, c, grouped, dtype, dev)
    run_val = torch.full((n, c), math.inf, dtype=dtype, device=dev)
    run_idx = torch.zeros((n, c), dtype=torch.long, device=dev)
    for i0 in range(0, n, bs):
        i1 = min(n, i0 + bs)
        r = i1 - i0
        two_level = _two_level(i1, c, grouped)
        wp = _padded_width(i1, two_level)
        full = buf[:r, :wp]
        if wp > i1:
            full[:, i1:] = math.inf
        d2 = torch.mm(lhs[i0:i1], rhs[:i1].T, out=full[:, :i1])
        d2.diagonal(offset=i0).fill_(math.inf)
        # rows of this block: candidates among the points before them and in the block (later points offer theirs
        # column-wise when their block comes); fewer than c columns leave +inf placeholders, replaced later
        cw = min(c, i1)
        run_val[i0:i1, :cw], run_idx[i0:i1, :cw] = _row_smallest(full, i1, cw, two_level)
        # earlier points: this block's rows are offered to their lists
        if i0 > 0:
            rp = -(-r // _GROUP) * _GROUP if grouped else r
            run_val[:i0], run_idx[:i0] = _update_column_candidates(
                buf[:rp, :i0], r, run_val[:i0], run_idx[:i0], i0, c, grouped
            )
    vals, order = torch.sort(run_val.double(), dim=1)
    cand = run_idx.gather(1, order)
    rows = torch.arange(n, device=dev)
    if ranks is None:
        dist, idx = _select_exact(src, rows, src, vals, cand, k, band, complete=c == n - 1, exclude_self=True)
    else:
        dist, idx = _select_exact_ranks(src, rows, src, vals, cand, ranks, band, c == n - 1, exclude_self=True)
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
    * running candidates of the k nearest points of ``a`` for each ``b_j`` (entries below the running per-column
      ``(k+8)``-th best, merged over blocks),
    * if ``radius_a`` is given: :math:`c^{b}_j = \#\{i : \|b_j - a_i\| < r^a_i\}` (``b_j`` inside the balls of ``a``),
    * if ``radius_b`` is given: whether :math:`\|a_i - b_j\| < r^b_j` for some ``j`` (``a_i`` inside a ball of
      ``b``; the row minimum of :math:`\|a_i - b_j\|^2 - (r^b_j)^2`).

    Comparisons are strict (``<``, as in ``prdc``). Memory ``O(block_size x M)``.

    Args:
        a: ``[N, d]`` floating tensor.
        b: ``[M, d]`` floating tensor, same ``d`` and device.
        k: neighbours per direction, ``1 <= k <= min(N, M)``.
        radius_a: optional ``[N]`` ball radii around the points of ``a``.
        radius_b: optional ``[M]`` ball radii around the points of ``b``.
        block_size: rows of ``a`` per block; default keeps a block at about 16 MiB on CPU (1 GiB on CUDA).

    Returns:
        :class:`CrossKNN` ``(dist_ab, idx_ab, dist_ba, idx_ba, count_b_in_a_balls, a_in_any_b_ball)``.

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
    e = _pow2_exponent(a, b)
    ra = None if radius_a is None else _scale_pow2(radius_a, e)
    rb = None if radius_b is None else _scale_pow2(radius_b, e)
    out = _knn_cross(_scale_pow2(a, e), _scale_pow2(b, e), k, ra, rb, block_size)
    return out._replace(dist_ab=_scale_pow2(out.dist_ab, -e), dist_ba=_scale_pow2(out.dist_ba, -e))


def _knn_cross(
    a: Tensor,
    b: Tensor,
    k: int,
    radius_a: Tensor | None,
    radius_b: Tensor | None,
    block_size: int | None,
    ranks_ab: tuple[int, ...] | None = None,
    ranks_ba: tuple[int, ...] | None = None,
    k_ba: int | None = None,
) -> CrossKNN:
    """:func:`knn_cross` on validated input; with ``ranks_*`` only those neighbour ranks (1-based) are returned.

    ``k`` is the number of neighbours of each ``a_i`` in ``b`` (``<= M``); ``k_ba`` (default ``k``, ``<= N``) that of
    each ``b_j`` in ``a``.
    """
    n, m = a.shape[0], b.shape[0]
    k_ba = k if k_ba is None else k_ba
    dtype = _compute_dtype(a, b)
    mean = (a.sum(0).double() + b.sum(0).double()) / (n + m)  # any centre works: exactness never relies on it
    dim = a.shape[1]
    # one GEMM per block gives the full ||a||^2 + ||b||^2 - 2 a.b (operands [a, 1, ||a||^2] . [-2b, ||b||^2, 1])
    lhs, sq_a = _centred_into(a, mean, dtype, 2)
    rhs, sq_b = _centred_into(b, mean, dtype, 2)
    lhs[:, dim], lhs[:, dim + 1] = 1.0, sq_a
    rhs[:, :dim].mul_(-2.0)
    rhs[:, dim], rhs[:, dim + 1] = sq_b, 1.0
    band = _error_band(dim, sq_a, sq_b, dtype)
    c_ab = min(m, k + _EXTRA_CANDIDATES)
    c_ba = min(n, k_ba + _EXTRA_CANDIDATES)
    bs = _resolve_block_size(block_size, n, m, a.device, lhs.element_size())
    dev = a.device

    ra = radius_a.to(device=dev, dtype=torch.float64) if radius_a is not None else None
    rb = radius_b.to(device=dev, dtype=torch.float64) if radius_b is not None else None
    count_b = torch.zeros(m, dtype=torch.long, device=dev) if ra is not None else None
    in_any_a = torch.zeros(n, dtype=torch.bool, device=dev) if rb is not None else None
    if rb is not None:
        rb2_c = rb.pow(2).to(dtype)

    grouped = _no_overflow(sq_a, sq_b, dtype)
    # rows padded to a multiple of the group size: the b -> a pass pools groups of consecutive rows
    buf = _padded_buffer(-(-bs // _GROUP) * _GROUP, m, c_ab, grouped, dtype, dev)
    two_level = _two_level(m, c_ab, grouped)

    dists_ab, idxs_ab = [], []
    run_val = torch.full((m, c_ba), math.inf, dtype=dtype, device=dev)
    run_idx = torch.zeros((m, c_ba), dtype=torch.long, device=dev)
    for i0 in range(0, n, bs):
        i1 = min(n, i0 + bs)
        full = buf[: i1 - i0]
        d2 = torch.mm(lhs[i0:i1], rhs.T, out=full[:, :m])
        rows = torch.arange(i0, i1, device=dev)

        # a -> b: row-wise top-c, final for this block
        vals, cand = _row_smallest(full, m, c_ab, two_level)
        vals = vals.double()
        if ranks_ab is None:
            d, ix = _select_exact(a, rows, b, vals, cand, k, band, complete=c_ab == m, exclude_self=False)
        else:
            d, ix = _select_exact_ranks(a, rows, b, vals, cand, ranks_ab, band, c_ab == m, exclude_self=False)
        dists_ab.append(d)
        idxs_ab.append(ix)

        # balls around a: pairs among the candidates; rows whose ball may reach past them are scanned in full
        if ra is not None:
            r = ra[i0:i1]
            r2_lo, r2_hi = r.pow(2) - band, r.pow(2) + band
            ok = vals[:, -1] - band >= r.pow(2) if c_ab < m else torch.ones_like(r, dtype=torch.bool)
            pr, pc = ((vals <= r2_hi.unsqueeze(1)) & ok.unsqueeze(1)).nonzero(as_tuple=True)
            owner = cand[pr, pc]
            _count_hits(count_b, owner, vals[pr, pc], r2_lo[pr], r[pr], a, pr + i0, b, owner)
            if not bool(ok.all()):
                bad = (~ok).nonzero().flatten()
                sub = d2[bad]
                pr, pj = (sub <= r2_hi[bad].to(dtype).unsqueeze(1)).nonzero(as_tuple=True)
                rr = bad[pr]
                _count_hits(count_b, pj, sub[pr, pj].double(), r2_lo[rr], r[rr], a, rr + i0, b, pj)

        # b -> a: only entries below the running per-column c-th best can matter
        rp = -(-(i1 - i0) // _GROUP) * _GROUP if grouped else i1 - i0
        run_val, run_idx = _update_column_candidates(buf[:rp, :m], i1 - i0, run_val, run_idx, i0, c_ba, grouped)

        # is a_i inside any ball around b? row minimum of d2 - r_b^2 (in place: d2 is not needed any more)
        if rb is not None:
            d2.sub_(rb2_c.unsqueeze(0))
            rowmin = d2.amin(1).double()
            in_any_a[i0:i1] = rowmin < -band
            amb = ((rowmin >= -band) & (rowmin <= band)).nonzero().flatten()
            if amb.numel():
                pr, pj = (d2[amb] <= band).nonzero(as_tuple=True)
                hit = _exact_pairs(a, amb[pr] + i0, b, pj) < rb[pj]
                in_any_a.index_fill_(0, amb[pr[hit]] + i0, True)
        del d2

    run_val, order = torch.sort(run_val.double(), dim=1)
    run_idx = run_idx.gather(1, order)
    rows_b = torch.arange(m, device=dev)
    if ranks_ba is None:
        dist_ba, idx_ba = _select_exact(b, rows_b, a, run_val, run_idx, k_ba, band, c_ba == n, exclude_self=False)
    else:
        dist_ba, idx_ba = _select_exact_ranks(b, rows_b, a, run_val, run_idx, ranks_ba, band, c_ba == n, False)
    return CrossKNN(torch.cat(dists_ab), torch.cat(idxs_ab), dist_ba, idx_ba, count_b, in_any_a)


# ---------------------------------------------------------------------------------------------------------------------
# distributed (DDP) kNN: the same engine on pairs of blocks, exact per pair, merged exactly


def _dist_world(group: object = None) -> tuple[int, int]:
    """``(world_size, rank)`` of ``group`` (``(1, 0)`` when ``torch.distributed`` is not initialised)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 1, 0
    return dist.get_world_size(group), dist.get_rank(group)


class ShardedPoints:
    r"""A point set split into ``W`` contiguous blocks, one per rank, for :func:`sharded_knn_within` / ``_cross``.

    Block ``s`` holds the global rows ``offsets[s] .. offsets[s] + sizes[s]`` (the rank order of a DDP gather).
    Two transports, same results:

    * ``gathered`` (every rank holds the whole set, e.g. after torchmetrics' state sync): block ``s`` is a slice;
      :meth:`gathered` splits the rows evenly.
    * sharded (:meth:`sharded`, ``gather_features=False``): each rank holds only its own block; block ``s`` is
      broadcast from rank ``s`` (``torch.distributed.broadcast``) in pieces when the loop reaches it, so a rank
      holds its own block plus one piece at a time.

    Iterate the pieces with :meth:`pieces` on **every** rank in the same order (it is collective when sharded).
    """

    def __init__(self, local: Tensor, sizes: list[int], full: Tensor | None, group: object = None) -> None:
        self.local = local
        self.sizes = sizes
        self.offsets = [sum(sizes[:s]) for s in range(len(sizes))]
        self.total = sum(sizes)
        self.full = full
        self.group = group
        self.world, self.rank = len(sizes), _dist_world(group)[1] if len(sizes) > 1 else 0

    @classmethod
    def gathered(cls, full: Tensor, group: object = None) -> ShardedPoints:
        """Every rank holds ``full``; block ``s`` is the ``s``-th of ``W`` near-equal row ranges."""
        world, rank = _dist_world(group)
        n = full.shape[0]
        sizes = [n // world + (s < n % world) for s in range(world)]
        off = sum(sizes[:rank])
        return cls(full[off : off + sizes[rank]], sizes, full, group)

    @classmethod
    def sharded(cls, local: Tensor, sizes: list[int], group: object = None) -> ShardedPoints:
        """This rank holds only ``local`` (its block); ``sizes``: every rank's row count (:func:`_all_sizes`)."""
        return cls(local, sizes, None, group)

    def pieces(self, s: int) -> Iterator[tuple[int, Tensor]]:
        """``(first row within block s, rows)`` of block ``s``, in order; collective when sharded (every rank
        iterates every block's pieces in the same order): the whole block when gathered, pieces of at most an eighth
        of it (and 256 MiB) broadcast from rank ``s`` when sharded."""
        n_s = self.sizes[s]
        if self.full is not None:
            if n_s:
                yield 0, self.full[self.offsets[s] : self.offsets[s] + n_s]
            return
        import torch.distributed as dist

        d = self.local.shape[1]
        rows = max(1, min(-(-n_s // _SHARD_PIECES), _SHARD_PIECE_BYTES // max(1, d * self.local.element_size())))
        src = s if self.group is None else dist.get_global_rank(self.group, s)
        for p0 in range(0, n_s, rows):
            p1 = min(n_s, p0 + rows)
            if s == self.rank:
                piece = self.local[p0:p1].contiguous()
            else:
                piece = torch.empty((p1 - p0, d), dtype=self.local.dtype, device=self.local.device)
            dist.broadcast(piece, src=src, group=self.group)
            yield p0, piece


def _all_sizes(n_local: int, device: torch.device, group: object = None) -> list[int]:
    """Every rank's ``n_local`` (one ``all_gather``)."""
    import torch.distributed as dist

    world, _ = _dist_world(group)
    if world == 1:
        return [n_local]
    mine = torch.tensor([n_local], dtype=torch.long, device=device)
    out = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(out, mine, group=group)
    return [int(t) for t in out]


def _all_reduce(x: Tensor, op: str, group: object = None) -> Tensor:
    """``all_reduce`` (``"sum"`` / ``"max"``) in place when distributed; returns ``x``."""
    import torch.distributed as dist

    if _dist_world(group)[0] > 1:
        dist.all_reduce(x, op=dist.ReduceOp.SUM if op == "sum" else dist.ReduceOp.MAX, group=group)
    return x


def _global_pow2_exponent(xs: list[Tensor], device: torch.device, group: object = None) -> int:
    """:func:`_pow2_exponent` over the union of every rank's ``xs`` (one ``all_reduce``)."""
    top = max((float(x.abs().max()) for x in xs if x.numel()), default=0.0)
    t = _all_reduce(torch.tensor([top], dtype=torch.float64, device=device), "max", group)
    return _exponent_of(float(t))


class _TopK:
    """Running exact k nearest ``(distance, global index)`` lists of all points of a set, merged by distance, then
    index (the engine's tie rule); a placeholder is ``(inf, sentinel)``."""

    def __init__(self, n: int, k: int, device: torch.device) -> None:
        self.k = k
        self.sentinel = torch.iinfo(torch.long).max
        self.dist = torch.full((n, k), math.inf, dtype=torch.float64, device=device)
        self.idx = torch.full((n, k), self.sentinel, dtype=torch.long, device=device)

    def merge(self, row0: int, dist: Tensor, idx: Tensor) -> None:
        rows = slice(row0, row0 + dist.shape[0])
        d = torch.cat([self.dist[rows], dist], 1)
        i = torch.cat([self.idx[rows], idx], 1)
        self.dist[rows], self.idx[rows] = _sort_by_dist_then_index(d, i, self.k)

    def all_merge(self, group: object = None) -> tuple[Tensor, Tensor]:
        """Merge every rank's lists (one ``all_gather`` each); the same ``[n, k]`` result on every rank."""
        import torch.distributed as dist

        world, _ = _dist_world(group)
        if world > 1:
            ds = [torch.empty_like(self.dist) for _ in range(world)]
            is_ = [torch.empty_like(self.idx) for _ in range(world)]
            dist.all_gather(ds, self.dist, group=group)
            dist.all_gather(is_, self.idx, group=group)
            self.dist, self.idx = _sort_by_dist_then_index(torch.cat(ds, 1), torch.cat(is_, 1), self.k)
        return self.dist, self.idx


def sharded_knn_within(x: ShardedPoints, k: int, block_size: int | None = None) -> tuple[Tensor, Tensor]:
    r"""Exact k nearest *other* points (Euclidean) of every point of a set split across ranks; collective.

    Work is split over ranks by pairs of blocks: rank ``r`` searches its own block with :func:`knn_within`'s
    symmetric engine, and for every other block ``s`` one :func:`knn_cross` call over half of the pair (rank
    ``r < s`` takes ``P_r x P_s[:h_s]``, rank ``s`` takes ``P_s[h_s:] x P_r``), which gives both directions. Each call
    is exact (float64 distances, ties to the lower index) on its pair of blocks, the blocks of a point's pairs
    partition the other points, and the lists are merged by (distance, global index), so the result **equals**
    :func:`knn_within` on the whole set. About ``N^2 / (2W)`` distance evaluations per rank.

    Args:
        x: the points, already scaled (see :func:`_scale_pow2`); every block must be finite.
        k: ``1 <= k <= N - 1`` (``N`` the global count).
        block_size: rows per GEMM block of each engine call.

    Returns:
        ``(dist, idx)`` ``[N, k]`` float64 / long over the global rows, the same on every rank.
    """
    r, world = x.rank, x.world
    acc = _TopK(x.total, k, x.local.device)
    off_r, n_r = x.offsets[r], x.sizes[r]
    if n_r >= 2:  # own block: the symmetric engine
        d, i = _knn_within(x.local, min(k, n_r - 1), "euclidean", block_size)
        acc.merge(off_r, d, i + off_r)
    for s in range(world):
        off_s, half_s = x.offsets[s], x.sizes[s] // 2
        for p0, piece in x.pieces(s):
            if s == r:
                continue  # (this rank only sent it)
            if r < s:  # P_r x P_s[:half]
                b, ob = piece[: max(0, half_s - p0)], off_s + p0
                a, oa = x.local, off_r
            else:  # P_r[half:] x P_s
                b, ob = piece, off_s + p0
                a, oa = x.local[n_r // 2 :], off_r + n_r // 2
            if a.shape[0] == 0 or b.shape[0] == 0:
                continue
            out = _knn_cross(a, b, min(k, b.shape[0]), None, None, block_size, k_ba=min(k, a.shape[0]))
            acc.merge(oa, out.dist_ab, out.idx_ab + ob)
            acc.merge(ob, out.dist_ba, out.idx_ba + oa)
    return acc.all_merge(x.group)


class ShardedCross(NamedTuple):
    """Result of :func:`sharded_knn_cross` (global rows, the same on every rank); fields as in :class:`CrossKNN`."""

    dist_ab: Tensor
    idx_ab: Tensor
    dist_ba: Tensor
    idx_ba: Tensor
    count_b_in_a_balls: Tensor | None
    a_in_any_b_ball: Tensor | None


def sharded_knn_cross(
    a: ShardedPoints,
    b: ShardedPoints,
    k: int,
    radius_a: Tensor | None = None,
    radius_b: Tensor | None = None,
    block_size: int | None = None,
) -> ShardedCross:
    r""":func:`knn_cross` of two sets split across ranks (both directions, ball counts); collective.

    Rank ``r`` runs one engine call per block ``s`` of ``a`` against its own block of ``b`` (``A_s x B_r``): every
    pair of blocks once, about ``N M / W`` distance evaluations per rank. Lists are merged exactly as in
    :func:`sharded_knn_within`; ball counts are summed and the "inside any ball" flags or-ed across ranks.

    Args:
        a, b: the two sets (same transport), already scaled.
        k: ``1 <= k <= min(N, M)``.
        radius_a, radius_b: optional global ``[N]`` / ``[M]`` radii (on every rank), in the scaled units.
        block_size: rows per GEMM block of each engine call.
    """
    r = b.rank
    dev = b.local.device
    acc_ab = _TopK(a.total, k, dev)
    acc_ba = _TopK(b.total, k, dev)
    count = torch.zeros(b.total, dtype=torch.long, device=dev) if radius_a is not None else None
    inside = torch.zeros(a.total, dtype=torch.long, device=dev) if radius_b is not None else None
    ob, m_r = b.offsets[r], b.sizes[r]
    rb = None if radius_b is None else radius_b[ob : ob + m_r]
    if a.full is not None:  # gathered: all of a against this rank's block of b in one engine call
        parts: Iterator[tuple[int, Tensor]] = iter([(0, a.full)] if a.total else [])
    else:
        parts = ((a.offsets[s] + p0, piece) for s in range(a.world) for p0, piece in a.pieces(s))
    for oa, piece in parts:  # (every rank consumes every piece: broadcasts are collective)
        n_p = piece.shape[0]
        if m_r == 0:
            continue
        ra = None if radius_a is None else radius_a[oa : oa + n_p]
        out = _knn_cross(piece, b.local, min(k, m_r), ra, rb, block_size, k_ba=min(k, n_p))
        acc_ab.merge(oa, out.dist_ab, out.idx_ab + ob)
        acc_ba.merge(ob, out.dist_ba, out.idx_ba + oa)
        if count is not None:
            count[ob : ob + m_r] += out.count_b_in_a_balls
        if inside is not None:
            inside[oa : oa + n_p] += out.a_in_any_b_ball.long()
    d_ab, i_ab = acc_ab.all_merge(a.group)
    d_ba, i_ba = acc_ba.all_merge(a.group)
    if count is not None:
        _all_reduce(count, "sum", a.group)
    if inside is not None:
        inside = _all_reduce(inside, "sum", a.group) > 0
    return ShardedCross(d_ab, i_ab, d_ba, i_ba, count, inside)


__all__ = [
    "CrossKNN",
    "ShardedCross",
    "ShardedPoints",
    "knn_cross",
    "knn_within",
    "sharded_knn_cross",
    "sharded_knn_within",
]
