"""rd_signatures / rate_distortion_signature / bootstrap_confmat: analytic curves, scipy, numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.interpolate import PchipInterpolator

from rdmetrics.functional import (
    bootstrap_confmat,
    hamming_rd_bound,
    rate_distortion_points,
    rate_distortion_signature,
    rd_signatures,
)


def _kappa(d1: float, d2: float, width: float, norm: float = 1.0) -> float:
    """Signed curvature in normalised coordinates: x scaled by the observed ``width``, rate divided by ``norm``."""
    g1, g2 = d1 * width / norm, d2 * width * width / norm
    return g2 / (1 + g1 * g1) ** 1.5


def test_quadratic_recovers_analytic_values() -> None:
    a0, a1, a2 = 3.5, -6.0, 2.5
    d = torch.tensor([0.05, 0.2, 0.35, 0.6, 0.8], dtype=torch.float64)
    r = a0 + a1 * d + a2 * d**2
    for at in (None, 0.3, 0.7):
        x = 0.425 if at is None else at  # default: midpoint of [0.05, 0.8]
        s = rd_signatures(d, r, method="quadratic", at=at, num_classes=16)
        d1, d2 = a1 + 2 * a2 * x, 2 * a2
        assert float(s["beta"]) == pytest.approx(-d1, abs=1e-10)
        assert float(s["kappa"]) == pytest.approx(_kappa(d1, d2, 0.75, 4.0), abs=1e-10)
        assert float(s["curvature"]) == pytest.approx(d2, abs=1e-10)
        assert float(s["beta_normalized"]) == pytest.approx(-d1 * 0.75 / 4.0, abs=1e-10)
        assert float(s["at"]) == pytest.approx(x, abs=1e-15)
    lo, hi = 0.05, 0.8
    integral = a0 * (hi - lo) + a1 * (hi**2 - lo**2) / 2 + a2 * (hi**3 - lo**3) / 3
    assert float(s["auc"]) == pytest.approx(integral / (hi - lo) / 4.0, abs=1e-10)
    assert float(s["secant_slope"]) == pytest.approx(-(float(r[-1]) - float(r[0])) / (hi - lo), abs=1e-12)
    bound = np.array(
        [math.log2(16) - (-(v * math.log2(v) + (1 - v) * math.log2(1 - v))) - v * math.log2(15) for v in d.tolist()]
    )
    assert float(s["excess_rate"]) == pytest.approx(float(np.mean(r.numpy() - bound)), abs=1e-10)


@pytest.mark.parametrize(("a", "b", "c"), [(2.0, 3.0, 0.5), (-1.5, -2.0, 4.0), (3.0, 12.0, 0.1)])
def test_exponential_recovers_analytic_values(a: float, b: float, c: float) -> None:
    d = torch.linspace(0.05, 0.9, 7, dtype=torch.float64)
    r = a * torch.exp(-b * d) + c
    at = 0.4
    s = rd_signatures(d, r, method="exponential", at=at)
    d1 = -a * b * math.exp(-b * at)
    d2 = a * b * b * math.exp(-b * at)
    assert float(s["beta"]) == pytest.approx(-d1, rel=1e-7, abs=1e-8)
    assert float(s["kappa"]) == pytest.approx(_kappa(d1, d2, 0.85), rel=1e-6, abs=1e-8)
    assert float(s["curvature"]) == pytest.approx(d2, rel=1e-6, abs=1e-8)
    mean_height = (a / b * (math.exp(-b * 0.05) - math.exp(-b * 0.9)) + c * 0.85) / 0.85
    assert float(s["auc"]) == pytest.approx(mean_height, rel=1e-8)  # num_classes=None: in bits
    assert math.isnan(float(s["excess_rate"]))


def test_pchip_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    x = np.sort(rng.random(6))
    y = np.cumsum(rng.random(6))[::-1].copy()
    perm = rng.permutation(6)  # order of the points must not matter
    s = rd_signatures(torch.from_numpy(x[perm]), torch.from_numpy(y[perm]), method="pchip", at=0.5 * (x[1] + x[2]))
    spline = PchipInterpolator(x, y)
    at = 0.5 * (x[1] + x[2])
    d1, d2 = float(spline(at, 1)), float(spline(at, 2))
    assert float(s["beta"]) == pytest.approx(-d1, abs=1e-10)
    assert float(s["kappa"]) == pytest.approx(_kappa(d1, d2, x[-1] - x[0]), abs=1e-10)
    assert float(s["curvature"]) == pytest.approx(d2, abs=1e-10)
    assert float(s["auc"]) == pytest.approx(float(spline.integrate(x[0], x[-1])) / (x[-1] - x[0]), abs=1e-10)


def test_hull_ignores_points_above_the_envelope() -> None:
    # vertices of a convex piecewise-linear curve + two points above it
    xv = np.array([0.0, 0.2, 0.5, 1.0])
    yv = np.array([4.0, 2.0, 0.8, 0.0])
    x = torch.tensor([0.0, 0.1, 0.2, 0.35, 0.5, 1.0], dtype=torch.float64)
    y = torch.tensor([4.0, 3.5, 2.0, 1.9, 0.8, 0.0], dtype=torch.float64)
    s = rd_signatures(x, y, method="hull", at=0.3)
    slopes = np.diff(yv) / np.diff(xv)
    assert float(s["beta"]) == pytest.approx(-slopes[1], abs=1e-12)  # segment [0.2, 0.5]
    # discrete second derivative at the nearest interior hull vertex (0.2)
    d2 = (slopes[1] - slopes[0]) / ((xv[2] - xv[0]) / 2)
    assert float(s["kappa"]) == pytest.approx(_kappa(slopes[1], d2, 1.0), abs=1e-12)
    assert float(s["auc"]) == pytest.approx(float(np.sum(np.diff(xv) * (yv[1:] + yv[:-1]) / 2)), abs=1e-12)
    # on a vertex the slope is the mean of both sides
    s_v = rd_signatures(x, y, method="hull", at=0.5)
    assert float(s_v["beta"]) == pytest.approx(-(slopes[1] + slopes[2]) / 2, abs=1e-12)


def test_axis_values_and_batching() -> None:
    sev = torch.tensor([0.0, 1.0, 2.0, 4.0], dtype=torch.float64)
    r = 4.0 - 0.5 * sev - 0.1 * sev**2
    d = torch.tensor([0.1, 0.2, 0.4, 0.7], dtype=torch.float64)
    s = rd_signatures(d, r, axis_values=sev, at=1.5)
    assert float(s["beta"]) == pytest.approx(0.5 + 0.2 * 1.5, abs=1e-10)
    # batched curves == one call per curve, for every method
    rng = np.random.default_rng(1)
    dd = torch.from_numpy(np.sort(rng.random((3, 2, 5)), axis=-1))
    rr = torch.from_numpy(4 * np.exp(-3 * dd.numpy()) + 0.1 * rng.random((3, 2, 5)))
    for method in ("quadratic", "exponential", "pchip", "hull"):
        batched = rd_signatures(dd, rr, method=method, num_classes=8)
        assert batched["beta"].shape == (3, 2)
        for i in range(3):
            for j in range(2):
                single = rd_signatures(dd[i, j], rr[i, j], method=method, num_classes=8)
                for key in ("beta", "kappa", "auc", "secant_slope", "excess_rate"):
                    assert float(batched[key][i, j]) == pytest.approx(float(single[key]), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"distortion": torch.tensor([0.1, 0.2]), "rate": torch.tensor([1.0, 0.5])}, "at least 3"),
        ({"distortion": torch.tensor([0.1, 0.2, 0.3]), "rate": torch.tensor([1.0, 0.5])}, "same shape"),
        ({"distortion": torch.tensor([0.1, float("nan"), 0.3]), "rate": torch.ones(3)}, "non-finite"),
        ({"distortion": torch.tensor([0.1, 0.2, 0.3]), "rate": torch.ones(3), "at": 0.9}, "outside"),
        ({"distortion": torch.tensor([0.1, 0.2, 0.3]), "rate": torch.ones(3), "method": "spline"}, "method"),
        ({"distortion": torch.tensor([0.1, 0.1, 0.3]), "rate": torch.ones(3), "method": "pchip"}, "distinct"),
        ({"distortion": torch.tensor([0.1, 0.2, 0.3]), "rate": torch.ones(3), "num_classes": 1}, "num_classes"),
        (
            {"distortion": torch.tensor([0.1, 0.2, 0.3]), "rate": torch.ones(3), "axis_values": torch.ones(4)},
            "axis_values",
        ),
    ],
)
def test_bad_input(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        rd_signatures(**kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# bootstrap


def test_bootstrap_confmat_moments_and_determinism() -> None:
    cm = torch.tensor([[[30, 5, 5, 0], [2, 20, 10, 8]], [[1, 1, 1, 1], [0, 0, 0, 4]]])
    boot = bootstrap_confmat(cm, 4000, seed=7)
    assert boot.shape == (4000, 2, 2, 4) and boot.dtype == torch.int64
    assert torch.equal(boot.sum(-1), cm.sum(-1).expand(4000, 2, 2))
    assert torch.equal(boot, bootstrap_confmat(cm, 4000, seed=7))
    assert not torch.equal(boot, bootstrap_confmat(cm, 4000, seed=8))
    n = cm.sum(-1, keepdim=True).double()
    p = cm.double() / n
    mean, var = boot.double().mean(0), boot.double().var(0)
    # multinomial: E = n p, Var = n p (1 − p); 4000 replicates -> sampling error of the mean ≲ 4 sd / sqrt(4000)
    sd = (n * p * (1 - p)).sqrt()
    assert bool(((mean - n * p).abs() <= 4 * sd / math.sqrt(4000) + 1e-12).all())
    torch.testing.assert_close(var, n * p * (1 - p), atol=0.15, rtol=0.1)
    # multinomial covariance between two columns of a row: −n p_i p_j
    cov = torch.cov(boot[:, 0, 1, :2].double().T)[0, 1]
    assert float(cov) == pytest.approx(float(-n[0, 1, 0] * p[0, 1, 0] * p[0, 1, 1]), abs=0.5)


def test_bootstrap_bad_input() -> None:
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_confmat(torch.ones(2, 2), 0)
    with pytest.raises(ValueError, match="integer counts"):
        bootstrap_confmat(torch.full((2, 2), 0.5), 3)


def _msc_confmats(num_classes: int, errors: list[float], n_per_class: int) -> torch.Tensor:
    """M-ary symmetric channel counts (rounded expected counts)."""
    mats = []
    for e in errors:
        off = e * n_per_class / (num_classes - 1)
        cm = torch.full((num_classes, num_classes), off, dtype=torch.float64)
        cm.fill_diagonal_(n_per_class * (1 - e))
        mats.append(cm.round().long())
    return torch.stack(mats)


def test_rate_distortion_signature_pipeline() -> None:
    cms = _msc_confmats(8, [0.05, 0.2, 0.4, 0.6, 0.8], 40)
    out = rate_distortion_signature(
        cms, conditions=torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0]), method="quadratic", correction="miller_madow"
    )
    d, r_mm = rate_distortion_points(cms, correction="miller_madow")
    _, r_plugin = rate_distortion_points(cms)
    torch.testing.assert_close(out["distortion"], d)
    torch.testing.assert_close(out["rate"], r_mm)
    torch.testing.assert_close(out["rate_plugin"], r_plugin)
    torch.testing.assert_close(out["accuracy"], 1 - d)
    torch.testing.assert_close(out["bound"], hamming_rd_bound(d, 8))
    s = rd_signatures(d, r_mm, num_classes=8)
    for key in ("beta", "kappa", "auc", "secant_slope", "excess_rate"):
        torch.testing.assert_close(out[key], s[key])
    # an M-ary symmetric channel sits on the Hamming bound: the plug-in rate of these points equals the bound
    torch.testing.assert_close(r_plugin, hamming_rd_bound(d, 8), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="at least 3"):
        rate_distortion_signature(cms[:2])
    with pytest.raises(ValueError, match="empty"):
        rate_distortion_signature(torch.cat([cms, torch.zeros_like(cms[:1])]))


def test_bootstrap_ci_equals_loop_reference() -> None:
    cms = _msc_confmats(5, [0.1, 0.3, 0.5, 0.7], 20)
    kw = {"method": "exponential", "n_bootstrap": 60, "seed": 4, "ci": 0.9, "correction": "miller_madow"}
    out = rate_distortion_signature(cms, ci_method="percentile", **kw)
    basic = rate_distortion_signature(cms, ci_method="basic", **kw)
    boot = bootstrap_confmat(cms, 60, seed=4)
    betas, kappas, aucs = [], [], []
    for b in range(60):
        d, r = rate_distortion_points(boot[b], correction="miller_madow")
        s = rd_signatures(d, r, method="exponential", num_classes=5)
        betas.append(float(s["beta"]))
        kappas.append(float(s["kappa"]))
        aucs.append(float(s["auc"]))
    for key, vals in (("beta_ci", betas), ("kappa_ci", kappas), ("auc_ci", aucs)):
        q = np.quantile(np.asarray(vals), [0.05, 0.95])  # numpy 'linear' == torch default interpolation
        theta = float(out[key.removesuffix("_ci")])
        # percentile interval, extended to the estimate when it misses it (the reported value is always inside)
        np.testing.assert_allclose(out[key].numpy(), [min(q[0], theta), max(q[1], theta)], rtol=1e-7, atol=1e-8)
        # basic (reverse percentile) interval: [2θ̂ − q_hi, 2θ̂ − q_lo]
        lo, hi = 2 * theta - q[1], 2 * theta - q[0]
        np.testing.assert_allclose(basic[key].numpy(), [min(lo, theta), max(hi, theta)], rtol=1e-7)
    assert float(out["beta_se"]) == pytest.approx(float(np.std(betas, ddof=1)), rel=1e-7)


def test_non_strict_drops_missing_classes_and_gives_nan_for_undefined_frontiers() -> None:
    """strict=False: a class absent from one condition leaves that condition's uniform prior (rate = MI of the
    remaining rows, computed here with numpy); a flat frontier gives NaN signatures instead of raising."""
    rng = np.random.default_rng(3)
    cms = torch.as_tensor(rng.integers(1, 20, size=(4, 3, 3)), dtype=torch.long)
    cms[1, 0] = 0  # class 0 never shown in condition 1
    with pytest.raises(ValueError):
        rate_distortion_signature(cms, correction="none")
    with pytest.warns(UserWarning, match="no samples"):
        out = rate_distortion_signature(cms, correction="none", strict=False)
    rows = cms[1, 1:].double().numpy()
    p_yx = rows / rows.sum(1, keepdims=True)
    p_y = p_yx.mean(0)
    mi = np.mean([np.sum(np.where(r > 0, r * np.log2(np.where(r > 0, r, 1) / p_y), 0.0)) for r in p_yx])
    assert float(out["rate"][1]) == pytest.approx(mi, abs=1e-12)
    assert float(out["distortion"][1]) == pytest.approx(1 - np.mean(np.diag(p_yx[:, 1:])), abs=1e-12)

    flat = torch.stack([torch.eye(3, dtype=torch.long) * 10] * 3)  # the same perfect channel at every level
    with pytest.raises(ValueError, match="distinct"):
        rate_distortion_signature(flat)
    out = rate_distortion_signature(flat, strict=False)
    assert all(bool(out[k].isnan()) for k in ("beta", "kappa", "auc"))
    np.testing.assert_allclose(out["accuracy"].numpy(), 1.0)
