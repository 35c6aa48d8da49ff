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
