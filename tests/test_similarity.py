"""LinearCKA and KNNJaccardSimilarity: n x n Gram formulas, invariances, DDP with offsets, torch-cka, scikit-learn."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch
from cases.similarity import brute_knn, gram_cka, gram_hsic
from harness import run_ddp
from torch import nn

from rdmetrics import KNNJaccardSimilarity, LinearCKA
from rdmetrics.functional import knn_jaccard_similarity, linear_cka


def _features(n: int, da: int, db: int, seed: int, offset: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, da, generator=g, dtype=torch.float64)
    y = torch.relu(x @ torch.randn(da, db, generator=g, dtype=torch.float64)) + torch.randn(
        n, db, generator=g, dtype=torch.float64
    )
    return x + offset, y + offset


def _random_splits(n: int, rng: np.random.Generator) -> list[slice]:
    cuts = np.sort(rng.choice(np.arange(1, n), size=rng.integers(1, 6), replace=False))
    bounds = [0, *cuts.tolist(), n]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize(("n", "da", "db"), [(40, 7, 5), (25, 60, 33)])
def test_streaming_cka_equals_gram_formula(n: int, da: int, db: int, debiased: bool) -> None:
    x, y = _features(n, da, db, seed=n + da)
    expected = gram_cka(x.numpy(), y.numpy(), debiased)
    assert float(linear_cka(x, y, debiased)) == pytest.approx(expected, abs=1e-10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        metric = LinearCKA(da, db, debiased=debiased)
        for sl in _random_splits(n, rng):
            metric.update(x[sl], y[sl])
        assert float(metric.compute()) == pytest.approx(expected, abs=1e-10)


def test_gram_reference_matches_explicit_hsic_definitions() -> None:
    """The test's own Gram formulas: biased HSIC == tr(KHLH)/(n-1)^2 and unbiased == Song et al. Eq. 5 (loops)."""
    x, y = _features(9, 3, 2, seed=3)
    k, l = x.numpy() @ x.numpy().T, y.numpy() @ y.numpy().T
    n = 9
    kt, lt = k.copy(), l.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    song = np.trace(kt @ lt) + kt.sum() * lt.sum() / ((n - 1) * (n - 2)) - 2 / (n - 2) * (kt.sum(0) @ lt.sum(1))
    assert gram_hsic(k, l, True) == pytest.approx(song / (n * (n - 3)), rel=1e-12)
    h = np.eye(n) - 1 / n
    assert gram_hsic(k, l, False) == pytest.approx(np.sum((h @ k @ h) * (h @ l @ h)) / (n - 1) ** 2, rel=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_identity_and_invariances(debiased: bool) -> None:
    x, y = _features(60, 6, 6, seed=5)
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    assert float(linear_cka(x, x, debiased)) == pytest.approx(1.0, abs=1e-12)
    assert float(linear_cka(x, 0.01 * x @ q - 3.0, debiased)) == pytest.approx(1.0, abs=1e-12)
    base = float(linear_cka(x, y, debiased))
    assert 0.0 < base < 1.0
    assert float(linear_cka(7.5 * x @ q, y @ q.T[:6, :6] * 0.2, debiased)) == pytest.approx(base, abs=1e-12)
    assert float(linear_cka(y, x, debiased)) == pytest.approx(base, abs=1e-12)  # symmetric


def test_independent_inputs_biased_positive_unbiased_near_zero() -> None:
    """Independent Gaussians, d = 8: biased CKA ~ d/(n+d) (0.198, 0.114, 0.056, 0.029 at n = 32..256 in the notes,
    MONAI PR #9129) while the unbiased one averages to ~0."""
    g = torch.Generator().manual_seed(0)
    d, reps = 8, 60
    for n, noted in [(32, 0.198), (64, 0.114), (128, 0.056), (256, 0.029)]:
        biased, unbiased = [], []
        for _ in range(reps):
            x = torch.randn(n, d, generator=g, dtype=torch.float64)
            y = torch.randn(n, d, generator=g, dtype=torch.float64)
            biased.append(float(linear_cka(x, y)))
            unbiased.append(float(linear_cka(x, y, debiased=True)))
        assert min(biased) > 0
        assert np.mean(biased) == pytest.approx(d / (n + d), rel=0.15)
        assert np.mean(biased) == pytest.approx(noted, rel=0.15)
        assert abs(np.mean(unbiased)) < 0.25 * noted


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_offset_1000_stays_accurate(debiased: bool) -> None:
    x, y = _features(600, 32, 24, seed=11)
    expected = gram_cka(x.numpy(), y.numpy(), debiased)  # centred before any Gram product: exact reference
    for dtype, tol in [(torch.float64, 1e-10), (torch.float32, 1e-6)]:
        xo, yo = (x + 1000).to(dtype), (y - 1000).to(dtype)
        # float32 rounds the offset inputs themselves: compare with the exact CKA of the rounded values
        ref = expected if dtype == torch.float64 else gram_cka(xo.double().numpy(), yo.double().numpy(), debiased)
        metric = LinearCKA(32, 24, debiased=debiased)
        for i in range(0, 600, 128):
            metric.update(xo[i : i + 128], yo[i : i + 128])
        assert float(metric.compute()) == pytest.approx(ref, abs=tol), dtype


def _ddp_offset_cka(rank: int, world_size: int) -> dict[str, torch.Tensor]:
    x, y = _features(500, 9, 7, seed=21, offset=1000.0)
    x[480:] += 50.0  # rank 1's data (uneven shards) have another mean, hence another shift than rank 0's
    out = {}
    for empty_rank in (False, True):
        sl = (slice(0, 480), slice(480, 500)) if not empty_rank else (slice(0, 500), slice(0, 0))
        for debiased in (False, True):
            metric = LinearCKA(9, 7, debiased=debiased)
            mine = sl[rank]
            for i in range(mine.start, mine.stop, 77):
                metric.update(x[i : min(i + 77, mine.stop)], y[i : min(i + 77, mine.stop)])
            out[f"{empty_rank}-{debiased}"] = metric.compute()
    return out


@pytest.mark.ddp
def test_cka_ddp_with_offsets() -> None:
    x, y = _features(500, 9, 7, seed=21, offset=1000.0)
    x[480:] += 50.0
    expected = {d: gram_cka(x.numpy(), y.numpy(), d) for d in (False, True)}
    for rank, out in enumerate(run_ddp(_ddp_offset_cka)):
        for empty_rank in (False, True):
            for debiased, value in expected.items():
                key = f"{empty_rank}-{debiased}"
                assert float(out[key]) == pytest.approx(value, abs=1e-10), (rank, key)


def test_cka_memory_is_flat_in_n() -> None:
    metric = LinearCKA(16, 8, debiased=True)
    size = metric.moments.numel()
    for _ in range(20):
        metric.update(torch.randn(500, 16), torch.randn(500, 8))
    assert metric.moments.numel() == size
    assert size < 2 * (16 * 16 + 8 * 8 + 16 * 8)


def test_cka_merge_state_with_different_shifts() -> None:
    x, y = _features(200, 5, 4, seed=2)
    a, b = LinearCKA(5, 4, debiased=True), LinearCKA(5, 4, debiased=True)
    a.update(x[:50] + 500, y[:50])  # first batches with very different means -> different shifts
    b.update(x[50:] - 500, y[50:] * 3)
    a.merge_state(b)
    xm = torch.cat([x[:50] + 500, x[50:] - 500])
    ym = torch.cat([y[:50], y[50:] * 3])
    assert float(a.compute()) == pytest.approx(gram_cka(xm.numpy(), ym.numpy(), True), abs=1e-10)


def test_cka_forward_accumulates() -> None:
    x, y = _features(100, 4, 3, seed=4)
    metric = LinearCKA(4, 3)
    for i in range(0, 100, 25):
        batch_value = metric(x[i : i + 25], y[i : i + 25])
        assert float(batch_value) == pytest.approx(
            gram_cka(x[i : i + 25].numpy(), y[i : i + 25].numpy(), False), abs=1e-10
        )
    assert float(metric.compute()) == pytest.approx(gram_cka(x.numpy(), y.numpy(), False), abs=1e-10)


def test_cka_nan_on_degenerate_features_and_errors() -> None:
    x = torch.randn(10, 3, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="non-positive denominator"):
        assert torch.isnan(linear_cka(x, torch.ones(10, 2, dtype=torch.float64)))
    with pytest.raises(ValueError, match="same number of samples"):
        linear_cka(x, x[:9])
    with pytest.raises(ValueError, match="at least 4"):
        linear_cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ValueError, match="non-finite"):
        linear_cka(x, torch.full((10, 3), float("inf")))
    with pytest.raises(TypeError, match="floating"):
        linear_cka(x, torch.ones(10, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="both `num_features_a` and `num_features_b` or neither"):
        LinearCKA(num_features_a=3)
    metric = LinearCKA(3, 3)
    with pytest.raises(ValueError, match="expected 3"):
        metric.update(x[:, :2], x)
    metric = LinearCKA(3, 3, debiased=True)
    metric.update(x[:2], x[:2])
    metric.update(x[2:3], x[2:3])
    with pytest.raises(ValueError, match="at least 4"):
        metric.compute()
    metric.update(x[3:4], x[3:4])
    assert float(metric.compute()) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------------------------
# minibatch mode vs torch-cka


class _Columns(nn.Module):
    def __init__(self, start: int, stop: int) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z[:, self.start : self.stop]


def test_minibatch_mode_matches_torch_cka() -> None:
    torch_cka = pytest.importorskip("torch_cka")
    x, y = _features(256, 12, 9, seed=8)
    xy = torch.cat([x, y], 1).float()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xy), batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cka = torch_cka.CKA(
            nn.Sequential(_Columns(0, 12)), nn.Sequential(_Columns(12, 21)), "a", "b", ["0"], ["0"], device="cpu"
        )
        cka.compare(loader)
    expected = float(cka.export()["CKA"][0, 0])
    metric = LinearCKA(mode="minibatch", debiased=True)
    for (batch,) in loader:
        metric.update(batch[:, :12], batch[:, 12:])
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-5)
    full = float(linear_cka(x, y, debiased=True))
    assert float(metric.compute()) != pytest.approx(full, abs=1e-9)  # a different estimator


