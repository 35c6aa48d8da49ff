r"""Representational similarity of two models on the same inputs: streamed linear CKA and kNN-Jaccard.

**Linear CKA** (Kornblith et al. 2019) of representations :math:`X \in \mathbb{R}^{n\times d_a}` and
:math:`Y \in \mathbb{R}^{n\times d_b}` (rows paired: the same input),

.. math::

    \text{CKA}(X, Y) = \frac{\text{HSIC}(K, L)}{\sqrt{\text{HSIC}(K, K)\,\text{HSIC}(L, L)}}, \qquad
    K = XX^\top,\; L = YY^\top,

with either HSIC estimator:

* *biased* (Gretton 2005): :math:`\text{HSIC}_0 \propto \operatorname{tr}(KHLH) = \|C_{ab}\|_F^2` with the centred
  cross-moment :math:`C_{ab} = X^\top Y - \tfrac1n s_a s_b^\top`, :math:`s_a = \sum_i x_i`;
* *unbiased* (Song et al. 2012, U-centring of Székely & Rizzo 2014; what ``casparil/rob-univ`` reports): with
  :math:`q_i = \|x_i\|^2`, :math:`r_i = \|y_i\|^2` and :math:`\tilde K, \tilde L` the Gram matrices with zeroed
  diagonals,

  .. math::

      n(n-3)\,\text{HSIC}_1 = \operatorname{tr}(\tilde K\tilde L)
      + \frac{\mathbf 1^\top\tilde K\mathbf 1\;\mathbf 1^\top\tilde L\mathbf 1}{(n-1)(n-2)}
      - \frac{2}{n-2}\mathbf 1^\top\tilde K\tilde L\mathbf 1,

  where :math:`\operatorname{tr}(\tilde K\tilde L) = \|X^\top Y\|_F^2 - \sum_i q_i r_i`,
  :math:`\mathbf 1^\top\tilde K\mathbf 1 = \|s_a\|^2 - \sum_i q_i` and
  :math:`\mathbf 1^\top\tilde K\tilde L\mathbf 1 = s_a^\top X^\top Y s_b - s_a\cdot\sum_i r_i x_i
  - s_b\cdot\sum_i q_i y_i + \sum_i q_i r_i`.

Both are therefore exact functions of the feature-space moments :math:`n, s_a, s_b, X^\top Y, X^\top X, Y^\top Y`
and a few :math:`O(d)` extras (:math:`\sum q, \sum r, \sum q^2, \sum r^2, \sum qr, \sum q x, \sum r x, \sum q y,
\sum r y`): the full-data CKA streams with memory :math:`O(d_a^2 + d_b^2 + d_a d_b)`, independent of ``n``.

*Precision.* Raw moments cancel catastrophically when features have a large mean (a ReLU layer, or an offset of
1000): the unbiased terms grow like :math:`n^2\,\text{offset}^4`. Both estimators are translation invariant, so every
moment is accumulated in float64 about a *shift* (the mean of the first batch a state sees, rounded to float32), and
states with different shifts (other processes, ``merge_state``) are merged by re-expressing their moments about a
common shift with exact algebraic identities (a Chan-style merge) before summing. All states of one metric live in
one packed float64 vector so that this merge is a single ``dist_reduce_fx`` callable, valid for DDP, ``merge_state`` and
``forward``.

**kNN-Jaccard** (Klabunde et al.; rob-univ ``knn_jaccard``) and **mutual kNN** (Huh et al. 2024):

.. math::

    J_k = \frac1N \sum_i \frac{|N^a_k(i)\cap N^b_k(i)|}{|N^a_k(i)\cup N^b_k(i)|}, \qquad
    m_k = \frac1N \sum_i \frac{|N^a_k(i)\cap N^b_k(i)|}{k},

where :math:`N^a_k(i)` are the indices of the ``k`` nearest *other* inputs of input ``i`` in representation a.
"""

from __future__ import annotations

import math
import warnings
from typing import Literal

import torch
from torch import Tensor

from rdmetrics.utilities.checks import (
    _check_finite,
    _check_positive_int,
    _check_same_num_samples,
    _check_tensor,
)

# ---------------------------------------------------------------------------------------------------------------------
# input validation


