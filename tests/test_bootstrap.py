"""bootstrap_confmat / bootstrap_chunks / bootstrap_summary: multinomial moments and a chi-square test (scipy),
split invariance of per-replicate seeds, interval methods against a float64 numpy re-implementation, and the rule
"the reported value lies inside its own finite interval"."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from rdmetrics.functional.bootstrap import (
    basic_interval,
    bootstrap_chunks,
    bootstrap_confmat,
    bootstrap_summary,
    nan_quantile,
    replicate_seed,
    smoothed_confmat,
)

# ---------------------------------------------------------------------------------------------------------------------
# resampling


@pytest.mark.parametrize("scale", [1, 10_000])  # small counts: inverse-CDF sampler; huge counts: chained binomials
def test_bootstrap_confmat_is_multinomial(scale: int) -> None:
    cm = torch.tensor([[[30, 5, 5, 0], [2, 20, 10, 8]], [[1, 1, 1, 1], [0, 0, 0, 4]]]) * scale
    n_rep = 3000
    boot = bootstrap_confmat(cm, n_rep, seed=11)
    assert boot.shape == (n_rep, 2, 2, 4) and boot.dtype == torch.int64
    assert torch.equal(boot.sum(-1), cm.sum(-1).expand(n_rep, 2, 2))
    assert bool((boot[..., cm == 0] == 0).all())  # an empty cell is never drawn
    n = cm.sum(-1, keepdim=True).double()
    p = cm.double() / n
    mean, var = boot.double().mean(0), boot.double().var(0)
    sd = (n * p * (1 - p)).sqrt()
    assert bool(((mean - n * p).abs() <= 4.5 * sd / math.sqrt(n_rep) + 1e-9).all())
    torch.testing.assert_close(var, n * p * (1 - p), atol=0.2, rtol=0.12)
    cov = torch.cov(boot[:, 0, 1, 1:3].double().T)[0, 1]  # multinomial covariance −n p_i p_j (correlation −0.58)
    assert float(cov) / float(n[0, 1, 0] * p[0, 1, 1] * p[0, 1, 2]) == pytest.approx(-1.0, abs=0.15)


def test_bootstrap_row_distribution_chi_square() -> None:
    # one row with 3 trials over 3 cells: the 10 possible outcomes against their exact multinomial probabilities
    cm = torch.tensor([[1, 1, 1]])
    boot = bootstrap_confmat(cm, 6000, seed=5)[:, 0]
    outcomes = [(a, b, 3 - a - b) for a in range(4) for b in range(4 - a)]
    observed = np.array([int((boot == torch.tensor(o)).all(-1).sum()) for o in outcomes])
    expected = np.array([stats.multinomial.pmf(o, 3, [1 / 3] * 3) for o in outcomes]) * 6000
    assert observed.sum() == 6000
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_replicate_seeds_make_any_split_equal_the_whole() -> None:
    cm = torch.randint(0, 6, (3, 5, 6))
    whole = bootstrap_confmat(cm, 23, seed=9)
    assert torch.equal(whole, bootstrap_confmat(cm, 23, seed=9))  # deterministic
    assert not torch.equal(whole, bootstrap_confmat(cm, 23, seed=10))
    for k in (1, 7, 22):  # e.g. DDP rank 0 draws [0, k), rank 1 draws [k, n)
        head = bootstrap_confmat(cm, k, seed=9)
        tail = bootstrap_confmat(cm, 23 - k, seed=9, replicate_offset=k)
        assert torch.equal(torch.cat([head, tail]), whole)
    for chunk in (1, 5, 23, 100):
        assert torch.equal(torch.cat(list(bootstrap_chunks(cm, 23, seed=9, chunk_size=chunk))), whole)
    parts = list(bootstrap_chunks(cm, 10, seed=9, chunk_size=4, replicate_offset=13))
    assert [p.shape[0] for p in parts] == [4, 4, 2]
    assert torch.equal(torch.cat(parts), whole[13:])
    # replicates are distinct draws, and the seeds differ per (seed, replicate)
    assert len({replicate_seed(s, r) for s in range(5) for r in range(50)}) == 250
    assert all(0 <= replicate_seed(s, r) < 2**63 for s in (0, -1, 2**70) for r in (0, 1))


def test_smoothed_bootstrap_moments() -> None:
    cm = torch.tensor([[[12, 0, 0, 0], [0, 0, 0, 0]], [[3, 5, 0, 0], [0, 1, 1, 6]]])
    a, n_rep = 0.25, 4000
    boot = bootstrap_confmat(cm, n_rep, seed=2, pseudocount=a)
    rows = cm.sum(-1, keepdim=True).double()
    assert torch.equal(boot.sum(-1), cm.sum(-1).expand(n_rep, 2, 2))  # n_x trials per row, empty rows stay empty
    # rows are drawn from (N + a) / (n + a K): multinomial mean and variance, independent numpy formula
    p = np.where(rows.numpy() > 0, (cm.numpy() + a) / (rows.numpy() + 4 * a), 0.0)
    mean = rows.numpy() * p
    sd = np.sqrt(rows.numpy() * p * (1 - p))
    assert np.all(np.abs(boot.double().mean(0).numpy() - mean) <= 4.5 * sd / math.sqrt(n_rep) + 1e-12)
    np.testing.assert_allclose(boot.double().var(0).numpy(), sd**2, rtol=0.12, atol=0.02)
    assert int(boot[:, 0, 0, 1:].sum()) > 0  # cells never observed are reachable
    np.testing.assert_array_equal(smoothed_confmat(cm, a).numpy(), np.where(rows.numpy() > 0, cm.numpy() + a, 0.0))
    whole = bootstrap_confmat(cm, 9, seed=2, pseudocount=a)
    assert torch.equal(whole, boot[:9])
    parts = list(bootstrap_chunks(cm, 9, seed=2, chunk_size=4, pseudocount=a))
    assert torch.equal(torch.cat(parts), whole)
    assert torch.equal(bootstrap_confmat(cm, 5, seed=2, pseudocount=0.0), bootstrap_confmat(cm, 5, seed=2))
    with pytest.raises(ValueError, match="pseudocount"):
        bootstrap_confmat(cm, 3, pseudocount=-1.0)


def test_bootstrap_bad_input() -> None:
    with pytest.raises(ValueError, match="n_bootstrap"):
        bootstrap_confmat(torch.ones(2, 2), 0)
    with pytest.raises(ValueError, match="integer counts"):
        bootstrap_confmat(torch.full((2, 2), 0.5), 3)
    with pytest.raises(ValueError, match="replicate_offset"):
        bootstrap_confmat(torch.ones(2, 2), 3, replicate_offset=-1)
    with pytest.raises(TypeError, match="seed"):
        bootstrap_confmat(torch.ones(2, 2), 3, seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_size"):
        next(bootstrap_chunks(torch.ones(2, 2), 3, chunk_size=0))
    with pytest.raises(ValueError, match="negative"):
        bootstrap_confmat(-torch.ones(2, 2), 3)


# ---------------------------------------------------------------------------------------------------------------------
# summaries


def _np_summary(point: np.ndarray, reps: np.ndarray, ci: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Float64 numpy reference (the textbook formulas), then the documented extension to the value."""
    alpha = 1 - ci
    q_lo = np.nanquantile(reps, alpha / 2, axis=0)
    q_hi = np.nanquantile(reps, 1 - alpha / 2, axis=0)
    mean = np.nanmean(reps, axis=0)
    value = point.copy()
    if method == "percentile":
        lo, hi = q_lo, q_hi
    else:
        lo, hi = 2 * point - q_hi, 2 * point - q_lo
        if method == "bc":
            value = 2 * point - mean
    return value, np.stack([np.minimum(lo, value), np.maximum(hi, value)], axis=-1)