def test_minibatch_mode_biased_single_batch_equals_full_and_errors() -> None:
    x, y = _features(50, 5, 4, seed=9)
    metric = LinearCKA(mode="minibatch")
    metric.update(x, y)
    assert float(metric.compute()) == pytest.approx(gram_cka(x.numpy(), y.numpy(), False), abs=1e-12)
    # a fresh metric: torchmetrics' merge_state does not clear the cached compute() value
    metric = LinearCKA(mode="minibatch")
    metric.update(x, y)
    other = LinearCKA(mode="minibatch")
    other.update(x[:20], y[:20])
    metric.merge_state(other)
    hsic = _gram_pairs(x, y, [slice(0, 50), slice(0, 20)])
    expected = (hsic[0][0] + hsic[1][0]) / np.sqrt((hsic[0][1] + hsic[1][1]) * (hsic[0][2] + hsic[1][2]))
    assert float(metric.compute()) == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="at least 4"):
        LinearCKA(mode="minibatch", debiased=True).update(x[:3], y[:3])
    with pytest.raises(ValueError, match="no batches"):
        LinearCKA(mode="minibatch").compute()
    with pytest.raises(ValueError, match="mode"):
        LinearCKA(3, 3, mode="batch")


def _gram_pairs(x, y, slices):
    out = []
    for sl in slices:
        xs, ys = x[sl].numpy(), y[sl].numpy()
        xs, ys = xs - xs.mean(0), ys - ys.mean(0)
        k, l = xs @ xs.T, ys @ ys.T
        out.append(((k, l), (k, k), (l, l)))
    return [tuple(gram_hsic(a, b, False) for a, b in triple) for triple in out]


