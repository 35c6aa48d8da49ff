"""MetricCases for PrecisionRecallEntropy (see tests/harness.py), with a brute-force float64 numpy/scipy reference.

Batches mix real and generated rows: ``((x,), {"real": flags})`` with a per-sample bool tensor, so the harness can
concatenate, split and shard them (uneven DDP shards, empty rank).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from harness import MetricCase
from scipy.spatial.distance import cdist
from scipy.special import digamma
from torch import nn

from rdmetrics.generative import PrecisionRecallEntropy


def bruteforce_pre(real: np.ndarray, fake: np.ndarray, k: int, per_sample: bool = False) -> dict[str, np.ndarray]:
    """Independent float64 reference: full distance matrices (scipy cdist), sort, LPS formulas, prdc definitions."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    n, d = real.shape
    m = fake.shape[0]
    d_rr = cdist(real, real)
    np.fill_diagonal(d_rr, np.inf)
    d_gg = cdist(fake, fake)
    np.fill_diagonal(d_gg, np.inf)
    d_rg = cdist(real, fake)
    rho_r = np.sort(d_rr, axis=1)[:, k - 1]
    rho_g = np.sort(d_gg, axis=1)[:, k - 1]
    nu_r = np.sort(d_rg, axis=1)[:, k - 1]  # real -> k-th fake
    nu_g = np.sort(d_rg.T, axis=1)[:, k - 1]  # fake -> k-th real
    log_v = d / 2 * math.log(math.pi) - math.lgamma(d / 2 + 1)
    c = -digamma(k) + log_v
    h_real_i = math.log(n - 1) + c + d * np.log(rho_r)
    h_fake_i = math.log(m - 1) + c + d * np.log(rho_g)
    ce_fake_real_i = math.log(n) + c + d * np.log(nu_g)
    ce_real_fake_i = math.log(m) + c + d * np.log(nu_r)
    out = {
        "h_real": h_real_i.mean(),
        "h_fake": h_fake_i.mean(),
        "ce_fake_real": ce_fake_real_i.mean(),
        "ce_real_fake": ce_real_fake_i.mean(),
    }
    out["pce"] = out["ce_fake_real"] - out["h_real"]
    out["rce"] = out["ce_real_fake"] - out["h_real"]
    out["re"] = out["h_fake"] - out["h_real"]
    inside = d_rg < rho_r[:, None]
    out["precision"] = inside.any(axis=0).mean()
    out["recall"] = (d_rg < rho_g[None, :]).any(axis=1).mean()
    out["density"] = inside.sum(axis=0).mean() / k
    out["coverage"] = (d_rg.min(axis=1) < rho_r).mean()
    if per_sample:
        out["h_real_per_sample"] = h_real_i
        out["h_fake_per_sample"] = h_fake_i
        out["ce_fake_real_per_sample"] = ce_fake_real_i
        out["ce_real_fake_per_sample"] = ce_real_fake_i
        out["pce_per_sample"] = ce_fake_real_i - out["h_real"]
        out["density_per_sample"] = inside.sum(axis=0) / k
    return {key: np.asarray(v, dtype=np.float64) for key, v in out.items()}


def _to_torch(d: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {key: torch.from_numpy(np.array(v, dtype=np.float64)) for key, v in d.items()}


def make_batches(seed: int, dim: int = 3):
    g = torch.Generator().manual_seed(100 + seed)
    sizes = [23, 17, 30, 11, 19]
    batches = []
    for size in sizes:
        flags = torch.rand(size, generator=g) < 0.55
        x = torch.randn(size, dim, generator=g, dtype=torch.float64)
        x[~flags] = 1.3 * x[~flags] + 0.4  # generated rows: shifted, wider
        batches.append(((x,), {"real": flags}))
    return batches


def _split(batches, transform=None):
    x = torch.cat([b[0][0] for b in batches])
    flags = torch.cat([b[1]["real"] for b in batches])
    if transform is not None:
        x = transform(x)
    return x[flags].numpy(), x[~flags].numpy()


def reference(batches, k: int = 3, per_sample: bool = False, transform=None):
    real, fake = _split(batches, transform)
    return _to_torch(bruteforce_pre(real, fake, k, per_sample))


def _fixed_projection() -> nn.Module:
    """A deterministic frozen feature network: 6 input dims -> 4 features."""
    g = torch.Generator().manual_seed(7)
    net = nn.Linear(6, 4, dtype=torch.float64)
    with torch.no_grad():
        net.weight.copy_(torch.randn(4, 6, generator=g, dtype=torch.float64))
        net.bias.copy_(torch.randn(4, generator=g, dtype=torch.float64))
    return net


class _CastingNet(nn.Module):
    """Runs the fixed projection in float64 whatever the input dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = _fixed_projection()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.double())


def _project(x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return _fixed_projection()(x)


def make_pre(k: int = 3, **kwargs) -> PrecisionRecallEntropy:
    return PrecisionRecallEntropy(k=k, **kwargs)


def make_pre_feature() -> PrecisionRecallEntropy:
    return PrecisionRecallEntropy(k=3, feature_extractor=_CastingNet())


SCALAR_KEYS = ("pce", "rce", "re", "h_real", "h_fake", "ce_fake_real", "ce_real_fake")
PRDC_KEYS = ("precision", "recall", "density", "coverage")

CASES: list[MetricCase] = [
    MetricCase(
        "generative-pre-prdc",
        functools.partial(make_pre, k=3),
        make_batches,
        functools.partial(reference, k=3),
        atol=1e-8,
        rtol=1e-8,
        dtype_atol=1e-4,
    ),
    MetricCase(
        "generative-pre-per-sample-blocked",
        functools.partial(make_pre, k=2, return_per_sample=True, block_size=7),
        functools.partial(make_batches, dim=5),
        functools.partial(reference, k=2, per_sample=True),
        atol=1e-8,
        rtol=1e-8,
        dtype_atol=1e-4,
        # per-sample arrays follow the state order, which merge_state reverses (incoming rows first); they are
        # checked against the brute force in tests/test_generative.py
        compare_keys=(*SCALAR_KEYS, *PRDC_KEYS),
    ),
    MetricCase(
        "generative-pre-feature-net",
        make_pre_feature,
        functools.partial(make_batches, dim=6),
        functools.partial(reference, k=3, transform=_project),
        atol=1e-8,
        rtol=1e-8,
        dtype_atol=1e-4,
    ),
]