@pytest.mark.parametrize("method", ["percentile", "basic", "bc"])
@pytest.mark.parametrize("ci", [0.95, 0.8])
def test_summary_matches_numpy_reference(method: str, ci: float) -> None:
    rng = np.random.default_rng(3)
    point = rng.normal(size=(4, 3))
    reps = point + 0.3 + rng.gamma(2.0, 0.5, size=(57, 4, 3))  # shifted, skewed replicate distribution
    reps[rng.random(reps.shape) < 0.1] = np.nan  # undefined fits are skipped
    out = bootstrap_summary(torch.from_numpy(point), torch.from_numpy(reps), ci=ci, method=method)
    value, interval = _np_summary(point, reps, ci, method)
    np.testing.assert_allclose(out["value"].numpy(), value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["ci"].numpy(), interval, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["bias"].numpy(), np.nanmean(reps, 0) - point, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["raw"].numpy(), point)
    np.testing.assert_array_equal(out["n_valid"].numpy(), (~np.isnan(reps)).sum(0))
    if method == "basic":  # the old helper gives the same interval where no extension was needed
        q = torch.from_numpy(np.nanquantile(reps, [(1 - ci) / 2, (1 + ci) / 2], axis=0)).movedim(0, -1)
        old = basic_interval(torch.from_numpy(point), q).numpy()
        inside = (old[..., 0] <= point) & (point <= old[..., 1])
        np.testing.assert_allclose(out["ci"].numpy()[inside], old[inside], rtol=1e-12)


