"""Directional-confusion asymmetry: the functional against a numpy loop re-implementation (tests/cases/asymmetry.py,
binomial null via scipy.stats.binom), closed cases, De Moivre's closed form and Monte-Carlo checks of the exact
null, its calibration on symmetric channels sampled at 160 trials, bootstrap intervals and input errors."""

from __future__ import annotations

import math
import os
from math import comb
from pathlib import Path

import numpy as np
import pytest
import torch
from cases.asymmetry import ref_asymmetry, ref_batched

from rdmetrics import ConfusionAsymmetry
from rdmetrics.functional import bootstrap_confmat, confusion_asymmetry, simulate_asymmetric_channel

KEYS = ("asymmetry", "top1_error_share", "effective_wrong_answers", "asymmetric_pairs", "asymmetry_null")


def _random_confmat(rng: np.random.Generator, lead: tuple[int, ...], c: int, k: int, n: int = 12) -> np.ndarray:
    """Rows with random (Dirichlet) channels, ``n`` trials per row, some sparse rows."""
    out = np.zeros((*lead, c, k))
    for idx in np.ndindex(*lead):
        for x in range(c):
            alpha = rng.choice([0.2, 1.0, 5.0], size=k)
            alpha[x if x < k else 0] += 3.0
            out[(*idx, x)] = rng.multinomial(n + int(rng.integers(0, 5)), rng.dirichlet(alpha))
    return out


def _assert_matches(out: dict, ref: dict, keys=KEYS, atol: float = 1e-12, rtol: float = 1e-10) -> None:
    for key in keys:
        got = out[key].numpy()
        exp = np.asarray(ref[key], dtype=np.float64)
        np.testing.assert_allclose(got, exp, atol=atol, rtol=rtol, equal_nan=True, err_msg=key)


# ------------------------------------------------------------------------------------------------- vs numpy loops


@pytest.mark.parametrize(("c", "k", "lead"), [(4, 4, ()), (6, 7, (3,)), (3, 4, (2, 2)), (16, 17, (2,))])
@pytest.mark.parametrize("prior", ["uniform", "empirical", "tensor"])
def test_matches_numpy_reference(c: int, k: int, lead: tuple[int, ...], prior: str) -> None:
    rng = np.random.default_rng(c * 100 + k)
    cm = _random_confmat(rng, lead, c, k)
    pr = rng.uniform(0.2, 2.0, size=c) if prior == "tensor" else prior
    out = confusion_asymmetry(torch.from_numpy(cm), torch.from_numpy(pr) if prior == "tensor" else prior)
    ref = ref_batched(cm, pr)
    _assert_matches(out, ref, (*KEYS, "asymmetry_excess", "error_rate"))
    for key in KEYS:
        assert out[key].shape == lead


def test_integer_input_dtypes_agree() -> None:
    rng = np.random.default_rng(1)
    cm = _random_confmat(rng, (2,), 5, 5)
    a = confusion_asymmetry(torch.from_numpy(cm).long())
    b = confusion_asymmetry(torch.from_numpy(cm).float())
    _assert_matches(a, {k: v.numpy() for k, v in b.items()})


# ---------------------------------------------------------------------------------------------------- closed cases


def test_symmetric_matrix_is_zero() -> None:
    rng = np.random.default_rng(2)
    s = rng.integers(0, 6, size=(6, 6))
    s = s + s.T + np.diag(rng.integers(5, 20, size=6))  # symmetric counts, equal row totals not needed...
    s = s + np.diag(40 - s.sum(1))  # ...but make row totals equal (40) so E = N / (6·40) stays symmetric
    out = confusion_asymmetry(torch.from_numpy(s))
    assert float(out["asymmetry"]) == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(float(out["asymmetric_pairs"]))  # no asymmetry to distribute over pairs
    assert float(out["asymmetry_null"]) > 0  # a symmetric observer would still show sampling asymmetry