def _features(x: object, name: str, dim: int | None = None, check_finite: bool = True) -> Tensor:
    """``[N, d]`` floating features (``[N, ...]`` is flattened), finite, ``d == dim`` when given."""
    x = _check_tensor(x, name)
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor of features, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"`{name}` must be [N, d] features (or [N, ...], flattened), got shape {tuple(x.shape)}")
    x = x.flatten(1)  # not reshape(n, -1): an empty batch [0, ...] keeps its feature width
    if x.shape[1] == 0:
        raise ValueError(f"`{name}` has zero feature dimensions")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"`{name}` has {x.shape[1]} features, expected {dim}")
    if check_finite:
        _check_finite(x, name)
    return x


def _pair(
    x: object, y: object, dim_a: int | None = None, dim_b: int | None = None, check_finite: bool = True
) -> tuple[Tensor, Tensor]:
    a = _features(x, "x", dim_a, check_finite)
    b = _features(y, "y", dim_b, check_finite)
    _check_same_num_samples(a, b, "x", "y")
    if a.device != b.device:
        raise ValueError(f"`x` and `y` must be on the same device, got {a.device} and {b.device}")
    return a, b


def _nan_warn(what: str, device: torch.device) -> Tensor:
    warnings.warn(
        f"{what}: non-positive denominator (constant or degenerate features); returning NaN",
        RuntimeWarning,
        stacklevel=3,
    )
    return torch.tensor(float("nan"), dtype=torch.float64, device=device)


# ---------------------------------------------------------------------------------------------------------------------
# packed moment state of linear CKA
#
# layout (float64): [d_a, d_b, n, q1, r1, q2, r2, qr, shift_a, shift_b, s_a, s_b, qx_a, rx_a, qy_b, ry_b,
#                    m_ab, m_aa, m_bb]
# with u = x - shift_a, v = y - shift_b, q = |u|^2, r = |v|^2: s_a = sum u, qx_a = sum q u, rx_a = sum r u,
# qy_b = sum q v, ry_b = sum r v, m_ab = sum u v^T, m_aa = sum u u^T, m_bb = sum v v^T,
# q1 = sum q, q2 = sum q^2, r1 = sum r, r2 = sum r^2, qr = sum q r.

_SCALARS = ("n", "q1", "r1", "q2", "r2", "qr")
_HEADER = 2


def _layout(da: int, db: int) -> list[tuple[str, tuple[int, ...]]]:
    out: list[tuple[str, tuple[int, ...]]] = [(s, ()) for s in _SCALARS]
    out += [("shift_a", (da,)), ("shift_b", (db,)), ("s_a", (da,)), ("s_b", (db,))]
    out += [("qx_a", (da,)), ("rx_a", (da,)), ("qy_b", (db,)), ("ry_b", (db,))]
    out += [("m_ab", (da, db)), ("m_aa", (da, da)), ("m_bb", (db, db))]
    return out


def _state_size(da: int, db: int) -> int:
    return _HEADER + sum(math.prod(shape) for _, shape in _layout(da, db))


def _cka_empty_state(da: int, db: int, device: torch.device | str | None = None) -> Tensor:
    """A zero packed CKA state for ``da`` and ``db`` features (float64 1-D tensor).

    ``da = db = 0`` is the state of a metric whose feature sizes are not known yet (learnt at the first non-empty
    update, see :func:`_linear_cka_update`).
    """
    if (da, db) != (0, 0):
        da = _check_positive_int(da, "num_features_a")
        db = _check_positive_int(db, "num_features_b")
    state = torch.zeros(_state_size(da, db), dtype=torch.float64, device=device)
    state[0], state[1] = da, db
    return state


def _cka_dims(state: Tensor) -> tuple[int, int]:
    """``(d_a, d_b)`` of a packed state; ``(0, 0)`` while the sizes are unknown."""
    return int(state[0]), int(state[1])


def _cka_expand(state: Tensor, da: int, db: int) -> Tensor:
    """``state`` with feature sizes ``(da, db)``: an unknown-size state becomes an empty one of that size."""
    dims = _cka_dims(state)
    if dims == (da, db):
        return state
    if dims == (0, 0):
        return _cka_empty_state(da, db, state.device)
    if (da, db) == (0, 0):
        return state
    raise ValueError(
        f"linear CKA states with different feature dimensions cannot be merged: (d_a, d_b) = {dims} and {(da, db)}"
    )


