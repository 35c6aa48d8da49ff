"""PredictionAgreement / ErrorConsistency: scikit-learn, closed forms, model-vs-human formula and real CSVs."""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import cohen_kappa_score

from rdmetrics import ErrorConsistency, PredictionAgreement
from rdmetrics.functional import error_consistency, prediction_agreement

MVH_DIR = Path(
    os.environ.get(
        "RDMETRICS_MVH_DIR", Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model-vs-human"
    )
)


@pytest.mark.parametrize(("num_classes", "skew"), [(2, 0.0), (7, 0.0), (7, 2.0), (30, 1.0)])
def test_kappa_matches_sklearn(num_classes: int, skew: float) -> None:
    g = torch.Generator().manual_seed(num_classes)
    n = 500
    probs = torch.softmax(skew * torch.randn(num_classes, generator=g), 0)
    a = torch.multinomial(probs, n, replacement=True, generator=g)
    b = torch.where(torch.rand(n, generator=g) < 0.5, a, torch.multinomial(probs, n, replacement=True, generator=g))
    out = prediction_agreement(a, b, num_classes)
    assert float(out["cohen_kappa"]) == pytest.approx(cohen_kappa_score(a.numpy(), b.numpy()), abs=1e-12)
    assert float(out["agreement"]) == pytest.approx(float((a == b).double().mean()), abs=1e-15)
    metric = PredictionAgreement(num_classes)
    for i in range(0, n, 64):
        metric.update(a[i : i + 64], b[i : i + 64])
    torch.testing.assert_close(metric.compute(), out, rtol=0, atol=1e-14)


def test_unrelated_models_agree_at_chance() -> None:
    """Independent uniform predictions: agreement -> 1/C and kappa -> 0 (closed form)."""
    g = torch.Generator().manual_seed(0)
    n, c = 40_000, 8
    out = prediction_agreement(torch.randint(0, c, (n,), generator=g), torch.randint(0, c, (n,), generator=g), c)
    assert abs(float(out["agreement"]) - 1 / c) < 5 * (1 / c * (1 - 1 / c) / n) ** 0.5
    assert abs(float(out["cohen_kappa"])) < 0.01


def test_agreement_edge_cases() -> None:
    a = torch.tensor([0, 1, 2, 1])
    out = prediction_agreement(a, a.clone(), 3)
    assert float(out["agreement"]) == 1.0 and float(out["cohen_kappa"]) == 1.0
    with pytest.warns(RuntimeWarning, match="undefined"):
        out = prediction_agreement(torch.zeros(5, dtype=torch.long), torch.zeros(5, dtype=torch.long), 3)
    assert float(out["agreement"]) == 1.0 and torch.isnan(out["cohen_kappa"])


def test_normalized_disagreement_bounds() -> None:
    """Errors on the same items with the same wrong labels -> 0; errors on disjoint items -> 1 (closed form)."""
    t = torch.arange(10) % 3
    wrong = (t + 1) % 3
    a = torch.where(torch.arange(10) < 3, wrong, t)
    out = prediction_agreement(a, a.clone(), 3, target=t)
    assert float(out["normalized_disagreement"]) == 0.0
    b = torch.where(torch.arange(10) >= 6, wrong, t)  # errors on items 6..9, a on 0..2
    out = prediction_agreement(a, b, 3, target=t)
    assert float(out["normalized_disagreement"]) == pytest.approx(1.0)
    with pytest.warns(RuntimeWarning, match="undefined"):
        out = prediction_agreement(t, t.clone(), 3, target=t)
    assert torch.isnan(out["normalized_disagreement"])


def test_agreement_input_errors() -> None:
    a = torch.tensor([0, 1, 2])
    with pytest.raises(ValueError, match="same number of samples"):
        prediction_agreement(a, torch.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="out of range"):
        prediction_agreement(a, torch.tensor([0, 1, 3]), 3)
    with pytest.raises(ValueError, match="non-finite"):
        prediction_agreement(torch.full((3, 3), float("nan")), a, 3)
    with pytest.raises(ValueError, match="num_classes"):
        PredictionAgreement(0)
    metric = PredictionAgreement(3)
    metric.update(a, a, target=a)
    metric.update(a, a)
    with pytest.raises(ValueError, match="target"):
        metric.compute()
    with pytest.raises(ValueError, match="same number of samples"):
        error_consistency(a, a, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="integer"):
        error_consistency(a, a, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="negative"):
        error_consistency(a, torch.tensor([0, -1, 2]), a)


