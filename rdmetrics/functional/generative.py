r"""Information-theoretic precision / recall for generative models (PCE, RCE, RE) with PRDC from one kNN pass.

Reference: Fox, Swarup & Adiga, "A Unifying Information-theoretic Perspective on Evaluating Generative Models"
(arXiv 2412.14340, AAAI 2025); estimators of Leonenko, Pronzato & Savani (2008); precision/recall of Kynkäänniemi
et al. (2019) and density/coverage of Naeem et al. (2020) as implemented by ``prdc`` 0.2.

With real features :math:`R = \{X_i\}_{i=1}^N`, generated features :math:`G = \{Y_j\}_{j=1}^M` in
:math:`\mathbb{R}^d`, Euclidean distance, :math:`\rho_k(\cdot)` the distance to the k-th nearest *other* point of
the same set, :math:`\nu_k(\cdot)` the distance to the k-th nearest point of the other set, :math:`\psi` the
digamma function and :math:`\log V_d = \tfrac d2 \log\pi - \ln\Gamma(\tfrac d2 + 1)` (log volume of the unit ball,
computed with ``lgamma``: no overflow at ``d = 1024+``), the Kozachenko-Leonenko / LPS estimators in nats are

.. math::

    \hat H(R) &= \tfrac1N \textstyle\sum_i [\log(N-1) - \psi(k) + \log V_d + d \log \rho_k(X_i)] \\
    \hat H(G) &= \tfrac1M \textstyle\sum_j [\log(M-1) - \psi(k) + \log V_d + d \log \rho_k(Y_j)] \\
    \hat H(G, R) &= \tfrac1M \textstyle\sum_j [\log N - \psi(k) + \log V_d + d \log \nu_k(Y_j \to R)]
        \approx -\mathbb{E}_G \log f_R \\
    \hat H(R, G) &= \tfrac1N \textstyle\sum_i [\log M - \psi(k) + \log V_d + d \log \nu_k(X_i \to G)]
        \approx -\mathbb{E}_R \log f_G

and the three components (the normalisation of the authors' notebook, ``calculate_realism_scores``) are

* ``pce`` :math:`= \hat H(G,R) - \hat H(R)`: precision cross-entropy, fidelity, **lower is better** (can be < 0);
* ``rce`` :math:`= \hat H(R,G) - \hat H(R)`: recall cross-entropy, the kNN estimate of :math:`KL(P_R\|P_G)`
  (Wang-Kulkarni-Verdú), inter-class diversity / coverage, **lower is better**;
* ``re`` :math:`= \hat H(G) - \hat H(R)`: recall entropy, intra-class diversity, **higher is better** (0 when
  :math:`P_G = P_R`); ``pce - re`` is the kNN estimate of :math:`KL(P_G\|P_R)`.

PRDC (``prdc=True``), with balls :math:`B_i = B(X_i, \rho_k(X_i))` around reals and
:math:`B'_j = B(Y_j, \rho_k(Y_j))` around fakes, strict ``<`` as in ``prdc`` 0.2:
precision :math:`= \frac1M\sum_j 1[\exists i: Y_j \in B_i]`, recall :math:`= \frac1N\sum_i 1[\exists j: X_i\in B'_j]`,
density :math:`= \frac1{kM}\sum_j\sum_i 1[Y_j \in B_i]`, coverage :math:`= \frac1N\sum_i 1[\nu_1(X_i\to G) <
\rho_k(X_i)]`.

Everything comes from three exact kNN passes (:mod:`rdmetrics.functional.knn`): within R, within G, and one pass
over R x G that yields both cross directions and the ball memberships. Distances are exact float64.

**Duplicates / zero distances (policy: error).** A zero k-th-neighbour distance makes :math:`\log 0 = -\infty`.
Rather than silently jittering, a ``ValueError`` names the affected samples (e.g. ``k`` exact copies of a point,
or a generated sample that copies ``k`` real ones); de-duplicate or add noise yourself if that is what you want.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from torch import Tensor

from rdmetrics.functional.knn import (
    ShardedPoints,
    _all_sizes,
    _global_pow2_exponent,
    _knn_cross,
    _knn_within,
    _pow2_exponent,
    _scale_pow2,
    _validate_points,
    sharded_knn_cross,
    sharded_knn_within,
)
from rdmetrics.utilities.checks import _check_positive_int

_SCALAR_KEYS = ("pce", "rce", "re", "h_real", "h_fake", "ce_fake_real", "ce_real_fake")
_PRDC_KEYS = ("precision", "recall", "density", "coverage")


def _log_unit_ball_volume(d: int) -> float:
    """:math:`\\log V_d = (d/2)\\log\\pi - \\ln\\Gamma(d/2 + 1)` (no overflow for any ``d``)."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def _digamma(k: int) -> float:
    """:math:`\\psi(k) = -\\gamma + \\sum_{j<k} 1/j` for integer ``k >= 1``."""
    return -0.57721566490153286061 + math.fsum(1.0 / j for j in range(1, k))