@pytest.mark.parametrize("c", [3, 5, 16])
def test_cyclic_one_way_confusions(c: int) -> None:
    cm = 7 * torch.eye(c, dtype=torch.long)
    cm[torch.arange(c), (torch.arange(c) + 1) % c] = 3  # x → x+1 only
    out = confusion_asymmetry(cm)
    assert float(out["asymmetry"]) == pytest.approx(1.0, abs=1e-14)
    assert float(out["top1_error_share"]) == pytest.approx(1.0, abs=1e-14)
    assert float(out["effective_wrong_answers"]) == pytest.approx(1.0, abs=1e-14)
    assert float(out["asymmetric_pairs"]) == pytest.approx(c if c > 2 else 1, rel=1e-12)  # c equal pairs
    # every pair has m = 3, π = ½: E|Bin(3, ½) − 3/2| = 3/4, so null = Σ 2w·3/4 / Σ 3·w = 1/2
    assert float(out["asymmetry_null"]) == pytest.approx(0.5, rel=1e-12)


def test_single_collapse_class() -> None:
    c, sink = 6, 2
    cm = torch.zeros(c, c, dtype=torch.long)
    for x in range(c):
        cm[x, x] = 6
        if x != sink:
            cm[x, sink] = 4  # every error goes to the sink class
    out = confusion_asymmetry(cm)
    assert float(out["asymmetry"]) == pytest.approx(1.0, abs=1e-14)
    assert float(out["top1_error_share"]) == pytest.approx(1.0, abs=1e-14)
    assert float(out["effective_wrong_answers"]) == pytest.approx(1.0, abs=1e-14)
    assert float(out["asymmetric_pairs"]) == pytest.approx(c - 1, rel=1e-12)
    # the sink's row has only its diagonal, so its row total is 6 and the others' 10: unequal weights w_x
    n = np.array([10.0 if x != sink else 6.0 for x in range(c)])
    w = (1 / c) / n
    num = den = 0.0
    for x in range(c):
        if x == sink:
            continue
        m, pi = 4, w[sink] / (w[x] + w[sink])
        num += (w[x] + w[sink]) * sum(comb(m, k) * pi**k * (1 - pi) ** (m - k) * abs(k - m * pi) for k in range(m + 1))
        den += m * 2 * w[x] * w[sink] / (w[x] + w[sink])
    assert float(out["asymmetry_null"]) == pytest.approx(num / den, rel=1e-12)


def test_uniform_errors() -> None:
    c = 5
    cm = 8 * torch.eye(c) + 2 * (1 - torch.eye(c))  # every wrong answer equally often
    out = confusion_asymmetry(cm.long())
    assert float(out["asymmetry"]) == 0.0
    assert float(out["top1_error_share"]) == pytest.approx(1 / (c - 1), rel=1e-12)
    assert float(out["effective_wrong_answers"]) == pytest.approx(c - 1, rel=1e-12)
    assert float(out["error_rate"]) == pytest.approx(8 / 16, rel=1e-12)


def test_no_errors_gives_nan_and_abstain_is_not_a_confusion() -> None:
    cm = torch.tensor([[[5, 0, 0, 1], [0, 6, 0, 0], [0, 0, 6, 0]], [[4, 2, 0, 0], [0, 6, 0, 0], [0, 0, 6, 0]]])
    out = confusion_asymmetry(cm)  # K = C + 1: last column = abstain
    assert all(math.isnan(float(out[k][0])) for k in (*KEYS, "asymmetry_excess"))
    assert float(out["error_rate"][0]) == 0.0
    assert float(out["asymmetry"][1]) == 1.0
    with pytest.raises(ValueError, match="columns"):
        confusion_asymmetry(cm, abstain=False)


def test_prior_weighting_changes_the_joint() -> None:
    # class 0: 20 trials, 4 → class 1; class 1: 5 trials, 1 → class 0. Counts look asymmetric (4 vs 1) but per-trial
    # rates are equal (0.2), so under the uniform prior the error joint is symmetric.
    cm = torch.tensor([[16, 4], [1, 4]])
    assert float(confusion_asymmetry(cm)["asymmetry"]) == pytest.approx(0.0, abs=1e-15)
    emp = confusion_asymmetry(cm, "empirical")
    assert float(emp["asymmetry"]) == pytest.approx(3 / 5, rel=1e-12)  # joint ∝ counts: |4 − 1| / 5
    # empirical prior: w_x = 1/N for every class, so π = ½ (a symmetric joint means symmetric counts), m = 5:
    # null = (2/N) E|Bin(5, ½) − 5/2| / (5/N) = 2 · (30/32) / 5
    assert float(emp["asymmetry_null"]) == pytest.approx(2 * (30 / 32) / 5, rel=1e-12)
    # uniform prior: π = (n_0/p_0)/(n_0/p_0 + n_1/p_1) = 20/25 = 0.8
    k = np.arange(6)
    pmf = np.array([comb(5, int(i)) * 0.8**i * 0.2 ** (5 - i) for i in k])
    w0, w1 = 0.5 / 20, 0.5 / 5
    expect = (w0 + w1) * float((pmf * np.abs(k - 4)).sum()) / (5 * 2 * w0 * w1 / (w0 + w1))
    assert float(confusion_asymmetry(cm)["asymmetry_null"]) == pytest.approx(expect, rel=1e-12)