# ---------------------------------------------------------------------------------------------------------------------
# kNN-Jaccard


def test_knn_jaccard_vs_sklearn_nearest_neighbors() -> None:
    """ReSi's recipe: sklearn NearestNeighbors(k + 1, cosine), drop the point itself."""
    from sklearn.neighbors import NearestNeighbors

    x, y = _features(150, 10, 6, seed=13)
    k = 7
    sets = []
    for z in (x.numpy(), y.numpy()):
        idx = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(z).kneighbors(z, return_distance=False)
        sets.append([set(row[row != i][:k]) for i, row in enumerate(idx)])
    inter = np.array([len(a & b) for a, b in zip(*sets)])
    out = knn_jaccard_similarity(x, y, k=k)
    assert float(out["jaccard"]) == pytest.approx(np.mean(inter / (2 * k - inter)), abs=1e-12)
    assert float(out["mutual_knn"]) == pytest.approx(np.mean(inter / k), abs=1e-12)


def test_knn_jaccard_identity_invariances_and_blocks() -> None:
    x, y = _features(120, 8, 5, seed=14)
    g = torch.Generator().manual_seed(2)
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=g, dtype=torch.float64))
    for metric in ("cosine", "euclidean"):
        out = knn_jaccard_similarity(x, 3.0 * x @ q, k=9, metric=metric)
        assert float(out["jaccard"]) == 1.0 and float(out["mutual_knn"]) == 1.0
    # centring matters for cosine, and matches the brute force on centred data
    xc, yc = x.numpy() - x.numpy().mean(0), y.numpy() - y.numpy().mean(0)
    na, nb = brute_knn(xc, 6, "cosine"), brute_knn(yc, 6, "cosine")
    m = np.array([len(set(a) & set(b)) for a, b in zip(na, nb)])
    out = knn_jaccard_similarity(x + 5, y - 2, k=6, center=True)
    assert float(out["jaccard"]) == pytest.approx(np.mean(m / (12 - m)), abs=1e-12)
    # small blocks give the same neighbours
    torch.testing.assert_close(
        knn_jaccard_similarity(x, y, k=5, metric="euclidean", block_size=7),
        knn_jaccard_similarity(x, y, k=5, metric="euclidean"),
    )