@pytest.mark.parametrize("method", ["basic", "bc"])
def test_summary_reference_pivot(method: str) -> None:
    rng = np.random.default_rng(4)
    point, ref = rng.normal(size=5), rng.normal(size=5)
    reps = ref + rng.normal(size=(80, 5)) * 0.5 + 0.2
    out = bootstrap_summary(
        torch.from_numpy(point), torch.from_numpy(reps), 0.9, method, reference=torch.from_numpy(ref)
    )
    q_lo, q_hi = np.quantile(reps, [0.05, 0.95], axis=0)
    lo, hi = point - (q_hi - ref), point - (q_lo - ref)  # pivot θ* − t
    value = point - (reps.mean(0) - ref) if method == "bc" else point
    np.testing.assert_allclose(out["value"].numpy(), value, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["bias"].numpy(), reps.mean(0) - ref, rtol=1e-12, atol=1e-12)
    expected = np.stack([np.minimum(lo, value), np.maximum(hi, value)], -1)
    np.testing.assert_allclose(out["ci"].numpy(), expected, rtol=1e-12, atol=1e-12)
    # reference = the point itself is the plain method
    same = bootstrap_summary(
        torch.from_numpy(point), torch.from_numpy(reps), 0.9, method, reference=torch.from_numpy(point)
    )
    plain = bootstrap_summary(torch.from_numpy(point), torch.from_numpy(reps), 0.9, method)
    for key in ("value", "ci", "bias"):
        torch.testing.assert_close(same[key], plain[key])


def test_nan_quantile_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(31, 5, 2))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 0, 0] = np.nan  # a slice with no finite value
    x[:, 1, 1] = np.nan
    x[4, 1, 1] = 2.5  # a single finite value
    qs = [0.0, 0.025, 0.5, 0.975, 1.0]
    got, count = nan_quantile(torch.from_numpy(x), qs)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanquantile(x, qs, axis=0)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_array_equal(count.numpy(), (~np.isnan(x)).sum(0))


@pytest.mark.parametrize("method", ["percentile", "basic", "bc", "smoothed"])
def test_value_always_inside_its_finite_interval(method: str) -> None:
    rng = np.random.default_rng(1)
    nan = float("nan")
    cases = [
        (np.zeros(3), np.full((20, 3), 5.0)),  # degenerate replicates far from the point
        (np.ones(2), np.array([[0.0, nan], [0.0, nan], [100.0, nan]])),  # extreme skew; an all-NaN slice
        (np.array([1.0]), np.array([[np.inf], [2.0], [3.0], [-np.inf]])),  # inf replicates are undefined
        (np.array([nan, 0.5]), rng.normal(size=(30, 2))),  # a NaN estimate
    ]
    for _ in range(200):  # random shifted / skewed / partly undefined replicate sets
        b, s = int(rng.integers(1, 40)), int(rng.integers(1, 6))
        reps = rng.normal(size=(b, s)) * rng.exponential() + rng.normal() * 3
        reps = np.where(rng.random((b, s)) < 0.3, rng.exponential(10.0, size=(b, s)), reps)
        reps[rng.random((b, s)) < 0.2] = nan
        cases.append((rng.normal(size=s), reps))
    for point, reps in cases:
        for bounds in (None, (0.0, 4.0)):
            ref = torch.from_numpy(point + 0.5) if method == "smoothed" else None
            t_point, t_reps = torch.from_numpy(point), torch.from_numpy(reps)
            out = bootstrap_summary(t_point, t_reps, 0.95, method, bounds=bounds, reference=ref)
            v, lo, hi = out["value"], out["ci"][..., 0], out["ci"][..., 1]
            finite = torch.isfinite(lo) & torch.isfinite(hi)
            assert bool(((lo[finite] <= v[finite]) & (v[finite] <= hi[finite])).all()), (point, reps, method)
            if bounds is not None:
                assert bool(((v[finite] >= 0) & (v[finite] <= 4) & (lo[finite] >= 0) & (hi[finite] <= 4)).all())
            # fewer than 2 finite replicates or a NaN estimate -> NaN interval, value = estimate
            n_ok = np.isfinite(reps).sum(0)
            undefined = torch.from_numpy((n_ok < 2) | np.isnan(point))
            assert bool(torch.isnan(out["ci"][undefined]).all())
            if bounds is None:
                torch.testing.assert_close(v[undefined], torch.from_numpy(point)[undefined], equal_nan=True)