def test_error_consistency_is_binary_kappa_on_correctness() -> None:
    g = torch.Generator().manual_seed(1)
    n, c = 300, 10
    t = torch.randint(0, c, (n,), generator=g)
    a = torch.where(torch.rand(n, generator=g) < 0.6, t, torch.randint(0, c, (n,), generator=g))
    b = torch.where(torch.rand(n, generator=g) < 0.5, a, torch.randint(0, c, (n,), generator=g))
    out = error_consistency(a, b, t, num_classes=c)
    ref = cohen_kappa_score((a == t).numpy(), (b == t).numpy())
    assert float(out["kappa"]) == pytest.approx(ref, abs=1e-12)
    # logits give the same as their argmax labels
    logits_a = torch.randn(n, c, generator=g, dtype=torch.float64) + 10 * torch.nn.functional.one_hot(a, c)
    torch.testing.assert_close(error_consistency(logits_a, b, t), out)


def test_error_consistency_edge_cases() -> None:
    t = torch.tensor([0, 1, 2, 3])
    # identical correctness -> kappa 1 by definition, even with 0/0 chance terms
    out = error_consistency(t, t, t)
    assert [float(out[k]) for k in ("observed", "expected", "kappa")] == [1.0, 1.0, 1.0]
    out = error_consistency(torch.tensor([1, 1, 2, 3]), torch.tensor([2, 1, 2, 3]), t)
    assert float(out["kappa"]) == 1.0
    # a always right, b right half the time: c_obs = c_exp = 1/2 -> kappa 0
    out = error_consistency(t, torch.tensor([0, 0, 2, 0]), t)
    assert [float(out[k]) for k in ("observed", "expected", "kappa")] == [0.5, 0.5, 0.0]
    # complementary errors -> kappa -1
    out = error_consistency(torch.tensor([1, 1, 2, 0]), torch.tensor([0, 0, 0, 3]), t)
    assert float(out["kappa"]) == -1.0


# ---------------------------------------------------------------------------------------------------------------------
# real human-vs-model data (bethgelab/model-vs-human raw CSVs)


def _read_trials(path: Path) -> dict[str, tuple[str, str, str]]:
    """image key -> (condition, response, category); the key drops the ``<trial>_<exp>_<observer>_`` prefix."""
    out = {}
    with path.open() as f:
        for row in csv.DictReader(f):
            key = row["imagename"].split("_", 3)[3]
            out[key] = (row["condition"], row["object_response"], row["category"])
    return out


def _mvh_error_consistency(trials1: dict, trials2: dict, condition: str) -> dict[str, float]:
    """modelvshuman.plotting.analyses.ErrorConsistency.analysis, re-implemented without pandas."""
    keys = sorted(k for k, v in trials1.items() if v[0] == condition)
    assert keys == sorted(k for k, v in trials2.items() if v[0] == condition)
    c1 = np.array([trials1[k][1] == trials1[k][2] for k in keys])
    c2 = np.array([trials2[k][1] == trials2[k][2] for k in keys])
    p1, p2 = c1.mean(), c2.mean()
    expected = p1 * p2 + (1 - p1) * (1 - p2)
    observed = (c1 == c2).sum() / len(keys)
    kappa = 1.0 if observed == 1.0 else (observed - expected) / (1.0 - expected)
    return {"observed": observed, "expected": expected, "kappa": kappa}


def _codes(trials: dict, keys: list[str], field: int, label: dict[str, int]) -> torch.Tensor:
    """Integer codes of a response / category column; unknown answers ('na') get a code that is never right."""
    return torch.tensor([label.get(trials[k][field], len(label)) for k in keys])


