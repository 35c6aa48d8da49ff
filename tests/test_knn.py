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