def _check_pre_inputs(real: Tensor, fake: Tensor, k: int) -> int:
    """Validate features for :func:`precision_recall_entropy`; returns ``k``."""
    k = _check_positive_int(k, "k")
    for x, name in ((real, "real"), (fake, "fake")):
        if isinstance(x, Tensor) and x.ndim == 2 and x.shape[0] == 0:
            raise ValueError(f"no samples: the `{name}` feature set is empty")
        if isinstance(x, Tensor) and x.ndim == 1 and x.numel() == 0:
            raise ValueError(f"no samples: the `{name}` feature set is empty")
    _validate_points(real, "real")
    _validate_points(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"dimension mismatch: real features have {real.shape[1]} dims, fake features {fake.shape[1]}")
    if real.device != fake.device:
        raise ValueError(f"real and fake features are on different devices ({real.device}, {fake.device})")
    n, m = real.shape[0], fake.shape[0]
    if k >= n or k >= m:
        raise ValueError(
            f"`k` must be smaller than the number of samples of each set (self is excluded): got k={k} with "
            f"{n} real and {m} fake samples"
        )
    return k


def _check_no_zero(dist: Tensor, what: str) -> None:
    zero = dist == 0
    if bool(zero.any()):
        where = zero.nonzero().flatten()[:5].tolist()
        raise ValueError(
            f"duplicate points: {int(zero.sum())} {what} at distance 0 (e.g. indices {where}), so log 0 = -inf; "
            "remove exact duplicates or add noise"
        )


class _PreDistances(NamedTuple):
    """Per-sample kNN quantities of :func:`precision_recall_entropy` (global sample order), in scaled units."""

    rho_r: Tensor  # [N] k-th nearest other real of each real
    rho_g: Tensor  # [M] k-th nearest other fake of each fake
    nu_r: Tensor  # [N] k-th nearest fake of each real
    nu_g: Tensor  # [M] k-th nearest real of each fake
    nn_r: Tensor | None  # [N] nearest fake of each real (coverage)
    count_g: Tensor | None  # [M] real balls containing each fake
    inside_r: Tensor | None  # [N] real inside some fake ball


def _pre_distances(real: Tensor, fake: Tensor, k: int, prdc: bool, block_size: int | None) -> _PreDistances:
    """One process: three exact engine passes (only the k-th distances, and the nearest fake of each real for
    coverage, are recomputed exactly)."""
    rho_r = _knn_within(real, k, "euclidean", block_size, ranks=(k,))[0][:, 0]
    rho_g = _knn_within(fake, k, "euclidean", block_size, ranks=(k,))[0][:, 0]
    ranks_ab = (1, k) if k > 1 else (1,)
    cross = _knn_cross(
        real, fake, k, rho_r if prdc else None, rho_g if prdc else None, block_size, ranks_ab=ranks_ab, ranks_ba=(k,)
    )
    nn_r = cross.dist_ab[:, 0] if prdc else None
    return _PreDistances(
        rho_r, rho_g, cross.dist_ab[:, -1], cross.dist_ba[:, 0], nn_r, cross.count_b_in_a_balls, cross.a_in_any_b_ball
    )


def _pre_distances_sharded(
    real: ShardedPoints, fake: ShardedPoints, k: int, prdc: bool, block_size: int | None
) -> _PreDistances:
    """Across ranks (collective): within-set passes, then the cross pass with the radii; see
    :func:`rdmetrics.functional.knn.sharded_knn_within`."""
    rho_r = sharded_knn_within(real, k, block_size)[0][:, k - 1]
    rho_g = sharded_knn_within(fake, k, block_size)[0][:, k - 1]
    cross = sharded_knn_cross(real, fake, k, rho_r if prdc else None, rho_g if prdc else None, block_size)
    nn_r = cross.dist_ab[:, 0] if prdc else None
    return _PreDistances(
        rho_r,
        rho_g,
        cross.dist_ab[:, k - 1],
        cross.dist_ba[:, k - 1],
        nn_r,
        cross.count_b_in_a_balls,
        cross.a_in_any_b_ball,
    )


