"""MetricCases for LinearCKA (full-data mode) and KNNJaccardSimilarity.

References are independent float64 brute force: CKA from the explicit ``n x n`` Gram matrices and centring matrix
(Kornblith et al. 2019 biased, Song et al. 2012 unbiased), kNN-Jaccard from a full numpy distance matrix.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from harness import MetricCase, cat_batches

from rdmetrics.similarity import KNNJaccardSimilarity, LinearCKA

DA, DB = 6, 4


def make_feature_batches(seed: int, offset: float = 0.0, sizes=(11, 7, 16, 9), as_maps: bool = False):
    """Paired features: y is a noisy linear map of x (so CKA is strictly between 0 and 1), plus an offset.

    ``as_maps``: x as ``[n, 2, 3]`` feature maps (flattened by the metric), y as ``[n, 4, 1]``."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(DA, DB, generator=g, dtype=torch.float64)
    batches = []
    for n in sizes:
        x = torch.randn(n, DA, generator=g, dtype=torch.float64)
        y = x @ w + 1.5 * torch.randn(n, DB, generator=g, dtype=torch.float64)
        if as_maps:
            batches.append((((x + offset).reshape(n, 2, 3), (y - offset).reshape(n, DB, 1)), {}))
        else:
            batches.append(((x + offset, y - offset), {}))
    return batches


def gram_hsic(k: np.ndarray, l: np.ndarray, debiased: bool) -> float:
    n = k.shape[0]
    if not debiased:
        h = np.eye(n) - np.ones((n, n)) / n
        return float(np.trace(k @ h @ l @ h)) / (n - 1) ** 2
    k, l = k.copy(), l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    one = np.ones(n)
    val = np.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2)) - 2 / (n - 2) * (one @ k @ l @ one)
    return float(val) / (n * (n - 3))


def gram_cka(x: np.ndarray, y: np.ndarray, debiased: bool) -> float:
    """CKA from the n x n Gram matrices. Features are centred first: both estimators are translation invariant,
    and centring keeps the float64 Gram matrices exact for offset data."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    k, l = x @ x.T, y @ y.T
    return gram_hsic(k, l, debiased) / np.sqrt(gram_hsic(k, k, debiased) * gram_hsic(l, l, debiased))


def cka_reference(batches, debiased: bool):
    (x, y), _ = cat_batches(batches)
    return gram_cka(x.double().flatten(1).numpy(), y.double().flatten(1).numpy(), debiased)


def brute_knn(x: np.ndarray, k: int, metric: str) -> np.ndarray:
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = 1.0 - x @ x.T
    else:
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def knn_jaccard_reference(batches, k: int, metric: str, center: bool):
    (x, y), _ = cat_batches(batches)
    x, y = x.double().numpy(), y.double().numpy()
    if center:
        x, y = x - x.mean(0), y - y.mean(0)
    na, nb = brute_knn(x, k, metric), brute_knn(y, k, metric)
    inter = np.array([len(set(a) & set(b)) for a, b in zip(na, nb)])
    union = np.array([len(set(a) | set(b)) for a, b in zip(na, nb)])
    return {"jaccard": float(np.mean(inter / union)), "mutual_knn": float(np.mean(inter / k))}


CASES = [
    MetricCase(
        "similarity-cka-biased",
        functools.partial(LinearCKA, num_features_a=DA, num_features_b=DB),
        make_feature_batches,
        functools.partial(cka_reference, debiased=False),
        atol=1e-10,
        rtol=1e-10,
    ),
    MetricCase(
        "similarity-cka-debiased-offset",
        functools.partial(LinearCKA, num_features_a=DA, num_features_b=DB, debiased=True),
        functools.partial(make_feature_batches, offset=100.0),
        functools.partial(cka_reference, debiased=True),
        atol=1e-10,
        rtol=1e-10,
    ),
    MetricCase(  # feature sizes learnt from the first batch; the empty DDP rank learns them at sync
        "similarity-cka-inferred-sizes",
        LinearCKA,
        make_feature_batches,
        functools.partial(cka_reference, debiased=False),
        atol=1e-10,
        rtol=1e-10,
    ),
    MetricCase(
        "similarity-cka-inferred-sizes-debiased-images",
        functools.partial(LinearCKA, debiased=True),
        functools.partial(make_feature_batches, as_maps=True),
        functools.partial(cka_reference, debiased=True),
        atol=1e-10,
        rtol=1e-10,
        ddp=False,
    ),
    MetricCase(
        "similarity-knn-jaccard-cosine-centered",
        functools.partial(KNNJaccardSimilarity, k=5, metric="cosine", center=True),
        make_feature_batches,
        functools.partial(knn_jaccard_reference, k=5, metric="cosine", center=True),
        atol=1e-12,
        rtol=1e-12,
    ),
    MetricCase(
        "similarity-knn-jaccard-euclidean",
        functools.partial(KNNJaccardSimilarity, k=4, metric="euclidean", block_size=8),
        make_feature_batches,
        functools.partial(knn_jaccard_reference, k=4, metric="euclidean", center=False),
        atol=1e-12,
        rtol=1e-12,
    ),
]