def _unpack(state: Tensor) -> dict[str, Tensor]:
    """Views into a packed state (writing into them writes the state)."""
    da, db = int(state[0]), int(state[1])
    if state.ndim != 1 or state.numel() != _state_size(da, db):
        raise ValueError(f"corrupt linear CKA state: {state.numel()} values for d_a={da}, d_b={db}")
    views, off = {}, _HEADER
    for name, shape in _layout(da, db):
        size = math.prod(shape)
        views[name] = state[off : off + size].view(shape)
        off += size
    return views


def _linear_cka_update(state: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Accumulate one batch of paired features into a packed state (in place; also returned).

    A state of unknown feature sizes (``(0, 0)``) is replaced by a new one sized by the first non-empty batch (the
    returned tensor is then not ``state``). An empty batch is a no-op (its widths are still checked).

    Work runs in the input precision (float64 if both inputs are float64, float32 otherwise) and is accumulated in
    float64. The batch is first shifted by the state's shift (the first batch's mean, rounded to float32 so that the
    subtraction is exact in either precision); the moments are then three GEMMs plus two ``[3, B] x [B, d]``
    products for the sums and the unbiased extras. Finiteness is checked on the squared row norms (one host
    synchronisation) before anything is written, so a bad batch leaves the state untouched.
    """
    da, db = _cka_dims(state)
    if (da, db) == (0, 0):  # feature sizes not known yet: the first non-empty batch sets them
        a, b = _pair(x, y, check_finite=False)
        if a.shape[0] == 0:
            return state
        state = _cka_empty_state(a.shape[1], b.shape[1], state.device)
    else:
        a, b = _pair(x, y, da, db, check_finite=False)
    if a.shape[0] == 0:
        return state
    st = _unpack(state)
    work = torch.float64 if a.dtype == torch.float64 and b.dtype == torch.float64 else torch.float32
    a, b = a.to(state.device, work), b.to(state.device, work)
    if float(st["n"]) == 0:
        shift_a = a.mean(0, dtype=torch.float64).float().double()
        shift_b = b.mean(0, dtype=torch.float64).float().double()
    else:
        shift_a, shift_b = st["shift_a"], st["shift_b"]
    u, v = a - shift_a.to(work), b - shift_b.to(work)
    q, r = (u * u).sum(1), (v * v).sum(1)
    if not bool(torch.isfinite(q.sum() + r.sum())):
        _check_finite(a, "x")
        _check_finite(b, "y")
        raise ValueError("`x` or `y` has values too large for squared norms in the working precision")
    if float(st["n"]) == 0:
        st["shift_a"].copy_(shift_a)
        st["shift_b"].copy_(shift_b)
    weights = torch.stack([torch.ones_like(q), q, r])
    sums_a, sums_b = (weights @ u).double(), (weights @ v).double()
    if work == torch.float64:
        st["m_ab"].addmm_(u.T, v)
        st["m_aa"].addmm_(u.T, u)
        st["m_bb"].addmm_(v.T, v)
    else:
        st["m_ab"].add_(u.T @ v)  # float32 product, promoted into the float64 state in place
        st["m_aa"].add_(u.T @ u)
        st["m_bb"].add_(v.T @ v)
    q, r = q.double(), r.double()
    st["n"] += a.shape[0]
    st["s_a"] += sums_a[0]
    st["qx_a"] += sums_a[1]
    st["rx_a"] += sums_a[2]
    st["s_b"] += sums_b[0]
    st["qy_b"] += sums_b[1]
    st["ry_b"] += sums_b[2]
    st["q1"] += q.sum()
    st["r1"] += r.sum()
    st["q2"] += q.square().sum()
    st["r2"] += r.square().sum()
    st["qr"] += (q * r).sum()
    return state


def _reshift(st: dict[str, Tensor], new_a: Tensor, new_b: Tensor) -> dict[str, Tensor]:
    """Re-express moments about new shifts (exact identities; ``u' = u + δ`` with ``δ = shift - new``)."""
    d, e = st["shift_a"] - new_a, st["shift_b"] - new_b
    n, s_a, s_b = st["n"], st["s_a"], st["s_b"]
    m_ab, m_aa, m_bb = st["m_ab"], st["m_aa"], st["m_bb"]
    q1, r1 = st["q1"], st["r1"]
    dd, ee = d @ d, e @ e
    sd, se = s_a @ d, s_b @ e
    m_aa_d, m_bb_e, m_ab_e, m_ba_d = m_aa @ d, m_bb @ e, m_ab @ e, m_ab.T @ d
    out = dict(st)
    out["shift_a"], out["shift_b"] = new_a.clone(), new_b.clone()
    out["s_a"], out["s_b"] = s_a + n * d, s_b + n * e
    out["m_ab"] = m_ab + torch.outer(s_a, e) + torch.outer(d, s_b) + n * torch.outer(d, e)
    out["m_aa"] = m_aa + torch.outer(s_a, d) + torch.outer(d, s_a) + n * torch.outer(d, d)
    out["m_bb"] = m_bb + torch.outer(s_b, e) + torch.outer(e, s_b) + n * torch.outer(e, e)
    out["q1"] = q1 + 2 * sd + n * dd
    out["r1"] = r1 + 2 * se + n * ee
    out["q2"] = st["q2"] + 4 * (d @ m_aa_d) + n * dd * dd + 4 * (st["qx_a"] @ d) + 2 * dd * q1 + 4 * dd * sd
    out["r2"] = st["r2"] + 4 * (e @ m_bb_e) + n * ee * ee + 4 * (st["ry_b"] @ e) + 2 * ee * r1 + 4 * ee * se
    out["qr"] = (
        st["qr"]
        + 2 * (st["qy_b"] @ e)
        + ee * q1
        + 2 * (st["rx_a"] @ d)
        + 4 * (d @ m_ab_e)
        + 2 * ee * sd
        + dd * r1
        + 2 * dd * se
        + n * dd * ee
    )
    out["qx_a"] = st["qx_a"] + q1 * d + 2 * m_aa_d + 2 * sd * d + dd * s_a + n * dd * d
    out["rx_a"] = st["rx_a"] + r1 * d + 2 * m_ab_e + 2 * se * d + ee * s_a + n * ee * d
    out["qy_b"] = st["qy_b"] + q1 * e + 2 * m_ba_d + 2 * sd * e + dd * s_b + n * dd * e
    out["ry_b"] = st["ry_b"] + r1 * e + 2 * m_bb_e + 2 * se * e + ee * s_b + n * ee * e
    return out


def _merge_cka_states(stacked: Tensor) -> Tensor:
    """Merge packed CKA states ``[G, P]`` into one ``[P]`` (the ``dist_reduce_fx`` of :class:`LinearCKA`).

    Every non-empty state is re-expressed about the shift of the first non-empty one, then the moments are summed.
    Deterministic in the order of ``stacked``, so every process computes the same merged state.
    """
    if stacked.ndim == 1:
        return stacked
    stacked = stacked.reshape(-1, stacked.shape[-1])
    if not bool((stacked[:, :_HEADER] == stacked[0, :_HEADER]).all()):
        raise ValueError("cannot merge linear CKA states with different feature dimensions")
    out = torch.zeros_like(stacked[0])
    out[:_HEADER] = stacked[0, :_HEADER]
    acc = _unpack(out)
    groups = [_unpack(row) for row in stacked if float(row[_HEADER]) > 0]
    if not groups:
        return out
    new_a, new_b = groups[0]["shift_a"].clone(), groups[0]["shift_b"].clone()
    for g in groups:
        g = _reshift(g, new_a, new_b)
        for name, view in acc.items():
            if name not in ("shift_a", "shift_b"):
                view += g[name]
    acc["shift_a"].copy_(new_a)
    acc["shift_b"].copy_(new_b)
    return out


def _hsic_terms(st: dict[str, Tensor], debiased: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(HSIC(K, L), HSIC(K, K), HSIC(L, L))`` up to a common positive factor, from centred moments."""
    n = st["n"]
    if not debiased:
        c_ab = st["m_ab"] - torch.outer(st["s_a"], st["s_b"]) / n
        c_aa = st["m_aa"] - torch.outer(st["s_a"], st["s_a"]) / n
        c_bb = st["m_bb"] - torch.outer(st["s_b"], st["s_b"]) / n
        return c_ab.square().sum(), c_aa.square().sum(), c_bb.square().sum()
    s_a, s_b = st["s_a"], st["s_b"]
    one_a, one_b = s_a @ s_a - st["q1"], s_b @ s_b - st["r1"]

    def hsic1(tr: Tensor, one_k: Tensor, one_l: Tensor, kl: Tensor) -> Tensor:
        return tr + one_k * one_l / ((n - 1) * (n - 2)) - 2 * kl / (n - 2)

    h_ab = hsic1(
        st["m_ab"].square().sum() - st["qr"],
        one_a,
        one_b,
        s_a @ st["m_ab"] @ s_b - s_a @ st["rx_a"] - s_b @ st["qy_b"] + st["qr"],
    )
    h_aa = hsic1(
        st["m_aa"].square().sum() - st["q2"], one_a, one_a, s_a @ st["m_aa"] @ s_a - 2 * s_a @ st["qx_a"] + st["q2"]
    )
    h_bb = hsic1(
        st["m_bb"].square().sum() - st["r2"], one_b, one_b, s_b @ st["m_bb"] @ s_b - 2 * s_b @ st["ry_b"] + st["r2"]
    )
    return h_ab, h_aa, h_bb


def _cka_ratio(h_ab: Tensor, h_aa: Tensor, h_bb: Tensor, what: str) -> Tensor:
    den = h_aa * h_bb
    if not bool(den > 0):
        return _nan_warn(what, h_ab.device)
    return h_ab / den.sqrt()


def _linear_cka_compute(state: Tensor, debiased: bool = False) -> Tensor:
    """CKA of a packed state (float64 scalar); NaN with a warning when a self-HSIC is not positive."""
    st = _unpack(state)
    n = int(st["n"])
    if n == 0:
        raise ValueError("linear CKA: no samples seen (empty state); call update() first")
    if debiased and n < 4:
        raise ValueError(f"unbiased (debiased) CKA needs at least 4 samples, got n={n}")
    # re-centre on the exact mean (translation invariance) to minimise cancellation in the formulas
    st = _reshift(st, st["shift_a"] + st["s_a"] / n, st["shift_b"] + st["s_b"] / n)
    return _cka_ratio(*_hsic_terms(st, debiased), "linear CKA")


def linear_cka(x: Tensor, y: Tensor, debiased: bool = False) -> Tensor:
    r"""Full-data linear CKA of two paired representations, from feature-space moments (no ``n x n`` matrix).

    .. math::

        \text{CKA} = \frac{\text{HSIC}(XX^\top, YY^\top)}{\sqrt{\text{HSIC}(XX^\top, XX^\top)\,
        \text{HSIC}(YY^\top, YY^\top)}}

    with the biased HSIC (Kornblith et al. 2019; ``debiased=False``, equal to
    :math:`\|\tilde X^\top\tilde Y\|_F^2/(\|\tilde X^\top\tilde X\|_F\|\tilde Y^\top\tilde Y\|_F)` for column-centred
    :math:`\tilde X, \tilde Y`) or the unbiased HSIC of Song et al. (2012) (``debiased=True``; the U-centred estimator
    ``casparil/rob-univ`` reports; needs ``n >= 4``). See the module docstring for the moment formulas.

    1 means the representations agree up to an orthogonal transform and isotropic scaling; 0 means no linear
    relation. The biased value is positive even for independent inputs at small ``n``; the unbiased one is about 0
    there, and can be slightly negative. Returns NaN with a warning (never a crash, never a clamp) when a
    denominator is not positive (e.g. constant features).

    Args:
        x: ``[N, d_a]`` features of model a (``[N, ...]`` is flattened).
        y: ``[N, d_b]`` features of model b for the same ``N`` inputs.
        debiased: use the unbiased HSIC estimator.

    Returns:
        float64 scalar tensor.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(100, 5, generator=g, dtype=torch.float64)
        >>> q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
        >>> round(float(linear_cka(x, 3 * x @ q + 7)), 6)  # rotation, scaling and offset invariant
        1.0
        >>> round(float(linear_cka(x, x[:, :2])), 2) < 1
        True
    """
    a, b = _pair(x, y)
    state = _cka_empty_state(a.shape[1], b.shape[1], a.device)
    return _linear_cka_compute(_linear_cka_update(state, a, b), debiased)


# ---------------------------------------------------------------------------------------------------------------------
# minibatch CKA (Nguyen, Raghu & Kornblith 2021): a different estimator


def _gram_hsic(k: Tensor, l: Tensor, debiased: bool) -> Tensor:
    """HSIC of two ``n x n`` Gram matrices (float64): biased ``tr(KHLH)/(n-1)^2`` or unbiased (Song 2012)."""
    n = k.shape[0]
    if not debiased:
        kc = k - k.mean(0, keepdim=True) - k.mean(1, keepdim=True) + k.mean()
        return (kc * l).sum() / (n - 1) ** 2
    k = k.clone()
    l = l.clone()
    k.fill_diagonal_(0)
    l.fill_diagonal_(0)
    one_k, one_l = k.sum(), l.sum()
    kl = (k.sum(0) * l.sum(1)).sum()
    return ((k * l).sum() + one_k * one_l / ((n - 1) * (n - 2)) - 2 * kl / (n - 2)) / (n * (n - 3))


def _minibatch_cka_update(x: Tensor, y: Tensor, debiased: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``(HSIC(K,L), HSIC(K,K), HSIC(L,L))`` of one batch (float64), from its ``B x B`` Gram matrices."""
    a, b = _pair(x, y)
    n = a.shape[0]
    if debiased and n < 4:
        raise ValueError(f"minibatch CKA with the unbiased HSIC needs batches of at least 4 samples, got {n}")
    if n < 2:
        raise ValueError(f"minibatch CKA needs batches of at least 2 samples, got {n}")
    a = a.double() - a.double().mean(0)  # HSIC is translation invariant; centring avoids cancellation
    b = b.double() - b.double().mean(0)
    k, l = a @ a.T, b @ b.T
    return _gram_hsic(k, l, debiased), _gram_hsic(k, k, debiased), _gram_hsic(l, l, debiased)


# ---------------------------------------------------------------------------------------------------------------------
# kNN-Jaccard


def _knn_overlap(idx_a: Tensor, idx_b: Tensor) -> Tensor:
    """``|row_i(idx_a) ∩ row_i(idx_b)|`` for rows of distinct indices, by sorting (``O(N k log k)``, no ``k^2``)."""
    both = torch.cat([idx_a, idx_b], dim=1).sort(dim=1).values
    return (both[:, 1:] == both[:, :-1]).sum(1)


def _knn_jaccard_compute(
    x: Tensor, y: Tensor, k: int, metric: str = "cosine", center: bool = False, block_size: int | None = None
) -> dict[str, Tensor]:
    from rdmetrics.functional.knn import knn_within

    a, b = _pair(x, y)
    k = _check_positive_int(k, "k")
    n = a.shape[0]
    if n == 0:
        raise ValueError("kNN-Jaccard: no samples seen (empty state); call update() first")
    if k >= n:
        raise ValueError(f"`k` must be smaller than the number of samples ({n}) to exclude self, got k={k}")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"`metric` must be 'cosine' or 'euclidean', got {metric!r}")
    if center:
        a = a - a.double().mean(0).to(a.dtype)
        b = b - b.double().mean(0).to(b.dtype)
    # knn_within rescales its input by a power of two (exact), so scales like 1e200 / 1e-200 are handled
    _, idx_a = knn_within(a, k, metric=metric, block_size=block_size)
    _, idx_b = knn_within(b, k, metric=metric, block_size=block_size)
    return _jaccard_from_indices(idx_a, idx_b, k)


def _jaccard_from_indices(idx_a: Tensor, idx_b: Tensor, k: int) -> dict[str, Tensor]:
    m = _knn_overlap(idx_a, idx_b).double()
    return {"jaccard": (m / (2 * k - m)).mean(), "mutual_knn": (m / k).mean()}


def _knn_jaccard_distributed(
    x: Tensor,
    y: Tensor,
    k: int,
    metric: str,
    center: bool,
    block_size: int | None,
    gathered: bool,
    group: object = None,
) -> dict[str, Tensor]:
    """Collective kNN-Jaccard with the kNN work split across the ranks of ``group`` (same result as one process).

    ``gathered=True``: every rank holds all rows; ``False``: each rank holds its own rows (rank order = global
    order; ``x`` and ``y`` rows paired) and blocks travel by broadcast. Errors depend on global facts only.
    """
    from rdmetrics.functional.knn import (
        ShardedPoints,
        _all_reduce,
        _all_sizes,
        _global_pow2_exponent,
        _scale_pow2,
        sharded_knn_within,
    )

    k = _check_positive_int(k, "k")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"`metric` must be 'cosine' or 'euclidean', got {metric!r}")
    dev = x.device
    sizes = [x.shape[0]] if gathered else _all_sizes(x.shape[0], dev, group)
    n = sum(sizes)
    if n == 0:
        raise ValueError("kNN-Jaccard: no samples seen (empty state); call update() first")
    if k >= n:
        raise ValueError(f"`k` must be smaller than the number of samples ({n}) to exclude self, got k={k}")
    idx = []
    for feats in (x, y):
        if center:
            # gathered: the same arithmetic as one process (bit-identical centring)
            mean = feats.double().mean(0) if gathered else _all_reduce(feats.double().sum(0), "sum", group) / n
            feats = feats - mean.to(feats.dtype)
        e = _global_pow2_exponent([feats], dev, None if gathered else group)
        feats = _scale_pow2(feats, e)
        if metric == "cosine":
            norms = feats.double().norm(dim=1, keepdim=True)
            zero = (norms == 0).sum().reshape(1)
            if not gathered:
                _all_reduce(zero, "sum", group)
            if int(zero):
                raise ValueError(f"{int(zero)} zero feature vector(s): cosine distance is undefined")
            feats = feats.double() / norms
        pts = ShardedPoints.gathered(feats, group) if gathered else ShardedPoints.sharded(feats, sizes, group)
        idx.append(sharded_knn_within(pts, k, block_size)[1])
    return _jaccard_from_indices(idx[0], idx[1], k)