def _pre_from_distances(
    dd: _PreDistances, n: int, m: int, d: int, k: int, log_scale: float, prdc: bool, return_per_sample: bool
) -> dict[str, Tensor]:
    """The estimators from the per-sample distances; ``log_scale``: log of the factor the features were divided by."""
    _check_no_zero(dd.rho_r, "real samples have their k-th nearest real neighbour")
    _check_no_zero(dd.rho_g, "fake samples have their k-th nearest fake neighbour")
    _check_no_zero(dd.nu_g, "fake samples have their k-th nearest real sample")
    _check_no_zero(dd.nu_r, "real samples have their k-th nearest fake sample")

    log_rho_r, log_rho_g, log_nu_r, log_nu_g = dd.rho_r.log(), dd.rho_g.log(), dd.nu_r.log(), dd.nu_g.log()
    # the raw entropies carry d log(scale); the differences (pce, rce, re) do not depend on it
    const = -_digamma(k) + _log_unit_ball_volume(d) + d * log_scale
    mean_lr, mean_lg = log_rho_r.mean(), log_rho_g.mean()
    mean_nr, mean_ng = log_nu_r.mean(), log_nu_g.mean()
    out: dict[str, Tensor] = {
        # differences taken on the mean log-distances: the large constants cancel exactly
        "pce": math.log(n) - math.log(n - 1) + d * (mean_ng - mean_lr),
        "rce": math.log(m) - math.log(n - 1) + d * (mean_nr - mean_lr),
        "re": math.log(m - 1) - math.log(n - 1) + d * (mean_lg - mean_lr),
        "h_real": math.log(n - 1) + const + d * mean_lr,
        "h_fake": math.log(m - 1) + const + d * mean_lg,
        "ce_fake_real": math.log(n) + const + d * mean_ng,
        "ce_real_fake": math.log(m) + const + d * mean_nr,
    }
    if prdc:
        inside = dd.count_g
        out["precision"] = (inside > 0).double().mean()
        out["recall"] = dd.inside_r.double().mean()
        out["density"] = inside.sum().double() / (k * m)
        out["coverage"] = (dd.nn_r < dd.rho_r).double().mean()
    if return_per_sample:
        h_real_i = math.log(n - 1) + const + d * log_rho_r
        ce_fake_real_i = math.log(n) + const + d * log_nu_g
        out["h_real_per_sample"] = h_real_i
        out["h_fake_per_sample"] = math.log(m - 1) + const + d * log_rho_g
        out["ce_fake_real_per_sample"] = ce_fake_real_i
        out["ce_real_fake_per_sample"] = math.log(m) + const + d * log_nu_r
        out["pce_per_sample"] = ce_fake_real_i - out["h_real"]
        if prdc:
            out["density_per_sample"] = dd.count_g.double() / k
    return out


def _precision_recall_entropy_compute(
    real: Tensor,
    fake: Tensor,
    k: int,
    prdc: bool,
    return_per_sample: bool,
    block_size: int | None,
) -> dict[str, Tensor]:
    """One process, validated input. Features are divided by a power of two first (exact; see
    :func:`rdmetrics.functional.knn._scale_pow2`), so scales like ``1e200`` or ``1e-200`` neither overflow nor
    underflow."""
    n, d = real.shape
    m = fake.shape[0]
    e = _pow2_exponent(real, fake)
    dd = _pre_distances(_scale_pow2(real, e), _scale_pow2(fake, e), k, prdc, block_size)
    return _pre_from_distances(dd, n, m, d, k, e * math.log(2.0), prdc, return_per_sample)


