"""RD points, the Hamming bound and Blahut–Arimoto vs closed forms, dit, and numpy brute force.

Closed-form tables: ../shared/notes/research-rd.md §6 (Hamming bound) and §7 (model-vs-human contrast).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rdmetrics.functional import blahut_arimoto, hamming_rd_bound, mutual_information, rate_distortion_points


def _closed_form_rate(d: float, m: int) -> float:
    """R(D) = log2 M − h2(D) − D log2(M−1) on [0, (M−1)/M], 0 beyond (written independently of the package)."""
    if d >= (m - 1) / m:
        return 0.0
    h2 = 0.0 if d in (0.0, 1.0) else -(d * math.log2(d) + (1 - d) * math.log2(1 - d))
    return math.log2(m) - h2 - d * math.log2(m - 1)


# research-rd.md §6 table for M = 16: beta, D, R, geometric curvature
NOTES_TABLE = [
    (1, 0.882353, 0.030184, 4.9137),
    (2, 0.789474, 0.173125, 0.7764),
    (4, 0.483871, 1.110320, 0.0824),
    (6, 0.189873, 2.556979, 0.0417),
    (8, 0.055351, 3.475047, 0.0527),
]


@pytest.mark.parametrize("m", [2, 16, 1000])
def test_hamming_bound_closed_form(m: int) -> None:
    d = torch.linspace(0, 1, 101, dtype=torch.float64)
    got = hamming_rd_bound(d, m)
    expected = torch.tensor([_closed_form_rate(float(v), m) for v in d], dtype=torch.float64)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    assert float(hamming_rd_bound(0.0, m)) == pytest.approx(math.log2(m), abs=1e-12)
    assert float(hamming_rd_bound((m - 1) / m + 1e-9, m)) == 0.0


def test_hamming_bound_notes_table() -> None:
    for beta, d, r, _ in NOTES_TABLE:
        d_exact = 15 / (2**beta + 15)
        assert d_exact == pytest.approx(d, abs=1e-6)
        assert float(hamming_rd_bound(d_exact, 16)) == pytest.approx(r, abs=1e-6)


def test_binary_bound_is_one_minus_entropy() -> None:
    from scipy.stats import entropy

    for d in [0.01, 0.1, 0.3, 0.49]:
        assert float(hamming_rd_bound(d, 2)) == pytest.approx(1 - entropy([d, 1 - d], base=2), abs=1e-12)


@pytest.mark.parametrize("m", [2, 16, 1000])
def test_blahut_arimoto_closed_form(m: int) -> None:
    beta = torch.tensor([0.0, 0.5, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 20.0], dtype=torch.float64)
    rate, dist, channel = blahut_arimoto(torch.full((m,), 1.0 / m), 1 - torch.eye(m), beta)
    assert rate.shape == dist.shape == (9,) and channel.shape == (9, m, m)
    for i, b in enumerate(beta.tolist()):
        d_exact = (m - 1) / (2**b + m - 1)
        assert float(dist[i]) == pytest.approx(d_exact, abs=1e-6)
        assert float(rate[i]) == pytest.approx(_closed_form_rate(d_exact, m), abs=1e-6)
    torch.testing.assert_close(channel.sum(-1), torch.ones(9, m, dtype=torch.float64))


def test_blahut_arimoto_notes_table_and_curvature() -> None:
    beta = torch.tensor([row[0] for row in NOTES_TABLE], dtype=torch.float64)
    rate, dist, _ = blahut_arimoto(torch.full((16,), 1 / 16), 1 - torch.eye(16), beta)
    for i, (_, d, r, kappa) in enumerate(NOTES_TABLE):
        assert float(dist[i]) == pytest.approx(d, abs=1e-6)
        assert float(rate[i]) == pytest.approx(r, abs=1e-6)
        # κ = R'' / (1 + R'^2)^{3/2} with R' = −β, R'' = 1 / (ln2 D (1 − D))
        dd = float(dist[i])
        k = (1 / (math.log(2) * dd * (1 - dd))) / (1 + float(beta[i]) ** 2) ** 1.5
        assert k == pytest.approx(kappa, abs=1e-4)


def _nonuniform_case() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = np.array([0.45, 0.25, 0.15, 0.1, 0.05])
    d = rng.random((5, 5))
    np.fill_diagonal(d, 0.0)
    return p, d


def test_blahut_arimoto_vs_dit_nonuniform() -> None:
    from dit.rate_distortion.blahut_arimoto import blahut_arimoto as dit_ba

    p, d = _nonuniform_case()
    betas = [1.0, 3.0, 5.0, 8.0, 15.0]
    rate, dist, _ = blahut_arimoto(torch.from_numpy(p), torch.from_numpy(d), torch.tensor(betas))
    np.random.seed(0)  # noqa: NPY002 (dit draws its restarts from the global numpy RNG)
    for i, b in enumerate(betas):
        (res, _q) = dit_ba(p, b, distortion=lambda px, q: d, max_iters=5000, restarts=4)
        # dit stops when successive distortions are np.isclose (rtol 1e-5): compare to that precision, and our
        # solution must be at least as good on the BA objective R + βD (we converge further)
        assert float(rate[i]) == pytest.approx(res.rate, abs=1e-3)
        assert float(dist[i]) == pytest.approx(res.distortion, abs=1e-3)
        assert float(rate[i] + b * dist[i]) <= res.rate + b * res.distortion + 1e-9


def test_blahut_arimoto_slope_is_minus_beta() -> None:
    p, d = _nonuniform_case()
    beta = torch.linspace(2.0, 10.0, 81, dtype=torch.float64)
    rate, dist, channel = blahut_arimoto(torch.from_numpy(p), torch.from_numpy(d), beta)
    # finite-difference slope of the traced curve ≈ −β (midpoints)
    slope = (rate[2:] - rate[:-2]) / (dist[2:] - dist[:-2])
    torch.testing.assert_close(slope, -beta[1:-1], atol=2e-3, rtol=2e-3)
    # rate equals the MI of the returned channel under the prior (independent numpy computation)
    ch = channel[40].numpy()
    joint = p[:, None] * ch
    py = joint.sum(0)
    mask = joint > 0
    mi = float((joint[mask] * np.log2((ch / py[None, :])[mask])).sum())
    assert float(rate[40]) == pytest.approx(mi, abs=1e-10)
    assert float(dist[40]) == pytest.approx(float((joint * d).sum()), abs=1e-12)


def test_blahut_arimoto_chunking_and_scalar() -> None:
    beta = torch.linspace(0, 10, 7, dtype=torch.float64)
    p, d = torch.full((6,), 1 / 6), 1 - torch.eye(6)
    a = blahut_arimoto(p, d, beta)
    b = blahut_arimoto(p, d, beta, max_chunk_elements=40)  # one β per chunk
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    r, dv, q = blahut_arimoto(p, d, 3.0)
    assert r.ndim == 0 and dv.ndim == 0 and q.shape == (6, 6)
    assert float(r) == pytest.approx(_closed_form_rate(5 / (2**3 + 5), 6), abs=1e-9)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((torch.ones(3) / 3, 1 - torch.eye(3), -1.0), "non-negative"),
        ((torch.ones(3) / 3, 1 - torch.eye(4), 1.0), "distortion"),
        ((torch.ones(3, 1), 1 - torch.eye(3), 1.0), "prior"),
        ((torch.tensor([1.0, -1.0, 1.0]), 1 - torch.eye(3), 1.0), "non-negative"),
        ((torch.ones(3) / 3, 1 - torch.eye(3), float("nan")), "non-finite"),
    ],
)
def test_blahut_arimoto_bad_input(args, match) -> None:
    with pytest.raises(ValueError, match=match):
        blahut_arimoto(*args)


def test_hamming_bound_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        hamming_rd_bound(torch.tensor([0.2, 1.5]), 4)
    with pytest.raises(ValueError, match="num_classes"):
        hamming_rd_bound(0.2, 1)


# ---------------------------------------------------------------------------------------------------------------------
# empirical points


def test_points_brute_force_with_abstain() -> None:
    rng = np.random.default_rng(5)
    cm = rng.integers(0, 9, size=(3, 4, 5))  # 3 conditions, 4 classes, abstain column
    cm[:, np.arange(4), np.arange(4)] += 20
    d_got, r_got = rate_distortion_points(torch.from_numpy(cm))
    for ell in range(3):
        err = 0.0
        for x in range(4):
            n_x = cm[ell, x].sum()
            for y in range(5):
                err += 0.25 * cm[ell, x, y] / n_x * (y != x)
        assert float(d_got[ell]) == pytest.approx(err, abs=1e-12)
        balanced_acc = np.mean([cm[ell, x, x] / cm[ell, x].sum() for x in range(4)])
        assert float(d_got[ell]) == pytest.approx(1 - balanced_acc, abs=1e-12)
        assert float(r_got[ell]) == pytest.approx(float(mutual_information(torch.from_numpy(cm[ell]))), abs=1e-14)


def test_points_custom_distortion_and_prior() -> None:
    rng = np.random.default_rng(6)
    cm = rng.integers(1, 9, size=(4, 4))
    dist = rng.random((4, 4))
    prior = np.array([0.1, 0.2, 0.3, 0.4])
    d_got, r_got = rate_distortion_points(
        torch.from_numpy(cm), torch.from_numpy(dist), prior=torch.from_numpy(prior), correction="miller_madow"
    )
    expected = sum(prior[x] * cm[x, y] / cm[x].sum() * dist[x, y] for x in range(4) for y in range(4))
    assert float(d_got) == pytest.approx(expected, abs=1e-12)
    mm = mutual_information(torch.from_numpy(cm), prior=torch.from_numpy(prior), correction="miller_madow")
    assert float(r_got) == pytest.approx(float(mm), abs=1e-14)
    with pytest.raises(ValueError, match="distortion"):
        rate_distortion_points(torch.from_numpy(cm), torch.ones(3, 4))
    with pytest.raises(ValueError, match="K = C"):
        rate_distortion_points(torch.ones(3, 6))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    m=st.integers(min_value=2, max_value=6),
    data=st.data(),
)
def test_every_empirical_point_is_above_the_bound(m: int, data) -> None:
    cm = data.draw(arrays(np.int64, (m, m), elements=st.integers(min_value=0, max_value=30)))
    cm[:, 0] += 1  # every row observed (uniform prior needs a channel for every class)
    d, r = rate_distortion_points(torch.from_numpy(cm))
    assert float(r) >= float(hamming_rd_bound(d.clamp(0, 1), m)) - 1e-9


# ---------------------------------------------------------------------------------------------------------------------
# real data: the notes' §7 numbers (computed independently by the research notes' author) on model-vs-human


def _mvh_dir():
    import os
    from pathlib import Path

    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model-vs-human"
    return Path(os.environ.get("RDMETRICS_MVH_DIR", default))


def _mvh_confmats(observer_glob: str, conditions: list[str]) -> np.ndarray:
    import csv

    files = sorted((_mvh_dir() / "contrast").glob(observer_glob))
    if not files:
        pytest.skip("model-vs-human data not available")
    rows = []
    for f in files:
        with open(f, newline="") as fh:
            rows += list(csv.DictReader(fh))
    classes = sorted({r["category"] for r in rows})
    assert len(classes) == 16
    col = {c: i for i, c in enumerate(classes)}
    cm = np.zeros((len(conditions), 16, 17))
    for r in rows:
        if r["condition"] in conditions:
            cm[conditions.index(r["condition"]), col[r["category"]], col.get(r["object_response"], 16)] += 1
    return cm


def test_model_vs_human_contrast_matches_notes() -> None:
    # research-rd.md §7: uniform prior, 17 response columns (16 classes + 'na'); D, plug-in / Miller–Madow I (3 dp)
    conditions = ["c100", "c30", "c10", "c05", "c03", "c01"]
    humans = {
        "D": [0.144, 0.205, 0.405, 0.647, 0.850, 0.938],
        "I": [3.215, 2.900, 1.918, 0.973, 0.397, 0.262],
        "I_MM": [3.169, 2.838, 1.790, 0.797, 0.197, 0.053],
    }
    cm = torch.from_numpy(_mvh_confmats("contrast_subject-*_session_1.csv", conditions))
    assert cm.sum(dim=(1, 2)).tolist() == [640.0] * 6
    d, r = rate_distortion_points(cm)
    _, r_mm = rate_distortion_points(cm, correction="miller_madow")
    np.testing.assert_allclose(d.numpy(), humans["D"], atol=6e-4)
    np.testing.assert_allclose(r.numpy(), humans["I"], atol=6e-4)
    np.testing.assert_allclose(r_mm.numpy(), humans["I_MM"], atol=6e-4)
    assert bool((r >= hamming_rd_bound(d, 16) - 1e-9).all())

    resnet = {
        "D": [0.031, 0.062, 0.231, 0.369, 0.694, 0.912],
        "I": [3.849, 3.699, 2.947, 2.383, 1.191, 0.152],
        "I_MM": [3.894, 3.721, 2.875, 2.270, 1.074, 0.116],
    }
    cm = torch.from_numpy(_mvh_confmats("contrast_resnet50_session-1.csv", conditions))
    d, r = rate_distortion_points(cm)
    _, r_mm = rate_distortion_points(cm, correction="miller_madow")
    np.testing.assert_allclose(d.numpy(), resnet["D"], atol=6e-4)
    np.testing.assert_allclose(r.numpy(), resnet["I"], atol=6e-4)
    np.testing.assert_allclose(r_mm.numpy(), resnet["I_MM"], atol=6e-4)