# ------------------------------------------------------------------------------------------------------- the null


def _de_moivre_mad(m: int, p: float) -> float:
    """De Moivre's closed form E|K − mp| = 2 ν C(m, ν) p^ν (1−p)^(m−ν+1), ν = ⌊mp⌋ + 1, K ~ Bin(m, p)."""
    v = math.floor(m * p) + 1
    if v > m:
        return 0.0
    return 2 * v * comb(m, v) * p**v * (1 - p) ** (m - v + 1)


def test_null_matches_de_moivre_closed_form_for_large_counts() -> None:
    # pooled-human sized counts (m up to a few hundred) on 2 classes with unequal row totals
    for n00, n01, n10, n11 in [(300, 140, 90, 420), (50, 250, 3, 7), (1000, 1, 0, 1000)]:
        cm = torch.tensor([[n00, n01], [n10, n11]], dtype=torch.float64)
        out = confusion_asymmetry(cm)
        nx, ny = n00 + n01, n10 + n11
        wx, wy = 0.5 / nx, 0.5 / ny
        m, pi = n01 + n10, wy / (wx + wy)
        expect = (wx + wy) * _de_moivre_mad(m, pi) / (m * 2 * wx * wy / (wx + wy))
        assert float(out["asymmetry_null"]) == pytest.approx(expect, rel=1e-10)


def test_null_monte_carlo() -> None:
    """Simulate the null's own model: pair totals m fixed, N[x,y] ~ Bin(m, π), row totals (design) fixed."""
    rng = np.random.default_rng(7)
    c = 6
    cm = _random_confmat(rng, (), c, c, n=15)
    cm[1] *= 2  # unequal row totals: the null is then the ratio of the null expectations
    out = confusion_asymmetry(torch.from_numpy(cm))
    n = cm.sum(1)
    w = (1 / c) / n
    iu = np.triu_indices(c, 1)
    m = (cm[iu] + cm.T[iu]).astype(int)
    wx, wy = w[iu[0]], w[iu[1]]
    pi = wy / (wx + wy)
    draws = 200_000
    k = rng.binomial(m, pi, size=(draws, m.size))
    num = np.abs(wx * k - wy * (m - k)).sum(1)
    den = (wx * k + wy * (m - k)).sum(1)
    est = num.mean() / den.mean()
    # delta-method standard error of the ratio of means
    cov = np.cov(num, den)
    se = math.sqrt(
        (
            cov[0, 0] / den.mean() ** 2
            - 2 * num.mean() * cov[0, 1] / den.mean() ** 3
            + num.mean() ** 2 * cov[1, 1] / den.mean() ** 4
        )
        / draws
    )
    assert abs(float(out["asymmetry_null"]) - est) < 5 * se + 1e-12
    # balanced design (equal row totals, uniform prior): ε is fixed given m and the null is E[asymmetry] itself
    cm2 = _random_confmat(rng, (), c, c, n=15)
    cm2 = cm2 + np.diag(cm2.sum(1).max() - cm2.sum(1))
    out2 = confusion_asymmetry(torch.from_numpy(cm2))
    m2 = (cm2[iu] + cm2.T[iu]).astype(int)
    k2 = rng.binomial(m2, 0.5, size=(draws, m2.size))
    asym = np.abs(2 * k2 - m2).sum(1) / m2.sum()
    assert abs(float(out2["asymmetry_null"]) - asym.mean()) < 5 * asym.std() / math.sqrt(draws)


