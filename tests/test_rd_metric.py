"""RateDistortionSignature: brute-force confusion matrices, input forms, errors, MetricCollection, plot.

DDP (2 gloo processes, uneven shards, an empty rank, bootstrap) runs in the shared harness: tests/cases/rd.py.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from harness import assert_close
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from rdmetrics import RateDistortionSignature
from rdmetrics.functional import rate_distortion_signature

C = 4
LEVELS = [0.0, 0.1, 0.3, 0.6]


def _data(seed: int = 0, n: int = 400, abstain: bool = False):
    g = torch.Generator().manual_seed(seed)
    target = torch.arange(C).repeat(n // C)
    condition = torch.arange(len(LEVELS)).repeat_interleave(n // len(LEVELS))
    logits = torch.randn(n, C + int(abstain), generator=g, dtype=torch.float64)
    logits[torch.arange(n), target] += torch.tensor([4.0, 2.0, 1.0, 0.3], dtype=torch.float64)[condition]
    return logits, target, condition


def _numpy_confmat(labels: np.ndarray, target: np.ndarray, condition: np.ndarray, k: int) -> np.ndarray:
    cm = np.zeros((len(LEVELS), C, k))
    for p, t, c in zip(labels, target, condition):
        cm[c, t, p] += 1
    return cm


def test_matches_brute_force_and_input_forms() -> None:
    logits, target, condition = _data()
    labels = logits.argmax(1)
    cm = _numpy_confmat(labels.numpy(), target.numpy(), condition.numpy(), C)
    expected = rate_distortion_signature(torch.from_numpy(cm), conditions=torch.tensor(LEVELS, dtype=torch.float64))

    m_logits = RateDistortionSignature(C, LEVELS)
    m_logits.update(logits, target, condition)
    m_probs = RateDistortionSignature(C, LEVELS)
    m_probs.update(logits.softmax(1).float(), target, condition)
    m_labels = RateDistortionSignature(C, LEVELS)
    for level in range(len(LEVELS)):  # int condition, one call per level
        sel = condition == level
        m_labels.update(labels[sel], target[sel], level)
    for metric in (m_logits, m_probs, m_labels):
        out = metric.compute()
        assert_close({k: out[k] for k in expected}, expected, atol=1e-12, rtol=1e-10)
        np.testing.assert_array_equal(out["confmat"].numpy(), cm)


def test_abstain_column_counts_as_error() -> None:
    logits, target, condition = _data(abstain=True)
    labels = logits.argmax(1)
    metric = RateDistortionSignature(C, LEVELS, abstain=True, correction="none")
    metric.update(logits, target, condition)
    out = metric.compute()
    cm = _numpy_confmat(labels.numpy(), target.numpy(), condition.numpy(), C + 1)
    assert out["confmat"].shape == (4, C, C + 1)
    for ell in range(len(LEVELS)):
        balanced_acc = np.mean([cm[ell, x, x] / cm[ell, x].sum() for x in range(C)])
        assert float(out["accuracy"][ell]) == pytest.approx(balanced_acc, abs=1e-12)
    assert int(out["confmat"][..., C].sum()) == int((labels == C).sum()) > 0


def test_severity_axis_and_int_conditions() -> None:
    logits, target, condition = _data()
    metric = RateDistortionSignature(C, LEVELS, use_severity_axis=True, method="pchip")
    metric.update(logits, target, condition)
    out = metric.compute()
    expected = rate_distortion_signature(
        out["confmat"],
        conditions=torch.tensor(LEVELS, dtype=torch.float64),
        method="pchip",
        axis_values=torch.tensor(LEVELS, dtype=torch.float64),
    )
    assert float(out["beta"]) == pytest.approx(float(expected["beta"]), abs=1e-12)
    assert float(out["at"]) == pytest.approx(0.3, abs=1e-12)  # midpoint of the severity range [0, 0.6]
    m_int = RateDistortionSignature(C, 4)
    torch.testing.assert_close(m_int.severities, torch.arange(4, dtype=torch.float64))


@pytest.mark.parametrize(
    ("preds", "target", "condition", "match"),
    [
        (torch.tensor([[0.1, float("nan"), 0, 0]] * 2), torch.tensor([0, 1]), 0, "non-finite"),
        (torch.tensor([[0.1, float("inf"), 0, 0]] * 2), torch.tensor([0, 1]), 0, "non-finite"),
        (torch.tensor([0, 4]), torch.tensor([0, 1]), 0, "out of range"),
        (torch.tensor([0, 1]), torch.tensor([0, 4]), 0, "out of range"),
        (torch.tensor([0, 1]), torch.tensor([-1, 1]), 0, "out of range"),
        (torch.tensor([0, 1, 2]), torch.tensor([0, 1]), 0, "same number of samples"),
        (torch.randn(2, 5), torch.tensor([0, 1]), 0, "score columns"),
        (torch.tensor([0, 1]), torch.tensor([0.0, 1.0]), 0, "integer"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), 4, "out of range"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), -1, "out of range"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0, 7]), "out of range"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0, 1, 1]), "condition"),
        (torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([0.0, 1.0]), "integer"),
    ],
)
def test_bad_update_input(preds, target, condition, match) -> None:
    metric = RateDistortionSignature(C, LEVELS)
    with pytest.raises(ValueError, match=match):
        metric.update(preds, target, condition)


def test_bad_constructor_and_empty_state() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        RateDistortionSignature(C, [0.0, 1.0])
    with pytest.raises(ValueError, match="conditions"):
        RateDistortionSignature(C, 2)
    with pytest.raises(ValueError, match="num_classes"):
        RateDistortionSignature(1, 4)
    with pytest.raises(ValueError, match="method"):
        RateDistortionSignature(C, 4, method="cubic")
    with pytest.raises(ValueError, match="prior"):
        RateDistortionSignature(C, 4, prior=torch.ones(3))
    with pytest.raises(ValueError, match="non-finite"):
        RateDistortionSignature(C, [0.0, float("nan"), 1.0])
    with pytest.raises(ValueError, match=r"(?i)empty"):
        RateDistortionSignature(C, 4).compute()
    # a condition without samples is named
    metric = RateDistortionSignature(C, 4)
    metric.update(torch.arange(C), torch.arange(C), 0)
    with pytest.raises(ValueError, match="condition 1 is empty"):
        metric.compute()


def test_metric_collection_sweep_and_plot() -> None:
    logits, target, condition = _data()
    collection = MetricCollection(
        {"rd": RateDistortionSignature(C, LEVELS), "acc": MulticlassAccuracy(C, average="macro")},
        compute_groups=False,
    )
    for level in range(len(LEVELS)):
        sel = condition == level
        collection.update(logits[sel], target[sel], condition=level)  # `condition` only reaches the RD metric
    out = collection.compute()  # the collection flattens the RD dict into top-level keys
    single = RateDistortionSignature(C, LEVELS)
    single.update(logits, target, condition)
    assert float(out["beta"]) == pytest.approx(float(single.compute()["beta"]), abs=1e-12)
    assert float(out["acc"]) == pytest.approx(float(out["accuracy"].mean()), abs=1e-6)

    import matplotlib

    matplotlib.use("Agg")
    fig, ax = single.plot()
    assert len(ax.lines) == 3  # frontier, points, bound
    assert fig is ax.get_figure()
    pickle.loads(pickle.dumps(single))  # still picklable after plotting