@pytest.mark.skipif(not MVH_DIR.is_dir(), reason="model-vs-human data not present")
@pytest.mark.parametrize(("experiment", "model"), [("contrast", "resnet50"), ("eidolonI", "bagnet33")])
def test_error_consistency_human_vs_model_csv(experiment: str, model: str) -> None:
    folder = MVH_DIR / experiment
    human_files = sorted(folder.glob(f"{experiment}_subject-*_session_1.csv"))
    model_file = folder / f"{experiment}_{model}_session-1.csv"
    if not human_files or not model_file.is_file():
        pytest.skip(f"{experiment} CSVs not present")
    model_trials = _read_trials(model_file)
    classes = sorted({v[2] for v in model_trials.values()})
    label = {c: i for i, c in enumerate(classes)}  # 'na' (no answer) and anything else -> len(classes): never right
    rng = random.Random(0)
    conditions = sorted({v[0] for v in model_trials.values()})
    checked = 0
    for human_file in human_files[:2]:
        human_trials = _read_trials(human_file)
        for condition in conditions:
            expected = _mvh_error_consistency(human_trials, model_trials, condition)
            keys = [k for k, v in model_trials.items() if v[0] == condition]
            rng.shuffle(keys)  # any order works as long as the two observers stay paired on the image
            metric = ErrorConsistency()
            for start in range(0, len(keys), 37):
                sl = slice(start, start + 37)
                metric.update(
                    *(
                        _codes(tr, keys, field, label)[sl]
                        for tr, field in ((human_trials, 1), (model_trials, 1), (model_trials, 2))
                    )
                )
            out = metric.compute()
            for name, value in expected.items():
                assert float(out[name]) == pytest.approx(float(value), abs=1e-12), (human_file.name, condition, name)
            checked += 1
    assert checked >= 8


def test_abstain_label_counts_as_error() -> None:
    """A human ``na`` answer (label ``num_classes``) was rejected by ``ErrorConsistency(num_classes=16)``; with
    ``abstain=True`` it counts as an error, and as a response category of its own for agreement (hand-counted)."""
    target = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    human = torch.tensor([0, 1, 16, 3, 16, 5, 9, 7])  # two abstentions (16) and one wrong answer
    model = torch.tensor([0, 1, 2, 16, 16, 5, 6, 8])
    with pytest.raises(ValueError, match="out of range"):
        ErrorConsistency(num_classes=16).update(human, model, target)
    with pytest.raises(ValueError, match="needs `num_classes`"):
        ErrorConsistency(abstain=True)
    metric = ErrorConsistency(num_classes=16, abstain=True)
    metric.update(human, model, target)
    # correct: human [1,1,0,1,0,1,0,1] (p=5/8), model [1,1,1,0,0,1,1,0] (p=5/8); same on items 0,1,4,5 -> 4/8
    c_obs, c_exp = 4 / 8, (5 / 8) ** 2 + (3 / 8) ** 2
    out = metric.compute()
    assert float(out["observed"]) == pytest.approx(c_obs, abs=1e-15)
    assert float(out["kappa"]) == pytest.approx((c_obs - c_exp) / (1 - c_exp), abs=1e-15)
    torch.testing.assert_close(error_consistency(human, model, target, num_classes=16, abstain=True), out)
    # scores with a 17th (abstain) column give the same table
    scores = torch.nn.functional.one_hot(human, 17).double()
    torch.testing.assert_close(error_consistency(scores, model, target, num_classes=16, abstain=True), out)
    # agreement: both abstain on item 4 -> agree; kappa over 17 response categories as scikit-learn computes it
    agree = prediction_agreement(human, model, 16, target, abstain=True)
    assert float(agree["agreement"]) == pytest.approx(4 / 8, abs=1e-15)
    assert float(agree["cohen_kappa"]) == pytest.approx(cohen_kappa_score(human.numpy(), model.numpy()), abs=1e-12)
    e_h, e_m = 3 / 8, 3 / 8
    assert float(agree["normalized_disagreement"]) == pytest.approx((4 / 8 - abs(e_h - e_m)) / (min(e_h + e_m, 1)))
