"""mutual_information: plug-in vs scikit-learn / numpy loops, Miller–Madow vs the notes' formula, clipping, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import mutual_info_score

from rdmetrics.functional import mutual_information


def _random_confmat(rng: np.random.Generator, c: int, k: int, n_per_row: int = 30) -> np.ndarray:
    cm = np.zeros((c, k), dtype=np.int64)
    for x in range(c):
        p = rng.dirichlet(np.full(k, 0.5))
        cm[x] = rng.multinomial(n_per_row + x, p)  # unequal row totals: empirical != uniform prior
    return cm


def _expand(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for x in range(cm.shape[0]):
        for y in range(cm.shape[1]):
            xs += [x] * int(cm[x, y])
            ys += [y] * int(cm[x, y])
    return np.asarray(xs), np.asarray(ys)


def _mi_loops(cm: np.ndarray, prior: np.ndarray) -> float:
    """I(X;Y) in bits with p(x) = prior and p(y|x) = row-normalised counts, written with explicit loops."""
    c, k = cm.shape
    chan = [[cm[x, y] / cm[x].sum() for y in range(k)] for x in range(c)]
    py = [sum(prior[x] * chan[x][y] for x in range(c)) for y in range(k)]
    total = 0.0
    for x in range(c):
        for y in range(k):
            if prior[x] > 0 and chan[x][y] > 0:
                total += prior[x] * chan[x][y] * math.log2(chan[x][y] / py[y])
    return total


@pytest.mark.parametrize(("c", "k"), [(2, 2), (5, 5), (7, 8), (16, 17)])
def test_plugin_empirical_prior_matches_sklearn(c: int, k: int) -> None:
    rng = np.random.default_rng(c * 100 + k)
    cm = _random_confmat(rng, c, k)
    xs, ys = _expand(cm)
    expected = mutual_info_score(xs, ys) / math.log(2)
    got = mutual_information(torch.from_numpy(cm), prior="empirical")
    assert got.dtype == torch.float64
    assert float(got) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("c", "k"), [(3, 3), (6, 7), (16, 16)])
def test_plugin_uniform_and_tensor_prior_match_loops(c: int, k: int) -> None:
    rng = np.random.default_rng(7 + c)
    cm = _random_confmat(rng, c, k)
    assert float(mutual_information(torch.from_numpy(cm))) == pytest.approx(_mi_loops(cm, np.full(c, 1 / c)), abs=1e-12)
    w = rng.random(c)
    got = mutual_information(torch.from_numpy(cm), prior=torch.from_numpy(w))
    assert float(got) == pytest.approx(_mi_loops(cm, w / w.sum()), abs=1e-12)
    # natural-log base: the same quantity in nats
    nats = mutual_information(torch.from_numpy(cm), base=math.e)
    assert float(nats) == pytest.approx(_mi_loops(cm, np.full(c, 1 / c)) * math.log(2), abs=1e-12)


def test_miller_madow_matches_notes_formula() -> None:
    # notes §2.6: I_MM = I - (K_xy - K_x - K_y + 1) / (2 N ln 2), K = number of non-empty cells / rows / columns
    rng = np.random.default_rng(3)
    for _ in range(5):
        cm = _random_confmat(rng, 6, 7, n_per_row=40)
        cm[1, :3] = 0  # some empty cells and an empty column
        cm[:, 5] = 0
        k_xy = int((cm > 0).sum())
        k_x = int((cm.sum(1) > 0).sum())
        k_y = int((cm.sum(0) > 0).sum())
        n = int(cm.sum())
        plugin = _mi_loops(cm, cm.sum(1) / n)
        expected = plugin - (k_xy - k_x - k_y + 1) / (2 * n * math.log(2))
        got = mutual_information(torch.from_numpy(cm), prior="empirical", correction="miller_madow")
        assert float(got) == pytest.approx(min(max(expected, 0.0), math.log2(6)), abs=1e-12)


def test_clipped_to_valid_range() -> None:
    # near-diagonal small-N matrix: the MM correction is negative and would push the rate above log2 C
    cm = torch.eye(16, dtype=torch.long) * 10
    cm[0, 0], cm[0, 1] = 9, 1
    raw = 4.0  # plug-in is just below log2 16; K_xy - K_x - K_y + 1 = 17 - 16 - 16 + 1 = -14 -> +14/(2N ln2)
    assert float(mutual_information(cm, correction="miller_madow")) == pytest.approx(math.log2(16))
    assert float(mutual_information(cm)) < raw
    # chance-level channel: MM would be negative -> clipped at 0
    chance = torch.ones(4, 4, dtype=torch.long) * 3
    assert float(mutual_information(chance, correction="miller_madow")) == 0.0


def test_batched_over_leading_dims() -> None:
    rng = np.random.default_rng(11)
    cms = np.stack([np.stack([_random_confmat(rng, 4, 5) for _ in range(3)]) for _ in range(2)])  # [2, 3, 4, 5]
    got = mutual_information(torch.from_numpy(cms), correction="miller_madow")
    assert got.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            single = mutual_information(torch.from_numpy(cms[i, j]), correction="miller_madow")
            assert float(got[i, j]) == pytest.approx(float(single), abs=1e-14)


def test_empty_rows() -> None:
    cm = torch.tensor([[5, 1, 0], [0, 0, 0], [1, 2, 6]])
    with pytest.raises(ValueError, match=r"row \(true class\) 1"):
        mutual_information(cm)
    # drop: uniform prior renormalised over the observed rows == the 2-row matrix
    dropped = mutual_information(cm, empty_rows="drop")
    assert float(dropped) == pytest.approx(_mi_loops(cm[[0, 2]].numpy(), np.array([0.5, 0.5])), abs=1e-12)
    # the empirical prior gives an empty row zero weight
    emp = mutual_information(cm, prior="empirical")
    assert float(emp) == pytest.approx(_mi_loops(cm[[0, 2]].numpy(), np.array([6 / 15, 9 / 15])), abs=1e-12)
    batched = torch.stack([torch.eye(3, dtype=torch.long), cm])
    with pytest.raises(ValueError, match=r"row \(true class\) 1 of batch index \(1,\)"):
        mutual_information(batched)


@pytest.mark.parametrize(
    ("confmat", "kwargs", "match"),
    [
        (torch.tensor([[1.0, float("nan")], [0.0, 1.0]]), {}, "non-finite"),
        (torch.tensor([[1, -1], [0, 1]]), {}, "negative"),
        (torch.zeros(3, 3), {}, "empty"),
        (torch.ones(3), {}, "shape"),
        (torch.ones(3, 3), {"prior": "flat"}, "prior"),
        (torch.ones(3, 3), {"prior": torch.ones(4)}, "prior"),
        (torch.ones(3, 3), {"correction": "nsb"}, "correction"),
        (torch.ones(3, 3), {"base": 1}, "base"),
    ],
)
def test_bad_input(confmat, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        mutual_information(confmat, **kwargs)


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        mutual_information(np.eye(3))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------------------
# bias-reduced estimators, each against its published formula re-implemented here in numpy


def _plugin_nats(cm: np.ndarray, prior: str) -> float:
    """Plug-in MI (nats) with loops; rows without trials are left out of a uniform prior (renormalised)."""
    rows = cm.sum(1)
    if prior == "empirical":
        p = rows / rows.sum()
    else:
        p = np.where(rows > 0, 1.0, 0.0)
        p = p / p.sum()
    chan = np.divide(cm, rows[:, None], out=np.zeros_like(cm, dtype=float), where=rows[:, None] > 0)
    py = p @ chan
    total = 0.0
    for x in range(cm.shape[0]):
        for y in range(cm.shape[1]):
            if p[x] > 0 and chan[x, y] > 0:
                total += p[x] * chan[x, y] * math.log(chan[x, y] / py[y])
    return total


def _jackknife_numpy(cm: np.ndarray, prior: str) -> float:
    """Efron–Stein jackknife over trials: N Î − (N−1)/N Σ_i Î_{−i}, literally removing each trial once."""
    n = int(cm.sum())
    loo = []
    for x in range(cm.shape[0]):
        for y in range(cm.shape[1]):
            for _ in range(int(cm[x, y])):
                c2 = cm.astype(float).copy()
                c2[x, y] -= 1
                loo.append(_plugin_nats(c2, prior))
    return n * _plugin_nats(cm.astype(float), prior) - (n - 1) / n * float(np.sum(loo))


@pytest.mark.parametrize("prior", ["uniform", "empirical"])
def test_jackknife_matches_leave_one_trial_out(prior: str) -> None:
    from rdmetrics.functional.information import _check_confmat, _rate_nats

    rng = np.random.default_rng(11)
    for _ in range(5):
        c, k = int(rng.integers(2, 5)), int(rng.integers(2, 6))
        cm = rng.multinomial(int(rng.integers(2, 7)), rng.dirichlet(np.ones(k)), size=c).astype(float)
        cm[0] = 0
        cm[0, int(rng.integers(k))] = 1  # a class with a single trial: its row vanishes when that trial is left out
        got = float(_rate_nats(_check_confmat(torch.from_numpy(cm)), prior, "jackknife", "raise"))
        assert got == pytest.approx(_jackknife_numpy(cm, prior), abs=1e-10)
    # vectorised over leading dims == one table at a time; clipped result in bits
    batch = torch.from_numpy(rng.integers(0, 6, size=(3, 2, 4, 5)).astype(float) + 1)
    whole = mutual_information(batch, correction="jackknife", prior=prior)
    for idx in np.ndindex(3, 2):
        assert float(whole[idx]) == pytest.approx(
            float(mutual_information(batch[idx], correction="jackknife", prior=prior)), abs=1e-12
        )


def _pt_bayescount_numpy(pr: np.ndarray, nt: int) -> float:
    """Panzeri & Treves (1996) Bayesian count of relevant bins, the published iterative procedure."""
    dim = pr.size
    nz = pr[pr > np.finfo(float).eps]
    r_naive = nz.size
    if r_naive >= dim:
        return float(r_naive)
    r_exp = r_naive - ((1.0 - nz) ** nt).sum()
    delta_prev, delta = float(dim), abs(r_naive - r_exp)
    xtr = 0.0
    while delta < delta_prev and (r_naive + xtr) < dim:
        xtr += 1.0
        gamma = xtr * (1.0 - (nt / (nt + r_naive)) ** (1.0 / nt))
        pb = ((1.0 - gamma) / (nt + r_naive)) * (nz * nt + 1.0)
        r_exp = (1.0 - (1.0 - pb) ** nt).sum()
        r_exp += xtr * (1.0 - (1.0 - gamma / xtr) ** nt)
        delta_prev, delta = delta, abs(r_naive - r_exp)
    out = r_naive + xtr - 1.0
    return out + 1.0 if delta < delta_prev else out


def test_panzeri_treves_matches_published_procedure_and_differs_from_miller_madow() -> None:
    rng = np.random.default_rng(5)
    for c, k, n in [(4, 6, 5), (16, 16, 10), (3, 8, 40), (5, 5, 200)]:
        p = rng.dirichlet(np.full(k, 0.7), size=c)
        cm = np.stack([rng.multinomial(n, row) for row in p]).astype(float)
        rows = cm.sum(1)
        r_rows = sum(_pt_bayescount_numpy(cm[x] / rows[x], int(rows[x])) - 1 for x in range(c) if rows[x] > 0)
        r_all = _pt_bayescount_numpy(cm.sum(0) / cm.sum(), int(cm.sum()))
        bias = (r_rows - (r_all - 1)) / (2 * cm.sum())
        expected = float(np.clip((_plugin_nats(cm, "uniform") - bias) / math.log(2), 0, math.log2(c)))
        got = float(mutual_information(torch.from_numpy(cm), correction="panzeri_treves"))
        assert got == pytest.approx(expected, abs=1e-12)
    # undersampled rows (10 trials over 16 responses): the Bayesian counts exceed the observed ones -> larger
    # bias estimate than Miller–Madow; fully occupied rows: PT == MM exactly
    cm = torch.from_numpy(np.stack([rng.multinomial(10, np.ones(16) / 16) for _ in range(16)]).astype(float))
    plug = mutual_information(cm)
    assert (
        float(mutual_information(cm, correction="panzeri_treves"))
        < float(mutual_information(cm, correction="miller_madow"))
        < float(plug)
    )
    full = torch.full((3, 3), 50.0) + torch.eye(3) * 20
    assert float(mutual_information(full, correction="panzeri_treves")) == float(
        mutual_information(full, correction="miller_madow")
    )


def test_quadratic_extrapolation_matches_strong_formula_on_the_same_split() -> None:
    from rdmetrics.functional.information import _generator, _subsample_tables

    rng = np.random.default_rng(2)
    cm = torch.from_numpy(
        np.stack([rng.multinomial(n, rng.dirichlet(np.ones(5))) for n in (12, 9, 15, 20)]).astype(float)
    )
    # the splitter: disjoint row-stratified subsets that sum to the table, sizes floor/ceil(n_x / parts)
    g = _generator(9)
    halves = _subsample_tables(cm, 2, g)
    assert torch.equal(halves.sum(0), cm)
    assert set(halves.sum(-1).flatten().tolist()) <= {4.0, 5.0, 6.0, 7.0, 8.0, 10.0}
    assert bool(((halves.sum(-1) - cm.sum(-1) / 2).abs() <= 0.5).all())
    # reproduce the estimator: the halves and quarters come from one generator state
    g = _generator(123)
    state = g.get_state()
    halves = _subsample_tables(cm, 2, g)
    g.set_state(state)
    quarters = _subsample_tables(cm, 4, g)
    assert torch.equal(quarters[0] + quarters[1], halves[0])  # quarters nest in the halves
    xs = [1 / float(cm.sum())]
    ys = [_plugin_nats(cm.numpy(), "uniform")]
    for sub in (halves, quarters):
        xs.append(float(np.mean([1 / float(t.sum()) for t in sub])))
        ys.append(float(np.mean([_plugin_nats(t.numpy(), "uniform") for t in sub])))
    coef = np.polyfit(np.asarray(xs), np.asarray(ys), 2)  # I(1/N) = c2/N² + c1/N + I_∞ through the 3 points
    expected = float(np.clip(coef[-1] / math.log(2), 0, 2))
    got = float(mutual_information(cm, correction="quadratic_extrapolation", seed=123))
    assert got == pytest.approx(expected, abs=1e-9)
    assert got == float(mutual_information(cm, correction="quadratic_extrapolation", seed=123))  # seeded


def test_shuffle_subtracts_the_mean_permuted_plugin() -> None:
    from rdmetrics.functional.information import _generator, _permutation_tables

    rng = np.random.default_rng(4)
    cm = torch.from_numpy(np.stack([rng.multinomial(15, rng.dirichlet(np.ones(4))) for _ in range(3)]).astype(float))
    null = _permutation_tables(cm, 50, _generator(7))
    # permutation null: every table keeps the class totals and the response totals
    assert torch.equal(null.sum(-1), cm.sum(-1).expand(50, -1))
    assert torch.equal(null.sum(-2), cm.sum(-2).expand(50, -1))
    expected = _plugin_nats(cm.numpy(), "uniform") - np.mean([_plugin_nats(t.numpy(), "uniform") for t in null])
    got = float(mutual_information(cm, correction="shuffle", seed=7, n_shuffles=50))
    assert got == pytest.approx(max(expected, 0.0) / math.log(2), abs=1e-12)
    # hypergeometric null: the mean count of a cell is n_x n_y / N
    many = _permutation_tables(cm, 4000, _generator(1)).mean(0)
    np.testing.assert_allclose(
        many.numpy(), (cm.sum(1, keepdim=True) * cm.sum(0, keepdim=True) / cm.sum()).numpy(), atol=0.12
    )


@pytest.mark.parametrize(
    "correction", ["miller_madow", "jackknife", "panzeri_treves", "quadratic_extrapolation", "shuffle"]
)
def test_estimators_on_channels_with_known_mi(correction: str) -> None:
    """Binary / 4-ary symmetric channels (MI = log2 M − h(ε) − ε log2(M−1)): with many trials every estimator is
    within 0.02 bits of the truth; with few trials the bias-reduced estimators beat the plug-in on average."""

    def msc_mi(m: int, e: float) -> float:
        return math.log2(m) + (1 - e) * math.log2(1 - e) + e * math.log2(e / (m - 1))

    rng = np.random.default_rng(0)
    m, e = 4, 0.3
    chan = np.full((m, m), e / (m - 1))
    np.fill_diagonal(chan, 1 - e)
    big = torch.from_numpy(np.stack([rng.multinomial(4000, row) for row in chan]).astype(float))
    assert float(mutual_information(big, correction=correction)) == pytest.approx(msc_mi(m, e), abs=0.02)
    small = [torch.from_numpy(np.stack([rng.multinomial(12, row) for row in chan]).astype(float)) for _ in range(40)]
    truth = msc_mi(m, e)
    err_plugin = np.mean([float(mutual_information(t)) - truth for t in small])
    err = np.mean([float(mutual_information(t, correction=correction, seed=i)) - truth for i, t in enumerate(small)])
    assert abs(err) < abs(err_plugin)


# ---------------------------------------------------------------------------------------------------------------------
# every estimator over two (or more) leading batch dims, with per-table priors


def _plugin_weights_nats(cm: np.ndarray, weights: np.ndarray) -> float:
    """Plug-in MI (nats) with loops for prior ∝ ``weights`` renormalised over the observed rows."""
    rows = cm.sum(1)
    p = np.where(rows > 0, weights, 0.0)
    p = p / p.sum()
    chan = np.divide(cm, rows[:, None], out=np.zeros_like(cm, dtype=float), where=rows[:, None] > 0)
    py = p @ chan
    return float(
        sum(
            p[x] * chan[x, y] * math.log(chan[x, y] / py[y])
            for x in range(cm.shape[0])
            for y in range(cm.shape[1])
            if p[x] > 0 and chan[x, y] > 0
        )
    )


def _batch_priors(c: int) -> dict[str, object]:
    w = torch.from_numpy(np.random.default_rng(3).uniform(0.2, 1.0, size=(2, 3, c)))  # a different prior per table
    vector = torch.linspace(1.0, 2.0, c, dtype=torch.float64)
    return {"uniform": "uniform", "empirical": "empirical", "vector": vector, "per_table": w}


def _weights(prior: object, table: np.ndarray, idx: int) -> np.ndarray:
    if prior == "uniform":
        return np.ones(table.shape[0])
    if prior == "empirical":
        return table.sum(1)
    p = torch.broadcast_to(prior, (2, 3, table.shape[0])).reshape(6, -1)
    return p[idx].numpy()


@pytest.mark.parametrize("correction", ["none", "miller_madow", "jackknife", "panzeri_treves"])
@pytest.mark.parametrize("prior_name", ["uniform", "empirical", "vector", "per_table"])
def test_deterministic_estimators_over_two_batch_dims_equal_per_table_calls(correction: str, prior_name: str) -> None:
    rng = np.random.default_rng(21)
    cms = torch.from_numpy(rng.integers(0, 5, size=(2, 3, 4, 5)).astype(float) + (rng.random((2, 3, 4, 5)) < 0.3))
    cms[0, 1, 2] = 0.0
    cms[0, 1, 2, 3] = 1.0  # a class with a single trial (the jackknife's row-vanishing branch)
    prior = _batch_priors(4)[prior_name]
    got = mutual_information(cms, prior=prior, correction=correction)
    assert got.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        p = prior[i, j] if prior_name == "per_table" else prior
        single = mutual_information(cms[i, j], prior=p, correction=correction)
        assert float(got[i, j]) == pytest.approx(float(single), abs=1e-12)
    # and the bug report's case: 2 batch dims, 16 classes, through rate_distortion_points
    from rdmetrics.functional import rate_distortion_points

    big = torch.randint(0, 5, (5, 4, 16, 16), generator=torch.Generator().manual_seed(0)) + 1
    _, rate = rate_distortion_points(big, correction=correction)
    assert rate.shape == (5, 4)
    assert torch.allclose(rate.reshape(-1), rate_distortion_points(big.reshape(20, 16, 16), correction=correction)[1])
    assert float(rate[3, 2]) == pytest.approx(float(rate_distortion_points(big[3, 2], correction=correction)[1]))


@pytest.mark.parametrize("prior_name", ["uniform", "empirical", "vector", "per_table"])
def test_seeded_estimators_over_two_batch_dims_follow_their_definition_per_table(prior_name: str) -> None:
    """The seeded estimators draw the whole (C-order flattened) batch from one generator: every table's value is its
    own plug-in minus the mean plug-in of *its* permuted tables (shuffle), or the Strong et al. extrapolation through
    *its* halves and quarters, each with *its* prior — recomputed here in numpy from the same draws."""
    from rdmetrics.functional.information import _generator, _permutation_tables, _subsample_tables

    rng = np.random.default_rng(8)
    c, k, seed, n_shuffles = 4, 5, 5, 30
    cms = torch.from_numpy(
        np.stack([np.stack([rng.multinomial(n, rng.dirichlet(np.ones(k))) for n in (9, 12, 8, 14)]) for _ in range(6)])
        .reshape(2, 3, c, k)
        .astype(float)
    )
    prior = _batch_priors(c)[prior_name]
    flat = cms.reshape(6, c, k)
    flat_prior = prior.reshape(6, c) if prior_name == "per_table" else prior
    cap = math.log2(c)
    # shuffle
    got = mutual_information(cms, prior=prior, correction="shuffle", seed=seed, n_shuffles=n_shuffles)
    assert got.shape == (2, 3) and bool(torch.isfinite(got).all())
    assert torch.equal(
        got.reshape(6),
        mutual_information(flat, prior=flat_prior, correction="shuffle", seed=seed, n_shuffles=n_shuffles),
    )
    null = _permutation_tables(flat, n_shuffles, _generator(seed)).numpy()  # [S, 6, C, K]
    for t in range(6):
        table = flat[t].numpy()
        w_null = [_weights(prior, null[s, t], t) for s in range(n_shuffles)]
        mean_null = np.mean([_plugin_weights_nats(null[s, t], w_null[s]) for s in range(n_shuffles)])
        expected = (_plugin_weights_nats(table, _weights(prior, table, t)) - mean_null) / math.log(2)
        assert float(got.reshape(6)[t]) == pytest.approx(float(np.clip(expected, 0, cap)), abs=1e-12)
    # quadratic extrapolation (every row has >= 4 trials, so it is never the plug-in fallback)
    got = mutual_information(cms, prior=prior, correction="quadratic_extrapolation", seed=seed)
    assert got.shape == (2, 3) and bool(torch.isfinite(got).all())
    g = _generator(seed)
    state = g.get_state()
    halves = _subsample_tables(flat, 2, g).numpy()
    g.set_state(state)
    quarters = _subsample_tables(flat, 4, g).numpy()
    for t in range(6):
        table = flat[t].numpy()
        xs, ys = [1 / table.sum()], [_plugin_weights_nats(table, _weights(prior, table, t))]
        for sub in (halves[:, t], quarters[:, t]):
            xs.append(float(np.mean([1 / s.sum() for s in sub])))
            ys.append(float(np.mean([_plugin_weights_nats(s, _weights(prior, s, t)) for s in sub])))
        expected = np.polyfit(np.asarray(xs), np.asarray(ys), 2)[-1] / math.log(2)
        assert float(got.reshape(6)[t]) == pytest.approx(float(np.clip(expected, 0, cap)), abs=1e-9)
