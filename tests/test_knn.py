"""The kNN engine against float64 brute force written here (numpy / scipy cdist, full matrices, stable sorts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from rdmetrics.functional.knn import knn_cross, knn_within


def _brute_within(x: np.ndarray, k: int, metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    d = cdist(x, x, metric=metric)
    np.fill_diagonal(d, np.inf)
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]  # ties -> lower index
    return np.take_along_axis(d, idx, axis=1), idx


def _brute_cross(a: np.ndarray, b: np.ndarray, k: int):
    d = cdist(a, b)
    i_ab = np.argsort(d, axis=1, kind="stable")[:, :k]
    i_ba = np.argsort(d.T, axis=1, kind="stable")[:, :k]
    return d, np.take_along_axis(d, i_ab, 1), i_ab, np.take_along_axis(d.T, i_ba, 1), i_ba


def _data(n: int, d: int, seed: int, dtype=torch.float64, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64) * scale + shift).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("block_size", [None, 1, 37])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_within_matches_bruteforce(dtype, block_size, metric):
    x = _data(211, 9, seed=1, dtype=dtype, scale=2.0, shift=5.0)
    dist, idx = knn_within(x, 6, metric=metric, block_size=block_size)
    ref_d, ref_i = _brute_within(x.double().numpy(), 6, metric)  # exact on the stored values, whatever dtype
    assert dist.dtype == torch.float64 and idx.dtype == torch.long
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=0, atol=1e-9 if metric == "euclidean" else 1e-12)
    np.testing.assert_array_equal(idx.numpy(), ref_i)


def test_within_float32_ill_conditioned_is_exact():
    # huge norms, tiny neighbour gaps: the float32 GEMM cannot resolve them, the certified recompute must
    g = torch.Generator().manual_seed(3)
    base = torch.randn(150, 16, generator=g, dtype=torch.float64) * 1e3 + 1e4
    pairs = base + 1e-3 * torch.randn(150, 16, generator=g, dtype=torch.float64)
    x = torch.cat([base, pairs]).float()
    dist, idx = knn_within(x, 3)
    ref_d, ref_i = _brute_within(x.double().numpy(), 3)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(idx.numpy(), ref_i)


def test_within_ties_and_duplicates_break_by_index():
    # integer lattice: many exactly equidistant neighbours; plus exact duplicates (distance 0)
    grid = torch.stack(torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij"), -1).reshape(-1, 2)
    x = torch.cat([grid, grid[:5]]).double()
    for k in (1, 4, 9):
        dist, idx = knn_within(x, k, block_size=8)
        ref_d, ref_i = _brute_within(x.numpy(), k)
        np.testing.assert_allclose(dist.numpy(), ref_d, rtol=1e-15, atol=0)
        np.testing.assert_array_equal(idx.numpy(), ref_i)
    dist, _ = knn_within(x, 1)
    assert (dist[:5, 0] == 0).all() and (dist[-5:, 0] == 0).all()  # duplicates are returned, not hidden


def test_within_k_equals_n_minus_one():
    x = _data(12, 3, seed=4)
    dist, idx = knn_within(x, 11)
    ref_d, ref_i = _brute_within(x.numpy(), 11)
    np.testing.assert_allclose(dist.numpy(), ref_d, atol=1e-12)
    np.testing.assert_array_equal(idx.numpy(), ref_i)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("block_size", [None, 1, 23])
def test_cross_matches_bruteforce(dtype, block_size):
    a = _data(157, 7, seed=5, dtype=dtype)
    b = _data(131, 7, seed=6, dtype=dtype, scale=1.3, shift=0.2)
    k = 4
    an, bn = a.double().numpy(), b.double().numpy()
    d, ref_dab, ref_iab, ref_dba, ref_iba = _brute_cross(an, bn, k)
    ra = _brute_within(an, k)[0][:, -1]
    rb = _brute_within(bn, k)[0][:, -1]
    out = knn_cross(a, b, k, radius_a=torch.from_numpy(ra), radius_b=torch.from_numpy(rb), block_size=block_size)
    np.testing.assert_allclose(out.dist_ab.numpy(), ref_dab, atol=1e-12)
    np.testing.assert_allclose(out.dist_ba.numpy(), ref_dba, atol=1e-12)
    np.testing.assert_array_equal(out.idx_ab.numpy(), ref_iab)
    np.testing.assert_array_equal(out.idx_ba.numpy(), ref_iba)
    np.testing.assert_array_equal(out.count_b_in_a_balls.numpy(), (d < ra[:, None]).sum(0))
    np.testing.assert_array_equal(out.a_in_any_b_ball.numpy(), (d < rb[None, :]).any(1))


def test_cross_dense_balls_and_concentrated_fakes():
    # generated points collapsed near a few reals: real balls hold many fakes (dense path), fake balls are tiny
    a = _data(120, 3, seed=7)
    g = torch.Generator().manual_seed(8)
    b = a[:4].repeat_interleave(30, 0) + 1e-3 * torch.randn(120, 3, generator=g, dtype=torch.float64)
    an, bn = a.numpy(), b.numpy()
    d = cdist(an, bn)
    ra = np.full(120, 0.9)
    rb = np.linspace(0.0, 2.0, 120)
    out = knn_cross(a, b, 3, radius_a=torch.from_numpy(ra), radius_b=torch.from_numpy(rb), block_size=16)
    np.testing.assert_array_equal(out.count_b_in_a_balls.numpy(), (d < ra[:, None]).sum(0))
    np.testing.assert_array_equal(out.a_in_any_b_ball.numpy(), (d < rb[None, :]).any(1))
    _, ref_dab, _, ref_dba, ref_iba = _brute_cross(an, bn, 3)
    np.testing.assert_allclose(out.dist_ab.numpy(), ref_dab, atol=1e-12)
    np.testing.assert_allclose(out.dist_ba.numpy(), ref_dba, atol=1e-12)
    np.testing.assert_array_equal(out.idx_ba.numpy(), ref_iba)


def test_cross_strict_ball_boundary():
    # a point exactly on a ball's boundary is outside (strict <, as prdc)
    a = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([[3.0, 4.0], [1.0, 0.0]], dtype=torch.float64)
    out = knn_cross(a, b, 1, radius_a=torch.tensor([5.0], dtype=torch.float64), radius_b=torch.tensor([5.0, 1.0]))
    assert out.count_b_in_a_balls.tolist() == [0, 1]
    assert out.a_in_any_b_ball.tolist() == [False]


def test_errors():
    x = _data(10, 3, seed=0)
    with pytest.raises(ValueError, match="smaller than the number of points"):
        knn_within(x, 10)
    with pytest.raises(ValueError, match="k"):
        knn_within(x, 0)
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        knn_within(bad, 2)
    with pytest.raises(ValueError, match="2-D"):
        knn_within(x[:, 0], 2)
    with pytest.raises(TypeError, match="floating"):
        knn_within(torch.ones(5, 2, dtype=torch.long), 2)
    zero = x.clone()
    zero[4] = 0
    with pytest.raises(ValueError, match="zero vector"):
        knn_within(zero, 2, metric="cosine")
    with pytest.raises(ValueError, match="metric"):
        knn_within(x, 2, metric="manhattan")
    with pytest.raises(ValueError, match="dimension mismatch"):
        knn_cross(x, _data(10, 4, seed=1), 2)
    with pytest.raises(ValueError, match="at most the size"):
        knn_cross(x, x[:3], 4)
    with pytest.raises(ValueError, match="radius_a"):
        knn_cross(x, x, 2, radius_a=torch.ones(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    a = _data(300, 16, seed=9)
    b = _data(280, 16, seed=10, scale=1.2)
    d_cpu, i_cpu = knn_within(a, 5)
    d_gpu, i_gpu = knn_within(a.cuda().float(), 5)
    torch.testing.assert_close(d_gpu.cpu(), knn_within(a.float(), 5)[0])
    assert torch.equal(i_gpu.cpu(), i_cpu)
    ra = d_cpu[:, -1]
    rb = knn_within(b, 5)[0][:, -1]
    cpu = knn_cross(a, b, 5, radius_a=ra, radius_b=rb)
    gpu = knn_cross(a.cuda(), b.cuda(), 5, radius_a=ra.cuda(), radius_b=rb.cuda())
    for x, y in zip(cpu, gpu):
        assert torch.equal(x, y.cpu())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_private_rank_selection_matches_bruteforce(dtype):
    # the PCE path asks only for some neighbour ranks; ties (lattice) and ill-conditioned float32 included
    from rdmetrics.functional.knn import _knn_cross, _knn_within

    grid = torch.stack(torch.meshgrid(torch.arange(5.0), torch.arange(5.0), indexing="ij"), -1).reshape(-1, 2)
    g = torch.Generator().manual_seed(11)
    far = torch.randn(40, 2, generator=g, dtype=torch.float64) * 1e3 + 1e4
    near = far + 1e-3 * torch.randn(40, 2, generator=g, dtype=torch.float64)
    for x in (grid.double().to(dtype), torch.cat([far, near]).to(dtype)):
        xn = x.double().numpy()
        ref_d, ref_i = _brute_within(xn, 6)
        dist, idx = _knn_within(x, 6, "euclidean", 7, ranks=(1, 4, 6))
        np.testing.assert_allclose(dist.numpy(), ref_d[:, [0, 3, 5]], rtol=1e-13, atol=0)
        np.testing.assert_array_equal(idx.numpy(), ref_i[:, [0, 3, 5]])
        y = x[::2] + 0.5
        _, ref_dab, ref_iab, ref_dba, ref_iba = _brute_cross(xn, y.double().numpy(), 3)
        out = _knn_cross(x, y, 3, None, None, 5, ranks_ab=(1, 3), ranks_ba=(3,))
        np.testing.assert_allclose(out.dist_ab.numpy(), ref_dab[:, [0, 2]], rtol=1e-13, atol=0)
        np.testing.assert_array_equal(out.idx_ab.numpy(), ref_iab[:, [0, 2]])
        np.testing.assert_allclose(out.dist_ba.numpy(), ref_dba[:, [2]], rtol=1e-13, atol=0)
        np.testing.assert_array_equal(out.idx_ba.numpy(), ref_iba[:, [2]])


def test_uncertified_rows_fall_back_to_exact_search(monkeypatch):
    # a tight float32 cluster next to two huge points: the GEMM error bound swamps every gap inside the cluster,
    # so no candidate list can be certified and each cluster row must be searched exactly in float64
    import rdmetrics.functional.knn as knn_mod

    calls = []
    original = knn_mod._full_exact_rows

    def spy(*args, **kwargs):
        calls.append(args[1].numel())
        return original(*args, **kwargs)

    monkeypatch.setattr(knn_mod, "_full_exact_rows", spy)
    g = torch.Generator().manual_seed(12)
    cluster = 1e-3 * torch.randn(40, 2, generator=g, dtype=torch.float64)
    x = torch.cat([cluster, torch.tensor([[1e4, 0.0], [-1e4, 0.0]], dtype=torch.float64)]).float()
    dist, idx = knn_within(x, 3)
    assert sum(calls) >= 40
    ref_d, ref_i = _brute_within(x.double().numpy(), 3)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    calls.clear()
    y = x[:20] + 1e-4
    out = knn_cross(x, y, 2, radius_a=torch.from_numpy(ref_d[:, -1]))
    assert sum(calls) > 0
    d, _, ref_iab, _, ref_iba = _brute_cross(x.double().numpy(), y.double().numpy(), 2)
    np.testing.assert_array_equal(out.idx_ab.numpy(), ref_iab)
    np.testing.assert_array_equal(out.idx_ba.numpy(), ref_iba)
    np.testing.assert_array_equal(out.count_b_in_a_balls.numpy(), (d < ref_d[:, -1:]).sum(0))


# The grouped (two-level) exact selection only switches on for wide rows (>= ~832 columns at k = 5). Exercise it
# twice: at its natural size, and on small sets with the group constants lowered so every row takes that path.
def _check_within_and_cross(x: torch.Tensor, y: torch.Tensor, k: int, block_size) -> None:
    dist, idx = knn_within(x, k, block_size=block_size)
    ref_d, ref_i = _brute_within(x.double().numpy(), k)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    res = knn_cross(x, y, k, block_size=block_size)
    _, d_ab, i_ab, d_ba, i_ba = _brute_cross(x.double().numpy(), y.double().numpy(), k)
    np.testing.assert_allclose(res.dist_ab.numpy(), d_ab, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(res.idx_ab.numpy(), i_ab)
    np.testing.assert_allclose(res.dist_ba.numpy(), d_ba, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(res.idx_ba.numpy(), i_ba)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_grouped_selection_on_wide_rows_matches_bruteforce(dtype):
    x = _data(1100, 12, seed=11, dtype=dtype, scale=1.5, shift=3.0)
    y = _data(1000, 12, seed=12, dtype=dtype, scale=1.0, shift=3.5)
    _check_within_and_cross(x, y, 5, None)


@pytest.mark.parametrize("block_size", [None, 23])
def test_grouped_selection_forced_on_small_sets(monkeypatch, block_size):
    import rdmetrics.functional.knn as knn

    monkeypatch.setattr(knn, "_GROUP", 2)
    monkeypatch.setattr(knn, "_MIN_GROUPS_PER_CAND", 1)
    grid = torch.stack(torch.meshgrid(torch.arange(7.0), torch.arange(7.0), indexing="ij"), -1).reshape(-1, 2)
    x = torch.cat([grid, grid[:5] + 0.5]).double()  # exact ties on the lattice
    y = _data(60, 2, seed=13, scale=3.0, shift=3.0)
    for k in (1, 3, 5):
        _check_within_and_cross(x, y, k, block_size)


# ---------------------------------------------------------------------------------------------------------------------
# scale: every kNN quantity is invariant under x -> s x; 1e200 (overflow) and 1e-200 (underflow) must still be exact


def _jaccard_ref(x: np.ndarray, y: np.ndarray, k: int, metric: str) -> dict[str, float]:
    from cases.similarity import brute_knn

    na, nb = brute_knn(x, k, metric), brute_knn(y, k, metric)
    m = np.array([len(set(a) & set(b)) for a, b in zip(na, nb)])
    return {"jaccard": float(np.mean(m / (2 * k - m))), "mutual_knn": float(np.mean(m / k))}


@pytest.mark.parametrize("scale", [1e200, 1e-200, 2.0**-1070])
def test_engine_rescales_extreme_scales(scale):
    x = _data(90, 5, seed=21) * scale
    y = _data(70, 5, seed=22, shift=0.3) * scale
    # reference: brute force on the stored values brought to unit scale by numpy (exact for a power of two; at
    # 2**-1070 the stored values are subnormal, i.e. already rounded, so compare with what is stored)
    e = int(np.round(-np.log2(scale))) if scale < 1 else -int(np.floor(np.log2(scale)))
    xs, ys = np.ldexp(x.numpy(), e), np.ldexp(y.numpy(), e)
    ref_d, ref_i = _brute_within(xs, 4)
    dist, idx = knn_within(x, 4)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    # distances come back in the input's units (subnormal ones rounded there, like numpy's ldexp)
    np.testing.assert_allclose(dist.numpy(), np.ldexp(ref_d, -e), rtol=1e-12, atol=1e-323)
    _, dab, iab, _, iba = _brute_cross(xs, ys, 3)
    out = knn_cross(x, y, 3)
    np.testing.assert_array_equal(out.idx_ab.numpy(), iab)
    np.testing.assert_array_equal(out.idx_ba.numpy(), iba)
    np.testing.assert_allclose(out.dist_ab.numpy(), np.ldexp(dab, -e), rtol=1e-12, atol=1e-323)


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_pce_and_jaccard_at_extreme_scales(scale):
    """Issue: 1e200 gave NaN entropies / precision 0 / Jaccard 1.0; 1e-200 claimed duplicates (underflow)."""
    from cases.generative import bruteforce_pre

    from rdmetrics import KNNJaccardSimilarity, PrecisionRecallEntropy

    real, fake = _data(80, 4, seed=23), _data(70, 4, seed=24, scale=1.3, shift=0.4)
    ref = bruteforce_pre(real.numpy(), fake.numpy(), 3)
    metric = PrecisionRecallEntropy(k=3)
    metric.update(real * scale, real=True)
    metric.update(fake * scale, real=False)
    out = metric.compute()
    d = real.shape[1]
    for key in ("pce", "rce", "re", "precision", "recall", "density", "coverage"):
        assert float(out[key]) == pytest.approx(float(ref[key]), abs=1e-9), key
    for key in ("h_real", "h_fake", "ce_fake_real", "ce_real_fake"):  # raw entropies shift by d log(scale)
        assert float(out[key]) == pytest.approx(float(ref[key]) + d * np.log(scale), rel=1e-12), key
    x, y = _data(100, 6, seed=25), _data(100, 6, seed=26)
    y = x + 0.5 * y  # related but not identical representations: Jaccard strictly between 0 and 1
    for metric_name in ("cosine", "euclidean"):
        ref_j = _jaccard_ref(x.numpy(), y.numpy(), 5, metric_name)
        assert 0.05 < ref_j["jaccard"] < 0.95
        jac = KNNJaccardSimilarity(k=5, metric=metric_name)
        jac.update(x * scale, y * scale)
        got = jac.compute()
        assert float(got["jaccard"]) == pytest.approx(ref_j["jaccard"], abs=1e-12)
        assert float(got["mutual_knn"]) == pytest.approx(ref_j["mutual_knn"], abs=1e-12)


def test_float32_features_at_1e30_do_not_overflow():
    from cases.generative import bruteforce_pre

    from rdmetrics.functional import precision_recall_entropy

    real, fake = _data(60, 3, seed=27, dtype=torch.float32), _data(50, 3, seed=28, dtype=torch.float32, shift=0.2)
    ref = bruteforce_pre(real.double().numpy(), fake.double().numpy(), 2)
    out = precision_recall_entropy(real * 1e30, fake * 1e30, k=2)  # squared norms 1e60 > float32 max
    for key in ("pce", "rce", "re", "precision", "recall", "density", "coverage"):
        assert float(out[key]) == pytest.approx(float(ref[key]), abs=1e-5), key


# ---------------------------------------------------------------------------------------------------------------------
# forward and empty batches (issue 12)


def test_pre_forward_returns_batch_value_or_none_and_accumulates():
    from cases.generative import bruteforce_pre

    from rdmetrics import PrecisionRecallEntropy

    x = _data(150, 3, seed=29)
    flags = torch.arange(150) % 3 != 0
    for reset_real in (True, False):
        metric = PrecisionRecallEntropy(k=3, reset_real_features=reset_real)
        v1 = metric(x[:60], flags[:60])  # mixed batch: its own value
        ref1 = bruteforce_pre(x[:60][flags[:60]].numpy(), x[:60][~flags[:60]].numpy(), 3)
        assert float(v1["pce"]) == pytest.approx(float(ref1["pce"]), abs=1e-9)
        assert metric(x[60:100][flags[60:100]], True) is None  # one kind only: no value
        assert metric(x[60:100][~flags[60:100]], False) is None
        assert metric(x[:0], True) is None  # empty batch: no-op
        metric(x[100:], flags[100:])
        ref = bruteforce_pre(x[flags].numpy(), x[~flags].numpy(), 3)
        out = metric.compute()
        for key in ("pce", "rce", "re", "precision", "recall"):
            assert float(out[key]) == pytest.approx(float(ref[key]), abs=1e-9), key


def test_jaccard_forward_and_empty_batch():
    from rdmetrics import KNNJaccardSimilarity

    x, y = _data(60, 4, seed=30), _data(60, 3, seed=31)
    metric = KNNJaccardSimilarity(k=4, metric="euclidean")
    v = metric(x[:30], y[:30])
    ref = _jaccard_ref(x[:30].numpy(), y[:30].numpy(), 4, "euclidean")
    assert float(v["jaccard"]) == pytest.approx(ref["jaccard"], abs=1e-12)
    assert metric(x[30:33], y[30:33]) is None  # fewer than k + 1 inputs
    assert metric(torch.zeros(0, 4), torch.zeros(0, 3)) is None  # empty batch: no-op
    metric.update(torch.zeros(0), torch.zeros(0))  # even without a feature width
    metric.update(x[33:], y[33:])
    ref = _jaccard_ref(x.numpy(), y.numpy(), 4, "euclidean")
    assert float(metric.compute()["jaccard"]) == pytest.approx(ref["jaccard"], abs=1e-12)
    with pytest.raises(ValueError, match="same number of samples"):
        metric.update(torch.zeros(0, 4), y[:2])


# ---------------------------------------------------------------------------------------------------------------------
# DDP: sharded compute (gathered and memory-sharded) == one process == float64 brute force; 2 and 3 gloo ranks


def _ddp_data():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(130, 4, generator=g, dtype=torch.float64)
    flags = torch.rand(130, generator=g) < 0.5
    x[~flags] = 1.2 * x[~flags] + 0.3
    y = x[:, :3] + 0.7 * torch.randn(130, 3, generator=g, dtype=torch.float64)
    dup = x[:40].clone()
    dup[25:28] = dup[3]  # rows 3, 25, 26, 27 identical: a zero k-th distance for k = 3
    return x, flags, y, dup


def _ddp_cuts(world_size: int) -> list[int]:
    return [0, 100, 130] if world_size == 2 else [0, 55, 55, 130]  # uneven; rank 1 empty with 3 ranks


def _ddp_knn_worker(rank: int, world_size: int) -> dict:
    from rdmetrics import KNNJaccardSimilarity, PrecisionRecallEntropy

    x, flags, y, dup = _ddp_data()
    cuts = _ddp_cuts(world_size)
    sl = slice(cuts[rank], cuts[rank + 1])
    out = {}
    for gather in (True, False):
        tag = "gathered" if gather else "sharded"
        pre = PrecisionRecallEntropy(k=3, return_per_sample=True, gather_features=gather, block_size=16)
        pre.update(x[sl], flags[sl])  # an empty slice is a no-op
        out[f"pre_{tag}"] = pre.compute()
        out[f"pre_{tag}_second_call"] = pre.compute()  # cached / state restored after the sync
        for metric, center in (("cosine", True), ("euclidean", False)):
            jac = KNNJaccardSimilarity(k=4, metric=metric, center=center, gather_features=gather)
            jac.update(x[sl], y[sl])
            out[f"jac_{tag}_{metric}"] = jac.compute()
        bad = PrecisionRecallEntropy(k=3, gather_features=gather)
        bad.update(dup[sl.start // 4 : sl.stop // 4 + (rank == world_size - 1) * 10], True)
        bad.update(x[:20], False)
        try:
            bad.compute()
            out[f"dup_{tag}"] = "no error"
        except ValueError as err:  # every rank must raise, none may hang
            out[f"dup_{tag}"] = str(err)
    return out


@pytest.mark.ddp
@pytest.mark.parametrize("world_size", [2, 3])
def test_ddp_sharded_knn_equals_one_process_and_bruteforce(world_size):
    from cases.generative import bruteforce_pre
    from harness import run_ddp

    from rdmetrics.functional import knn_jaccard_similarity, precision_recall_entropy

    x, flags, y, _ = _ddp_data()
    ref = bruteforce_pre(x[flags].numpy(), x[~flags].numpy(), 3, per_sample=True)
    one = precision_recall_entropy(x[flags], x[~flags], k=3, return_per_sample=True)
    outs = run_ddp(_ddp_knn_worker, world_size=world_size, timeout=600.0)  # generous: a loaded CI machine
    for rank_out in outs:
        for tag in ("gathered", "sharded"):
            for got in (rank_out[f"pre_{tag}"], rank_out[f"pre_{tag}_second_call"]):
                for key, val in ref.items():  # per-sample terms in the global (rank) order
                    np.testing.assert_allclose(np.asarray(got[key]), val, rtol=1e-9, atol=1e-9, err_msg=key)
                    np.testing.assert_allclose(np.asarray(got[key]), one[key].numpy(), rtol=1e-12, atol=1e-12)
            for metric, center in (("cosine", True), ("euclidean", False)):
                xr, yr = x.numpy(), y.numpy()
                if center:
                    xr, yr = xr - xr.mean(0), yr - yr.mean(0)
                ref_j = _jaccard_ref(xr, yr, 4, metric)
                got = rank_out[f"jac_{tag}_{metric}"]
                assert float(got["jaccard"]) == pytest.approx(ref_j["jaccard"], abs=1e-12)
                assert float(got["mutual_knn"]) == pytest.approx(ref_j["mutual_knn"], abs=1e-12)
                one_j = knn_jaccard_similarity(x, y, k=4, metric=metric, center=center)
                assert float(got["jaccard"]) == float(one_j["jaccard"])
            assert "duplicate points" in rank_out[f"dup_{tag}"]


def test_sharded_engine_single_process_equals_engine():
    """The block-pair schedule on one process (W = 1) and on fake splits reproduces the engine exactly."""
    from rdmetrics.functional.knn import ShardedPoints, sharded_knn_cross, sharded_knn_within

    x, y = _data(150, 6, seed=32), _data(120, 6, seed=33, shift=0.2)
    ref_d, ref_i = _brute_within(x.numpy(), 5)
    d, i = sharded_knn_within(ShardedPoints.gathered(x), 5, block_size=9)
    np.testing.assert_array_equal(i.numpy(), ref_i)
    np.testing.assert_allclose(d.numpy(), ref_d, rtol=1e-12)
    _, _, iab, dba, iba = _brute_cross(x.numpy(), y.numpy(), 4)
    out = sharded_knn_cross(ShardedPoints.gathered(x), ShardedPoints.gathered(y), 4)
    np.testing.assert_array_equal(out.idx_ab.numpy(), iab)
    np.testing.assert_array_equal(out.idx_ba.numpy(), iba)
    np.testing.assert_allclose(out.dist_ba.numpy(), dba, rtol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_sharded_path_matches_cpu():
    from rdmetrics.functional.generative import _precision_recall_entropy_distributed
    from rdmetrics.functional.generative import precision_recall_entropy as pre

    x, flags, _, _ = _ddp_data()
    cpu = pre(x[flags], x[~flags], k=3)
    gpu = _precision_recall_entropy_distributed(x[flags].cuda(), x[~flags].cuda(), 3, True, False, None, gathered=True)
    for key in cpu:
        assert float(gpu[key]) == pytest.approx(float(cpu[key]), abs=1e-9), key
    gpu32 = pre(x[flags].float().cuda(), x[~flags].float().cuda(), k=3)
    cpu32 = pre(x[flags].float(), x[~flags].float(), k=3)
    for key in cpu32:
        assert float(gpu32[key]) == pytest.approx(float(cpu32[key]), abs=1e-9), key