def test_symmetric_channels_at_160_trials_match_the_null() -> None:
    """16 classes × 10 trials (the model-vs-human design) from symmetric channels: mean asymmetry ≈ mean null.

    The null splits each pair total m binomially, Bin(m, ½) here (balanced design, uniform prior): the limit of
    many trials per class. With fixed row totals n = 10 the two cells of a pair are independent Bin(n, q), so given
    m the split is exactly hypergeometric, Hyp(2n, n, m), whose variance is smaller by (2n − m)/(2n − 1): the
    binomial null slightly *over*-states the asymmetry of a symmetric observer (conservative for the excess). The
    test therefore checks (i) the sampled asymmetry against that exact hypergeometric expectation (scipy), within
    4 standard errors of the mean over R replicates (false-failure probability ≈ 6e-5; fixed seed), and (ii) that
    the binomial null is above it by less than 0.04 (the size of the finite-n correction at 160 trials; it
    measured 0.01–0.02) — small next to the raw asymmetry of such samples (≈ 0.5–0.7: most pairs see 0–3
    confusions), which is why the null is needed at all.
    """
    from scipy.stats import hypergeom

    g = torch.Generator().manual_seed(11)
    torch.manual_seed(11)
    c, trials, reps = 16, 10, 400
    sym = torch.rand(c, c, generator=g, dtype=torch.float64)
    sym = sym + sym.T
    sym.fill_diagonal_(0)
    iu = np.triu_indices(c, 1)
    for err in (0.2, 0.6):
        joint = sym / sym.sum() * err  # symmetric error joint with total ε = err under the uniform prior (p = 1/c)
        ch = joint * c  # q(y|x) = E[x,y] / p(x)
        ch = ch + torch.diag(1 - ch.sum(1))
        assert bool((ch >= 0).all())
        counts = torch.distributions.Multinomial(trials, probs=ch).sample((reps,))  # [R, C, C]
        out = confusion_asymmetry(counts)
        asym, null = out["asymmetry"].numpy(), out["asymmetry_null"].numpy()
        cn = counts.numpy()
        m = (cn[:, iu[0], iu[1]] + cn[:, iu[1], iu[0]]).astype(int)  # [R, pairs], m ≤ 2n
        table = np.array(  # E|2K − m| for K ~ Hyp(2n, n, m), m = 0..2n
            [
                (hypergeom.pmf(np.arange(mm + 1), 2 * trials, trials, mm) * np.abs(2 * np.arange(mm + 1) - mm)).sum()
                for mm in range(2 * trials + 1)
            ]
        )
        hyp = table[m].sum(1) / m.sum(1)
        diff = asym - hyp
        assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(reps)
        gap = float((null - hyp).mean())
        assert 0.0 < gap < 0.04
        assert abs(float((asym - null).mean())) < 0.04 + 4 * (asym - null).std() / math.sqrt(reps)
        assert 0.3 < float(asym.mean()) < 0.9
        # a one-way version of the same channel: all the pair's mass on x < y only
        one_way = torch.triu(joint, 1) * 2 * c
        one_way = one_way + torch.diag(1 - one_way.sum(1))
        if err < 0.5:
            assert bool((one_way >= 0).all())
            counts = torch.distributions.Multinomial(trials, probs=one_way).sample((50,))
            res = confusion_asymmetry(counts)
            assert float(res["asymmetry"].nanmean()) == pytest.approx(1.0, abs=1e-12)  # every confusion one-way
            # ...but with ~32 errors over 120 pairs most pairs have m = 1, whose null is 1 as well: the excess a
            # fully one-way observer can show at 160 trials is small (≈ 0.1), though clearly positive
            ex = res["asymmetry_excess"].numpy()
            assert ex.mean() > 0.05 and ex.mean() > 6 * ex.std() / math.sqrt(ex.size)


