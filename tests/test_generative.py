"""PCE / RCE / RE + PRDC: brute force, peers (universal-divergence, prdc), closed forms, invariances, failure modes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cases.generative import PRDC_KEYS, SCALAR_KEYS, bruteforce_pre
from scipy.spatial.distance import cdist
from torch import nn

from rdmetrics import PrecisionRecallEntropy
from rdmetrics.functional import precision_recall_entropy


def _gauss(n: int, d: int, seed: int, sigma: float = 1.0, mu: float | list[float] = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) * sigma + torch.as_tensor(mu, dtype=torch.float64)


@pytest.mark.parametrize(("n", "m", "d", "k"), [(180, 150, 4, 5), (120, 200, 16, 1), (90, 90, 2, 3)])
def test_matches_bruteforce_float64(n, m, d, k):
    real, fake = _gauss(n, d, 1), _gauss(m, d, 2, sigma=1.2, mu=0.3)
    out = precision_recall_entropy(real, fake, k=k, return_per_sample=True, block_size=33)
    ref = bruteforce_pre(real.numpy(), fake.numpy(), k, per_sample=True)
    assert set(out) == set(ref)
    for key, value in ref.items():
        np.testing.assert_allclose(out[key].numpy(), value, rtol=0, atol=1e-9, err_msg=key)
        assert out[key].dtype == torch.float64


def test_rce_matches_universal_divergence():
    ud = pytest.importorskip("universal_divergence")
    real, fake = _gauss(150, 6, 3), _gauss(130, 6, 4, sigma=0.8, mu=0.5)
    for k in (1, 4):
        out = precision_recall_entropy(real, fake, k=k, prdc=False)
        assert abs(float(out["rce"]) - ud.estimate(real.numpy(), fake.numpy(), k)) < 1e-9


def test_prdc_matches_prdc_package():
    prdc = pytest.importorskip("prdc")
    for seed, (n, m, d) in enumerate([(200, 170, 8), (150, 150, 3)]):
        real, fake = _gauss(n, d, 10 + seed), _gauss(m, d, 20 + seed, sigma=1.3, mu=0.2)
        out = precision_recall_entropy(real, fake, k=5)
        ref = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
        for key in PRDC_KEYS:
            assert abs(float(out[key]) - float(ref[key])) < 1e-12, key


def test_float32_input_matches_float64_bruteforce_of_same_values():
    real, fake = _gauss(160, 32, 5).float(), _gauss(140, 32, 6, sigma=1.1).float()
    out = precision_recall_entropy(real, fake, k=3)
    ref = bruteforce_pre(real.double().numpy(), fake.double().numpy(), 3)
    for key in (*SCALAR_KEYS, *PRDC_KEYS):
        np.testing.assert_allclose(out[key].numpy(), ref[key], rtol=0, atol=1e-9, err_msg=key)


# closed forms for R = N(0, I_d), G = N(mu, sigma^2 I_d) (research notes §1.7); regimes where the kNN estimator
# is within 0.1 nat at N = 5000 (for sigma < 1 the RCE estimate is known to be strongly biased: R's tails are
# covered by few generated points)
@pytest.mark.parametrize(("d", "sigma", "mu"), [(1, math.sqrt(2.0), 0.0), (2, 1.25, 0.0), (2, 1.0, [1.0, 0.5])])
def test_gaussian_closed_forms(d, sigma, mu):
    n = 5000
    real = _gauss(n, d, 30)
    fake = _gauss(n, d, 31, sigma=sigma, mu=mu)
    mu2 = float(torch.as_tensor(mu, dtype=torch.float64).pow(2).sum() * (d if np.ndim(mu) == 0 else 1))
    s2 = sigma**2
    expected = {
        "pce": (d * s2 + mu2 - d) / 2,
        "rce": d / 2 * (math.log(s2) + 1 / s2 - 1) + mu2 / (2 * s2),
        "re": d * math.log(sigma),
        "h_real": d / 2 * math.log(2 * math.pi * math.e),
        "h_fake": d / 2 * math.log(2 * math.pi * math.e * s2),
    }
    out = precision_recall_entropy(real, fake, k=5, prdc=False)
    for key, value in expected.items():
        assert abs(float(out[key]) - value) < 0.1, (key, float(out[key]), value)


def test_pce_minus_re_is_knn_kl_of_fake_from_real():
    real, fake = _gauss(300, 5, 40), _gauss(260, 5, 41, sigma=0.7, mu=0.4)
    k = 4
    out = precision_recall_entropy(real, fake, k=k, prdc=False)
    r, f = real.numpy(), fake.numpy()
    d_gg = cdist(f, f)
    np.fill_diagonal(d_gg, np.inf)
    rho_g = np.sort(d_gg, 1)[:, k - 1]
    nu_g = np.sort(cdist(f, r), 1)[:, k - 1]
    n, m, d = len(r), len(f), r.shape[1]
    kl_gr = math.log(n / (m - 1)) + d * np.mean(np.log(nu_g / rho_g))  # Wang-Kulkarni-Verdu KL(G||R)
    assert abs(float(out["pce"] - out["re"]) - kl_gr) < 1e-10


def test_invariances():
    real, fake = _gauss(200, 6, 50), _gauss(180, 6, 51, sigma=1.2, mu=0.3)
    base = precision_recall_entropy(real, fake, k=5)
    q, _ = torch.linalg.qr(_gauss(6, 6, 52))
    shift = 100.0 * _gauss(1, 6, 53)
    c = 3.7
    transforms = {
        "translation": (lambda x: x + shift, 0.0),
        "rotation": (lambda x: x @ q, 0.0),
        "scale": (lambda x: c * x, 6 * math.log(c)),
    }
    for name, (fn, raw_shift) in transforms.items():
        out = precision_recall_entropy(fn(real), fn(fake), k=5)
        for key in ("pce", "rce", "re"):
            assert abs(float(out[key] - base[key])) < 1e-9, (name, key)
        for key in ("h_real", "h_fake", "ce_fake_real", "ce_real_fake"):
            assert abs(float(out[key] - base[key]) - raw_shift) < 1e-9, (name, key)
        for key in PRDC_KEYS:
            assert float(out[key]) == float(base[key]), (name, key)


def _mixture(centres: torch.Tensor, per_mode: int, seed: int, sigma: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pts = [c + sigma * torch.randn(per_mode, centres.shape[1], generator=g, dtype=torch.float64) for c in centres]
    return torch.cat(pts)


def test_mixture_failure_modes_separate():
    d, per_mode = 4, 200
    centres = 8.0 * _gauss(6, d, 60)
    far = 8.0 * _gauss(2, d, 61) + 40.0
    real = _mixture(centres, per_mode, 62)
    same = precision_recall_entropy(real, _mixture(centres, per_mode, 63), k=5, prdc=False)
    dropped = precision_recall_entropy(real, _mixture(centres[:3], 2 * per_mode, 64), k=5, prdc=False)
    invented = precision_recall_entropy(real, _mixture(torch.cat([centres, far]), per_mode, 65), k=5, prdc=False)
    shrunk = precision_recall_entropy(real, _mixture(centres, per_mode, 66, sigma=0.5), k=5, prdc=False)
    assert abs(float(same["pce"])) < 0.2 and abs(float(same["rce"])) < 0.2 and abs(float(same["re"])) < 0.2
    assert float(dropped["rce"]) > float(same["rce"]) + 1.0  # dropping modes: coverage term rises
    assert float(invented["pce"]) > float(same["pce"]) + 1.0  # inventing modes: fidelity term rises
    assert float(shrunk["re"]) < float(same["re"]) - 1.0  # shrinking modes: diversity term falls
    assert abs(float(shrunk["re"]) - d * math.log(0.5)) < 0.3  # ... by about d log(sigma)


def test_memorised_samples_have_lowest_pce_terms():
    real = _gauss(300, 8, 70)
    g = torch.Generator().manual_seed(71)
    copies = real[:10] + 1e-4 * torch.randn(10, 8, generator=g, dtype=torch.float64)
    fake = torch.cat([copies, _gauss(290, 8, 72)])
    out = precision_recall_entropy(real, fake, k=1, prdc=False, return_per_sample=True)
    lowest = set(torch.argsort(out["pce_per_sample"])[:10].tolist())
    assert lowest == set(range(10))


def test_errors():
    real, fake = _gauss(20, 3, 0), _gauss(15, 3, 1)
    with pytest.raises(ValueError, match="smaller than the number of samples"):
        precision_recall_entropy(real, fake, k=15)
    with pytest.raises(ValueError, match="dimension mismatch"):
        precision_recall_entropy(real, _gauss(15, 4, 1))
    bad = fake.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        precision_recall_entropy(real, bad)
    bad[3, 0] = float("inf")
    with pytest.raises(ValueError, match="inf"):
        precision_recall_entropy(bad, fake)
    with pytest.raises(ValueError, match="empty"):
        precision_recall_entropy(real[:0], fake)
    with pytest.raises(ValueError, match="empty"):
        precision_recall_entropy(real, torch.zeros(0))
    with pytest.raises(ValueError, match="k"):
        precision_recall_entropy(real, fake, k=0)


def test_duplicates_raise():
    real = _gauss(30, 3, 2)
    dup = torch.cat([real, real[:1].repeat(3, 1)])  # a point present 4 times: its 3rd neighbour is at distance 0
    with pytest.raises(ValueError, match="duplicate"):
        precision_recall_entropy(dup, _gauss(30, 3, 3), k=3)
    # a generated sample that copies a real one, k = 1
    fake = torch.cat([_gauss(29, 3, 4), real[5:6]])
    with pytest.raises(ValueError, match="duplicate"):
        precision_recall_entropy(real, fake, k=1)
    # fine with k = 2 (its 2nd nearest real is not at distance 0)
    precision_recall_entropy(real, fake, k=2)


# ------------------------------------------------------------------------------------------------------------ Metric


def test_metric_matches_functional_and_mixed_flags():
    real, fake = _gauss(80, 5, 80), _gauss(70, 5, 81, sigma=1.2)
    expected = precision_recall_entropy(real, fake, k=4)
    m1 = PrecisionRecallEntropy(k=4)
    m1.update(real[:50], real=True)
    m1.update(fake, real=False)
    m1.update(real[50:], real=True)
    x = torch.cat([real, fake])
    flags = torch.cat([torch.ones(80, dtype=torch.bool), torch.zeros(70, dtype=torch.bool)])
    perm = torch.randperm(150, generator=torch.Generator().manual_seed(0))
    m2 = PrecisionRecallEntropy(k=4)
    m2.update(x[perm], real=flags[perm])
    for m in (m1, m2):
        out = m.compute()
        for key in expected:
            assert abs(float(out[key] - expected[key])) < 1e-9, key


def test_reset_real_features():
    real, fake1, fake2 = _gauss(60, 3, 90), _gauss(50, 3, 91), _gauss(55, 3, 92, sigma=2.0)
    keep = PrecisionRecallEntropy(k=3, reset_real_features=False)
    drop = PrecisionRecallEntropy(k=3)
    for m in (keep, drop):
        m.update(real, real=True)
        m.update(fake1, real=False)
        m.compute()
        m.reset()
        m.update(fake2, real=False)
    out = keep.compute()
    expected = precision_recall_entropy(real, fake2, k=3)
    for key in expected:
        assert abs(float(out[key] - expected[key])) < 1e-9, key
    with pytest.raises(ValueError, match="no real samples"):
        drop.compute()


def test_metric_errors():
    m = PrecisionRecallEntropy(k=3)
    with pytest.raises(ValueError, match="empty"):
        m.compute()
    m.update(_gauss(10, 3, 0), real=True)
    with pytest.raises(ValueError, match="no fake samples"):
        m.compute()
    with pytest.raises(ValueError, match="dimension mismatch"):
        m.update(_gauss(10, 4, 1), real=False)
    with pytest.raises(TypeError, match="bool"):
        m.update(_gauss(10, 3, 1), real="yes")
    with pytest.raises(ValueError, match="bool tensor"):
        m.update(_gauss(10, 3, 1), real=torch.ones(9, dtype=torch.bool))
    with pytest.raises(ValueError, match="NaN"):
        m.update(torch.full((2, 3), float("nan")), real=False)
    m.update(_gauss(3, 3, 2), real=False)
    with pytest.raises(ValueError, match="smaller than the number of samples"):
        m.compute()
    with pytest.raises(ValueError, match="k"):
        PrecisionRecallEntropy(k=0)
    with pytest.raises(TypeError, match=r"nn\.Module"):
        PrecisionRecallEntropy(feature_extractor=lambda x: x)


def test_feature_is_a_deprecated_name_of_feature_extractor() -> None:
    net = nn.Linear(3, 2)
    with pytest.warns(DeprecationWarning, match="feature_extractor"):
        m = PrecisionRecallEntropy(k=1, feature=net)
    assert m.feature is net and m.feature_network == "feature"  # FeatureShare finds the network under `feature`
    with pytest.raises(TypeError, match="not both"):
        PrecisionRecallEntropy(feature_extractor=net, feature=net)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(12, 5)
        self.drop = nn.Dropout(0.5)  # would make features random if the network were left in train mode
        self.num_features = 5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.lin(x.flatten(1)))


def test_feature_network_frozen_and_not_in_state_dict():
    net = _Net().train()
    m = PrecisionRecallEntropy(k=3, feature_extractor=net)
    assert not m.feature.training and not any(p.requires_grad for p in m.feature.parameters())
    m.persistent(True)
    assert not any(key.startswith("feature") for key in m.state_dict())
    imgs_r, imgs_f = _gauss(40, 12, 1).float(), _gauss(40, 12, 2).float()
    m.update(imgs_r.reshape(40, 3, 4), real=True)
    m.update(imgs_f.reshape(40, 3, 4), real=False)
    m.train()  # the metric's mode must not reach the frozen network
    with torch.no_grad():
        expected = precision_recall_entropy(net.lin(imgs_r).double(), net.lin(imgs_f).double(), k=3)
    out = m.compute()
    for key in expected:
        assert abs(float(out[key] - expected[key])) < 1e-6, key
    assert m.feature_network == "feature"


def test_feature_share():
    from torchmetrics.wrappers import FeatureShare

    net = _Net()
    shared = FeatureShare(
        {
            "k3": PrecisionRecallEntropy(k=3, feature_extractor=net),
            "k5": PrecisionRecallEntropy(k=5, feature_extractor=net),
        }
    )
    x_r, x_f = _gauss(30, 12, 3).float(), _gauss(30, 12, 4).float()
    shared.update(x_r, real=True)
    shared.update(x_f, real=False)
    out = shared.compute()
    with torch.no_grad():
        fr, ff = net.lin(x_r).double(), net.lin(x_f).double()
    assert abs(float(out["k3_pce"] - precision_recall_entropy(fr, ff, k=3)["pce"])) < 1e-6
    assert abs(float(out["k5_pce"] - precision_recall_entropy(fr, ff, k=5)["pce"])) < 1e-6
    assert type(shared["k3"].feature).__name__ == "NetworkCache"  # one backbone shared through `feature_network`
    assert not any(key.startswith("feature") for key in shared["k3"].state_dict())


def test_plot():
    pytest.importorskip("matplotlib")
    m = PrecisionRecallEntropy(k=3, return_per_sample=True)
    m.update(_gauss(30, 2, 5), real=True)
    m.update(_gauss(30, 2, 6), real=False)
    fig, ax = m.plot()
    assert fig is not None and ax is not None