def test_summary_bad_input() -> None:
    with pytest.raises(ValueError, match="method"):
        bootstrap_summary(torch.zeros(2), torch.zeros(5, 2), 0.95, "bca")  # not offered (needs a jackknife)
    with pytest.raises(ValueError, match="ci"):
        bootstrap_summary(torch.zeros(2), torch.zeros(5, 2), 1.0, "basic")
    with pytest.raises(ValueError, match="replicates"):
        bootstrap_summary(torch.zeros(2), torch.zeros(5, 3), 0.95, "basic")
    with pytest.raises(ValueError, match="reference"):
        bootstrap_summary(torch.zeros(2), torch.zeros(5, 2), 0.95, "basic", reference=torch.zeros(3))
    with pytest.raises(ValueError, match="reference"):
        bootstrap_summary(torch.zeros(2), torch.zeros(5, 2), 0.95, "smoothed")


def test_smoothed_method_is_bc_with_reference() -> None:
    rng = np.random.default_rng(8)
    point, ref, reps = torch.from_numpy(rng.normal(size=3)), torch.from_numpy(rng.normal(size=3)), None
    reps = torch.from_numpy(rng.normal(size=(50, 3)))
    a = bootstrap_summary(point, reps, 0.95, "smoothed", reference=ref)
    b = bootstrap_summary(point, reps, 0.95, "bc", reference=ref)
    for key in ("value", "ci", "bias", "raw"):
        torch.testing.assert_close(a[key], b[key])


# ---------------------------------------------------------------------------------------------------------------------
# the RD functional with the smoothed intervals


def _symmetric_counts(num_classes: int, errors: list[float], trials: int) -> torch.Tensor:
    mats = []
    for e in errors:
        cm = torch.full((num_classes, num_classes), e * trials / (num_classes - 1), dtype=torch.float64)
        cm.fill_diagonal_(trials * (1 - e))
        mats.append(cm.round().long())
    return torch.stack(mats)


def test_rd_smoothed_intervals_contain_their_values_and_few_trials_warn() -> None:
    import warnings

    from rdmetrics.functional import rate_distortion_signature
    from rdmetrics.functional.bootstrap import MIN_TRIALS_PER_CLASS

    cms = _symmetric_counts(4, [0.1, 0.3, 0.5, 0.7], 2 * MIN_TRIALS_PER_CLASS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = rate_distortion_signature(cms, n_bootstrap=30, ci_method="smoothed", correction="miller_madow")
    assert not [w for w in caught if "unreliable below" in str(w.message)]
    for key in ("beta", "auc", "kappa", "rate"):
        lo, hi = out[f"{key}_ci"].unbind(-1)
        assert bool(((lo <= out[key]) & (out[key] <= hi)).all()), key
        corrected = out[f"{key}_raw"] - out[f"{key}_bias"]  # bias-corrected value (a rate is clipped to [0, log2 C])
        torch.testing.assert_close(out[key], corrected.clamp(0.0, 2.0) if key == "rate" else corrected)
    few = _symmetric_counts(4, [0.1, 0.3, 0.5, 0.7], MIN_TRIALS_PER_CLASS // 4)
    with pytest.warns(UserWarning, match=f"unreliable below {MIN_TRIALS_PER_CLASS} trials per class"):
        rate_distortion_signature(few, n_bootstrap=5, ci_method="smoothed")