def _precision_recall_entropy_distributed(
    real: Tensor,
    fake: Tensor,
    k: int,
    prdc: bool,
    return_per_sample: bool,
    block_size: int | None,
    gathered: bool,
    group: object = None,
) -> dict[str, Tensor]:
    """Collective: the kNN work split across the ranks of ``group``; every rank returns the one-process result.

    ``gathered=True``: every rank holds all features (``real``/``fake`` are the full sets, e.g. after torchmetrics'
    state sync) and takes ``1/W`` of the work. ``gathered=False``: each rank passes only its own rows (their order
    over ranks is the global order) and blocks travel by broadcast. Checks use global counts only, so every rank
    raises the same error (no hang).
    """
    dev = real.device
    if gathered:
        n, m = real.shape[0], fake.shape[0]
    else:
        sizes_r, sizes_g = _all_sizes(real.shape[0], dev, group), _all_sizes(fake.shape[0], dev, group)
        n, m = sum(sizes_r), sum(sizes_g)
    for total, name, flag in ((n, "real", "True"), (m, "fake", "False")):
        if total == 0:
            raise ValueError(f"no {name} samples: the {name} state is empty, call update(x, real={flag}) first")
    k = _check_positive_int(k, "k")
    if k >= n or k >= m:
        raise ValueError(
            f"`k` must be smaller than the number of samples of each set (self is excluded): got k={k} with "
            f"{n} real and {m} fake samples"
        )
    d = real.shape[1]
    e = _global_pow2_exponent([real, fake], dev, group)
    real, fake = _scale_pow2(real, e), _scale_pow2(fake, e)
    if gathered:
        pr, pf = ShardedPoints.gathered(real, group), ShardedPoints.gathered(fake, group)
    else:
        pr, pf = ShardedPoints.sharded(real, sizes_r, group), ShardedPoints.sharded(fake, sizes_g, group)
    dd = _pre_distances_sharded(pr, pf, k, prdc, block_size)
    return _pre_from_distances(dd, n, m, d, k, e * math.log(2.0), prdc, return_per_sample)


def precision_recall_entropy(
    real: Tensor,
    fake: Tensor,
    k: int = 5,
    prdc: bool = True,
    return_per_sample: bool = False,
    block_size: int | None = None,
) -> dict[str, Tensor]:
    r"""PCE / RCE / RE (nats) and precision / recall / density / coverage of generated vs real features.

    See the module docstring for the formulas. Scores are float64 0-d tensors on the input device.

    Args:
        real: ``[N, d]`` real features (floating, finite).
        fake: ``[M, d]`` generated features.
        k: neighbour order for every kNN quantity (default 5), ``k < min(N, M)``.
        prdc: also return ``precision``, ``recall``, ``density``, ``coverage`` (same kNN pass).
        return_per_sample: also return the per-sample terms ``h_real_per_sample`` ``[N]``, ``h_fake_per_sample``
            ``[M]``, ``ce_fake_real_per_sample`` ``[M]`` (each generated sample's term of :math:`\hat H(G,R)`),
            ``ce_real_fake_per_sample`` ``[N]``, ``pce_per_sample`` ``[M]`` (= ``ce_fake_real_per_sample - h_real``;
            the smallest values flag generated samples sitting on real ones, i.e. memorisation) and, with ``prdc``,
            ``density_per_sample`` ``[M]`` (real balls containing each generated sample, divided by ``k``).
        block_size: rows per GEMM block of the kNN engine (``None``: about 16 MiB per block on CPU).

    Returns:
        dict with ``pce, rce, re, h_real, h_fake, ce_fake_real, ce_real_fake`` (+ PRDC, + per-sample terms).

    Raises:
        ValueError: empty set, dimension mismatch, NaN/inf, ``k >= `` a set size, or duplicated points giving a
            zero k-th-neighbour distance.

    Example:
        >>> import torch
        >>> g = torch.Generator().manual_seed(0)
        >>> real = torch.randn(2000, 2, generator=g, dtype=torch.float64)
        >>> fake = 2.0 * torch.randn(2000, 2, generator=g, dtype=torch.float64)
        >>> out = precision_recall_entropy(real, fake, k=5)
        >>> round(float(out["re"]), 1)  # closed form: d log(sigma) = 2 log 2 = 1.39
        1.4
        >>> bool(out["precision"] < out["recall"])  # wider fakes: many off the real support, all reals covered
        True
    """
    k = _check_pre_inputs(real, fake, k)
    return _precision_recall_entropy_compute(real, fake, k, bool(prdc), bool(return_per_sample), block_size)


__all__ = ["precision_recall_entropy"]