def test_knn_jaccard_unrelated_is_near_k_over_n() -> None:
    g = torch.Generator().manual_seed(3)
    n, k = 400, 10
    out = knn_jaccard_similarity(
        torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g), k=k, metric="euclidean"
    )
    assert float(out["mutual_knn"]) == pytest.approx(k / (n - 1), rel=0.3)


def test_knn_jaccard_errors() -> None:
    x = torch.randn(10, 3)
    with pytest.raises(ValueError, match="smaller than the number of samples"):
        knn_jaccard_similarity(x, x, k=10)
    with pytest.raises(ValueError, match="same number of samples"):
        knn_jaccard_similarity(x, x[:9], k=2)
    with pytest.raises(ValueError, match="metric"):
        KNNJaccardSimilarity(metric="manhattan")
    with pytest.raises(ValueError, match="zero vector"):
        knn_jaccard_similarity(torch.cat([x, torch.zeros(1, 3)]), torch.randn(11, 3), k=2)
    metric = KNNJaccardSimilarity(k=2)
    metric.update(x, x)
    with pytest.raises(ValueError, match="earlier batches"):
        metric.update(torch.randn(4, 5), torch.randn(4, 3))
    with pytest.raises(ValueError, match="empty"):
        KNNJaccardSimilarity().compute()


def test_feature_maps_are_flattened() -> None:
    g = torch.Generator().manual_seed(6)
    x4 = torch.randn(30, 2, 3, 3, generator=g, dtype=torch.float64)
    y = torch.randn(30, 5, generator=g, dtype=torch.float64) + x4.flatten(1)[:, :5]
    assert float(linear_cka(x4, y)) == pytest.approx(gram_cka(x4.flatten(1).numpy(), y.numpy(), False), abs=1e-12)
    metric = LinearCKA(18, 5, debiased=True)
    metric.update(x4[:12], y[:12])
    metric.update(x4[12:], y[12:])
    assert float(metric.compute()) == pytest.approx(gram_cka(x4.flatten(1).numpy(), y.numpy(), True), abs=1e-12)