# ---------------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_intervals_match_reference_replicates() -> None:
    rng = np.random.default_rng(5)
    cm = torch.from_numpy(_random_confmat(rng, (2,), 4, 5, n=20))
    out = confusion_asymmetry(cm, n_bootstrap=60, seed=3, ci=0.9)
    boot = bootstrap_confmat(cm, 60, seed=3).numpy()
    reps = ref_batched(boot)
    point = ref_batched(cm.numpy())
    import rdmetrics.functional as F

    for key in ("asymmetry", "top1_error_share", "effective_wrong_answers", "asymmetric_pairs", "asymmetry_excess"):
        r = torch.from_numpy(reps[key])
        p = torch.from_numpy(np.asarray(point[key]))
        if hasattr(F, "bootstrap_summary"):
            exp = F.bootstrap_summary(p, r, 0.9, "basic")
            exp_ci, exp_bias = exp["ci"], exp["bias"]
        else:
            q = torch.nanquantile(r, torch.tensor([0.05, 0.95], dtype=torch.float64), dim=0).movedim(0, -1)
            exp_ci = torch.stack([2 * p - q[..., 1], 2 * p - q[..., 0]], -1)
            exp_bias = r.nanmean(0) - p
        torch.testing.assert_close(out[f"{key}_ci"], exp_ci, atol=1e-10, rtol=1e-8, equal_nan=True)
        torch.testing.assert_close(out[f"{key}_bias"], exp_bias, atol=1e-10, rtol=1e-8, equal_nan=True)
        assert out[f"{key}_ci"].shape == (2, 2)


# ------------------------------------------------------------------------------------------------------- errors


def test_errors() -> None:
    ok = torch.tensor([[3, 1], [1, 3]])
    with pytest.raises(ValueError, match="shape"):
        confusion_asymmetry(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="C \\+ 1"):
        confusion_asymmetry(torch.ones(3, 5))
    with pytest.raises(ValueError, match="negative"):
        confusion_asymmetry(torch.tensor([[3, -1], [1, 3]]))
    with pytest.raises(ValueError, match=r"NaN|finite|inf"):
        confusion_asymmetry(torch.tensor([[3.0, math.nan], [1.0, 3.0]]))
    with pytest.raises(ValueError, match="integer counts"):
        confusion_asymmetry(torch.tensor([[0.7, 0.3], [0.1, 0.9]]))
    probs = confusion_asymmetry(torch.tensor([[0.7, 0.3], [0.1, 0.9]]), null=False)
    assert float(probs["asymmetry"]) == pytest.approx(0.2 / 0.4)
    with pytest.raises(ValueError, match="prior"):
        confusion_asymmetry(ok, "flat")
    with pytest.raises(ValueError, match="prior"):
        confusion_asymmetry(ok, torch.ones(3))
    with pytest.raises(ValueError, match="n_bootstrap"):
        confusion_asymmetry(ok, n_bootstrap=-1)
    with pytest.raises(ValueError, match="ci"):
        confusion_asymmetry(ok, n_bootstrap=5, ci=1.5)
    empty_row = torch.tensor([[3, 1, 0], [0, 0, 0], [1, 0, 3]])
    with pytest.raises(ValueError, match="row \\(true class\\) 1"):
        confusion_asymmetry(empty_row)
    dropped = confusion_asymmetry(empty_row, empty_rows="drop")
    ref = ref_asymmetry(empty_row.numpy())
    assert float(dropped["asymmetry"]) == pytest.approx(ref["asymmetry"], rel=1e-12)


def test_metric_single_condition_and_errors() -> None:
    metric = ConfusionAsymmetry(num_classes=4)
    g = torch.Generator().manual_seed(0)
    target = torch.arange(4).repeat(30)
    preds = torch.where(torch.rand(120, generator=g) < 0.4, torch.randint(0, 4, (120,), generator=g), target)
    metric.update(preds[:50], target[:50])
    metric.update(preds[50:], target[50:])
    cm = np.zeros((4, 4))
    for p, t in zip(preds.tolist(), target.tolist()):
        cm[t, p] += 1
    _assert_matches(metric.compute(), ref_asymmetry(cm))
    with pytest.raises(ValueError, match="condition"):
        metric.update(preds, target, condition=1)
    with pytest.raises(ValueError, match="empty state"):
        ConfusionAsymmetry(num_classes=4).compute()
    with pytest.raises(ValueError, match="num_classes"):
        ConfusionAsymmetry(num_classes=1)
    with pytest.raises(ValueError, match="prior"):
        ConfusionAsymmetry(num_classes=3, prior=torch.ones(4))
    with pytest.raises(ValueError, match="row \\(true class\\)"):
        m = ConfusionAsymmetry(num_classes=3)
        m.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
        m.compute()


# ------------------------------------------------------------------------------- simulation of the follow-up's claim