def knn_jaccard_similarity(
    x: Tensor,
    y: Tensor,
    k: int = 10,
    metric: Literal["cosine", "euclidean"] = "cosine",
    center: bool = False,
    block_size: int | None = None,
) -> dict[str, Tensor]:
    r"""Mean Jaccard overlap and mutual-kNN score of each input's k nearest neighbours in two representations.

    .. math::

        J_k = \frac1N \sum_i \frac{m_i}{2k - m_i}, \qquad \text{mutual\_knn} = \frac1N \sum_i \frac{m_i}{k},
        \qquad m_i = |N^a_k(i)\cap N^b_k(i)|

    ``N^a_k(i)`` are the ``k`` nearest *other* inputs of input ``i`` in representation a (self excluded), found with
    the project's exact blocked kNN engine :func:`rdmetrics.functional.knn.knn_within` (memory
    ``O(block_size x N)``, no ``N x N`` matrix). ``jaccard`` is the kNN-Jaccard similarity of Klabunde et al.
    (rob-univ, ReSi); ``mutual_knn`` is the mutual nearest-neighbour alignment of Huh et al. (2024). Both are 1 for
    identical neighbourhoods and about ``k/N`` for unrelated representations.

    Choices (configurable): ``metric="cosine"`` (rob-univ's CLI default and ReSi's) or ``"euclidean"``;
    ``center=True`` subtracts each representation's column means first (rob-univ; ReSi does not). The point itself
    is always excluded (rob-univ's Euclidean variant includes it). Ties: neighbours at exactly equal distance are
    taken in index order by the engine, so with ties (duplicated inputs, e.g. from a padding ``DistributedSampler``)
    the neighbour sets depend on the order of the samples. Zero vectors under ``metric="cosine"`` raise
    ``ValueError``.

    Args:
        x: ``[N, d_a]`` features of model a (``[N, ...]`` is flattened).
        y: ``[N, d_b]`` features of model b for the same inputs.
        k: neighbours per input, ``1 <= k <= N - 1``.
        metric: ``"cosine"`` or ``"euclidean"``.
        center: mean-centre each representation's columns first.
        block_size: rows per kNN block (memory knob; default chosen by the engine).

    Returns:
        dict of float64 scalars ``jaccard`` and ``mutual_knn``.

    Example:
        >>> import torch
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
        >>> y = torch.tensor([[0.0, 0.0], [0.0, 1.0], [0.0, 5.0], [0.0, 6.0]])
        >>> out = knn_jaccard_similarity(x, y, k=1, metric="euclidean")
        >>> {k: round(float(v), 4) for k, v in out.items()}
        {'jaccard': 0.75, 'mutual_knn': 0.75}
    """
    return _knn_jaccard_compute(x, y, k, metric, center, block_size)


__all__ = ["knn_jaccard_similarity", "linear_cka"]