def _np_mi_bits(q: np.ndarray) -> float:
    """I(X;Y) in bits of a row-stochastic channel under the uniform prior (numpy, float64)."""
    p = np.full(q.shape[0], 1.0 / q.shape[0])
    py = p @ q
    mask = q > 0
    return float((p[:, None] * q * np.log2(np.where(mask, q, 1.0) / np.where(py > 0, py, 1.0)[None, :]))[mask].sum())


def _np_frontier(kind: str, strength: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Rates (numpy) on D = 0.1 … 0.85 and the quadratic frontier's β = −R'(0.5) and raw curvature R''."""
    acc = np.linspace(0.9, 0.15, 8)
    q = simulate_asymmetric_channel(16, torch.from_numpy(acc), kind, strength=strength).numpy()
    rate = np.array([_np_mi_bits(m) for m in q])
    d = 1 - acc
    c2, c1, _ = np.polyfit(d, rate, 2)
    return d, rate, -(2 * c2 * 0.5 + c1), 2 * c2


def test_simulated_channels() -> None:
    acc = torch.tensor([0.8, 0.4])
    for kind in ("symmetric", "broad", "sparse"):
        q = simulate_asymmetric_channel(16, acc, kind, strength=0.7)
        assert q.shape == (2, 16, 16)
        torch.testing.assert_close(q.sum(-1), torch.ones(2, 16, dtype=torch.float64))
        torch.testing.assert_close(q.diagonal(dim1=-2, dim2=-1), acc[:, None].expand(2, 16).double())
    sym = confusion_asymmetry(simulate_asymmetric_channel(16, 0.5, "symmetric"), null=False)
    broad = confusion_asymmetry(simulate_asymmetric_channel(16, 0.5, "broad", strength=0.5), null=False)
    sparse = confusion_asymmetry(simulate_asymmetric_channel(16, 0.5, "sparse", strength=0.5), null=False)
    assert float(sym["asymmetry"]) == pytest.approx(0.0, abs=1e-15)
    assert float(sym["effective_wrong_answers"]) == pytest.approx(15.0)
    # matched asymmetry, opposite structure: broad spreads it over many pairs, sparse over a few
    assert 0.4 < float(broad["asymmetry"]) < 0.5 and 0.4 < float(sparse["asymmetry"]) < 0.5
    assert float(broad["asymmetric_pairs"]) > 5 * float(sparse["asymmetric_pairs"])
    assert float(broad["top1_error_share"]) < 0.15 < 0.5 < float(sparse["top1_error_share"])
    # broad tilt: class 0 sends (1 ± s) weights to 7 forward / 7 backward classes and 1 to the opposite one
    e = 0.5 / 16 * np.array([1.5] * 7 + [1.0] + [0.5] * 7) / 15
    assert float(broad["top1_error_share"]) == pytest.approx(16 * e.max() / 0.5, rel=1e-12)
    with pytest.raises(ValueError, match="kind"):
        simulate_asymmetric_channel(16, 0.5, "collapse")
    with pytest.raises(ValueError, match="strength"):
        simulate_asymmetric_channel(16, 0.5, "broad", strength=1.0)
    with pytest.raises(ValueError, match="accuracy"):
        simulate_asymmetric_channel(16, 1.5)
    with pytest.raises(ValueError, match="num_attractors"):
        simulate_asymmetric_channel(4, 0.5, "sparse", num_attractors=4)


@pytest.mark.parametrize("strength", [0.5, 0.9])
def test_asymmetry_shifts_the_rd_frontier(strength: float) -> None:
    """Population channels at matched accuracy (D = 0.1 … 0.85), rates by numpy, quadratic frontier read at D* = 0.5.

    The symmetric channel sits on the Hamming bound (closed form), the minimum rate at every D, so asymmetry of
    either kind can only raise the rate. Broad-weak tilt keeps every column sum equal, so H(Y) = log2 C and
    R = log2 C − h2(D) − D·H(w) with H(w) the entropy of one row's error distribution: the shift is exactly linear
    in D (closed form checked below), β drops by log2(C−1) − H(w) and R'' is unchanged. Sparse-strong collapse
    raises the rate more, lowers β and also lowers R'' (a flatter, less convex frontier). Measured result: both
    kinds move R and β the same way; they differ in curvature (unchanged vs lower), not in the sign of the shift.
    """
    d, r_sym, b_sym, c_sym = _np_frontier("symmetric", 0.0)

    def h2(x: np.ndarray) -> np.ndarray:
        return -(x * np.log2(x) + (1 - x) * np.log2(1 - x))

    np.testing.assert_allclose(r_sym, 4 - h2(d) - d * np.log2(15), atol=1e-12)  # Hamming bound
    _, r_broad, b_broad, c_broad = _np_frontier("broad", strength)
    w = np.array([1 + strength] * 7 + [1.0] + [1 - strength] * 7) / 15
    h_w = float(-(w * np.log2(w)).sum())
    np.testing.assert_allclose(r_broad, 4 - h2(d) - d * h_w, atol=1e-12)
    assert b_broad == pytest.approx(b_sym - (np.log2(15) - h_w), rel=1e-9)
    assert c_broad == pytest.approx(c_sym, rel=1e-9)
    _, r_sparse, b_sparse, c_sparse = _np_frontier("sparse", strength)
    assert (r_broad > r_sym + 0.01).all() and (r_sparse > r_broad + 0.01).all()
    assert b_sparse < b_broad - 0.1 < b_sym - 0.2
    assert c_sparse < c_sym - 1.0  # R'' 6.56 → 5.27 (strength 0.5) / 2.72 (0.9)
    # the library's frontier fit on the same points gives the same β
    from rdmetrics.functional import rd_signatures

    lib = rd_signatures(torch.from_numpy(d), torch.from_numpy(r_sparse), at=0.5)
    assert float(lib["beta"]) == pytest.approx(b_sparse, rel=1e-9)


# ------------------------------------------------------------------------------------------------- human-likeness


def test_human_likeness_matches_numpy() -> None:
    from rdmetrics.datasets import human_likeness

    rng = np.random.default_rng(3)
    keys = ["beta", "kappa", "auc", "asymmetry", "top1_error_share"]
    subjects = [f"s{i}" for i in range(5)]
    sigs = {o: {k: float(rng.normal(size=1)[0] * (i + 1)) for i, k in enumerate(keys)} for o in [*subjects, "m1", "m2"]}
    sigs["m2"]["kappa"] = math.nan  # a missing signature is left out of the distance
    out = human_likeness(sigs, subjects)
    mat = np.array([[sigs[s][k] for k in keys] for s in subjects])
    mean, sd = mat.mean(0), mat.std(0, ddof=1)
    for m in ("m1", "m2"):
        z = (np.array([sigs[m][k] for k in keys]) - mean) / sd
        for k, zk in zip(keys, z):
            assert out[m]["z"][k] == pytest.approx(zk, rel=1e-12, nan_ok=True)
        finite = z[np.isfinite(z)]
        assert out[m]["distance"] == pytest.approx(np.sqrt((finite**2).mean()), rel=1e-12)
        assert out[m]["n"] == finite.size
    for i, s in enumerate(subjects):  # leave-one-out
        rest = np.delete(mat, i, axis=0)
        z = (mat[i] - rest.mean(0)) / rest.std(0, ddof=1)
        assert out[s]["distance"] == pytest.approx(np.sqrt((z**2).mean()), rel=1e-12)
        assert out[s]["leave_one_out"] is True
    np.testing.assert_allclose([out["_subjects"]["sd"][k] for k in keys], sd, rtol=1e-12)
    # zero subject spread: no z for that signature
    flat = {s: {"beta": 1.0, "auc": float(i)} for i, s in enumerate(subjects)} | {"m": {"beta": 2.0, "auc": 9.0}}
    res = human_likeness(flat, subjects, keys=["beta", "auc"])
    assert math.isnan(res["m"]["z"]["beta"]) and res["m"]["n"] == 1
    with pytest.raises(ValueError, match="at least 2"):
        human_likeness(sigs, ["s0"])
    with pytest.raises(ValueError, match="no signatures"):
        human_likeness(sigs, ["s0", "nobody"])


def test_error_weighted_asymmetry_and_experiment_signatures() -> None:
    from types import SimpleNamespace

    from rdmetrics.datasets.human_likeness import error_weighted_asymmetry, experiment_signatures
    from rdmetrics.functional import rate_distortion_signature

    rng = np.random.default_rng(9)
    levels = 4
    conf = {}
    for o, tilt in [("s1", 0.1), ("s2", 0.2), ("s3", 0.15), ("m", 0.9)]:
        cms = []
        for lev in range(levels):
            acc = 0.9 - 0.2 * lev
            q = simulate_asymmetric_channel(6, acc, "sparse", strength=tilt).numpy()
            cms.append(np.stack([rng.multinomial(20, row) for row in q]))
        conf[o] = torch.from_numpy(np.stack(cms))
    ew = error_weighted_asymmetry(conf["m"])
    refs = [ref_asymmetry(c) for c in conf["m"].numpy()]
    w = np.array([r["error_rate"] for r in refs])
    assert ew["asymmetry"] == pytest.approx(float((w * [r["asymmetry"] for r in refs]).sum() / w.sum()), rel=1e-12)
    exp = SimpleNamespace(
        name="toy", models=("m",), subjects=("s1", "s2", "s3"), conditions=tuple("abcd"), confmat=conf.__getitem__
    )
    sig = experiment_signatures(exp, method="quadratic")["m"]
    dists = {o: 1 - (c.numpy().diagonal(axis1=1, axis2=2).sum(1) / c.numpy().sum((1, 2))) for o, c in conf.items()}
    lo, hi = max(d.min() for d in dists.values()), min(d.max() for d in dists.values())
    assert sig["m"]["_at"] == pytest.approx((lo + hi) / 2, rel=1e-12)
    for o in ("s1", "m"):
        rd = rate_distortion_signature(conf[o], at=(lo + hi) / 2, method="quadratic")
        assert sig[o]["beta"] == pytest.approx(float(rd["beta"]), rel=1e-10)
        assert sig[o]["asymmetry"] == pytest.approx(error_weighted_asymmetry(conf[o])["asymmetry"], rel=1e-12)


_MVH = Path(
    os.environ.get("RDMETRICS_MVH_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model-vs-human"
)


@pytest.mark.skipif(not (_MVH / "rotation").is_dir(), reason="model-vs-human raw data not available")
def test_cli_mvh_reports_asymmetry_and_human_likeness(tmp_path, capsys) -> None:
    import json

    from rdmetrics.cli import main
    from rdmetrics.datasets import load_model_vs_human

    observers = ["subject-01", "subject-02", "subject-03", "resnet50"]
    out = tmp_path / "out"
    argv = ["mvh", str(_MVH), "--experiments", "rotation", "--observers", *observers]
    rc = main([*argv, "--n-bootstrap", "0", "--out", str(out), "--no-plots"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "directional-confusion asymmetry" in printed and "human-likeness" in printed
    rep = json.loads((out / "report.json").read_text())
    exp = load_model_vs_human(_MVH, experiments=["rotation"], observers=observers)["rotation"]
    for obs in observers:  # per level, against the numpy loops on the reader's matrices
        ref = ref_batched(exp.confmat(obs).numpy())
        got = rep["asymmetry"]["rotation"][obs]["levels"]
        for key in ("asymmetry", "asymmetry_null", "top1_error_share", "effective_wrong_answers"):
            np.testing.assert_allclose(np.array(got[key], dtype=float), ref[key], rtol=1e-10, equal_nan=True)
    hl = rep["human_likeness"]["experiments"]["rotation"]["models"]["resnet50"]
    from rdmetrics.datasets.human_likeness import SIGNATURES, experiment_signatures

    settings = rep["settings"]
    sig = experiment_signatures(exp, prior=settings["prior"], correction=settings["correction"])["resnet50"]
    subj = np.array([[sig[s][k] for k in SIGNATURES] for s in observers[:3]])
    z = (np.array([sig["resnet50"][k] for k in SIGNATURES]) - subj.mean(0)) / subj.std(0, ddof=1)
    got = np.array([np.nan if hl["z"][k] is None else hl["z"][k] for k in SIGNATURES], dtype=float)
    np.testing.assert_allclose(got, z, rtol=1e-9, equal_nan=True)
    assert hl["distance"] == pytest.approx(float(np.sqrt(np.nanmean(z**2))), rel=1e-9)
    assert "resnet50" in (out / "human_likeness.csv").read_text()
