"""RateDistortionSignature: brute-force confusion matrices, input forms, errors, MetricCollection, plot.

DDP (2 gloo processes, uneven shards, an empty rank, bootstrap) runs in the shared harness: tests/cases/rd.py.
"""

from __future__ import annotations

import math
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
    assert len(ax.lines) == 4  # frontier, points, null floor, bound
    assert any("floor" in str(line.get_label()) for line in ax.lines)
    assert fig is ax.get_figure()
    pickle.loads(pickle.dumps(single))  # still picklable after plotting


# ---------------------------------------------------------------------------------------------------------------------
# axis, reading point, unit-free curvature, null floor, forward, bootstrap chunks / world size


def _msc(num_classes: int, errors: list[float], n: int, seed: int = 0) -> torch.Tensor:
    """Sampled M-ary symmetric channels, ``n`` trials per class."""
    rng = np.random.default_rng(seed)
    mats = []
    for e in errors:
        chan = np.full((num_classes, num_classes), e / (num_classes - 1))
        np.fill_diagonal(chan, 1 - e)
        mats.append(np.stack([rng.multinomial(n, row) for row in chan]))
    return torch.from_numpy(np.stack(mats))


ERRORS = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8]


def test_severity_axis_rank_scale_and_deprecated_aliases() -> None:
    cms = _msc(5, ERRORS, 30)
    sev = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0]
    out = rate_distortion_signature(cms, conditions=sev, axis="severity", n_null=0)
    np.testing.assert_array_equal(out["x"].numpy(), sev)
    assert float(out["at"]) == pytest.approx(2.5)
    # non-numeric, inf or non-monotone labels: rank scale 0..L-1 in the given order
    for labels in (["a", "b", "c", "d", "e", "f"], [0.0, 1, 2, 3, 4, float("inf")], [0.0, 2, 1, 3, 4, 5]):
        ranked = rate_distortion_signature(cms, conditions=labels, axis="severity", n_null=0)
        np.testing.assert_array_equal(ranked["x"].numpy(), np.arange(6.0))
    assert math.isnan(float(ranked["conditions"][0])) is False
    # deprecated spellings give the same numbers with a DeprecationWarning
    with pytest.warns(DeprecationWarning, match="axis_values"):
        old = rate_distortion_signature(cms, axis_values=torch.tensor(sev), n_null=0)
    assert float(old["beta"]) == pytest.approx(float(out["beta"]), abs=1e-12)
    with pytest.warns(DeprecationWarning, match="use_severity_axis"):
        metric = RateDistortionSignature(5, sev, use_severity_axis=True, n_null=0)
    assert metric.axis == "severity"
    with pytest.raises(ValueError, match="axis"):
        rate_distortion_signature(cms, axis="log")


def test_at_accuracy_on_both_axes() -> None:
    cms = _msc(5, ERRORS, 40)
    base = rate_distortion_signature(cms, n_null=0, method="quadratic")
    at_d = rate_distortion_signature(cms, n_null=0, method="quadratic", at_accuracy=0.6)
    assert float(at_d["at"]) == pytest.approx(0.4, abs=1e-15)  # distortion axis: x* = 1 − a
    assert float(at_d["beta"]) == pytest.approx(float(rate_distortion_signature(cms, n_null=0, at=0.4)["beta"]))
    # severity axis: x* where the quadratic fit of accuracy vs severity reaches a (numpy polyfit + roots)
    sev = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    out = rate_distortion_signature(cms, conditions=sev.tolist(), axis="severity", at_accuracy=0.6, n_null=0)
    coef = np.polyfit(sev, base["accuracy"].numpy(), 2)
    coef[-1] -= 0.6
    roots = [r.real for r in np.roots(coef) if abs(r.imag) < 1e-12 and 0 <= r.real <= 5]
    assert float(out["at"]) == pytest.approx(min(roots), abs=1e-5)
    with pytest.raises(ValueError, match="never reaches"):
        rate_distortion_signature(cms, conditions=sev.tolist(), axis="severity", at_accuracy=0.995, n_null=0)
    with pytest.raises(ValueError, match="not both"):
        rate_distortion_signature(cms, at=0.3, at_accuracy=0.5)


def test_kappa_is_unit_free_and_curvature_is_raw() -> None:
    cms = _msc(5, ERRORS, 40)
    sev = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    for method in ("quadratic", "exponential", "pchip", "hull"):
        a = rate_distortion_signature(cms, conditions=sev, axis="severity", method=method, n_null=0)
        b = rate_distortion_signature(cms, conditions=sev * 7.3 + 2.0, axis="severity", method=method, n_null=0)
        assert float(b["kappa"]) == pytest.approx(float(a["kappa"]), rel=1e-6, abs=1e-9)  # rescaled severities
        assert float(b["curvature"]) == pytest.approx(float(a["curvature"]) / 7.3**2, rel=1e-6, abs=1e-9)
        assert float(b["beta_normalized"]) == pytest.approx(float(a["beta_normalized"]), rel=1e-6, abs=1e-9)
    # the class count: the same rate curve in units of log2 C gives the same κ for C = 4 and C = 16
    from rdmetrics.functional import rd_signatures

    d = torch.tensor([0.1, 0.3, 0.5, 0.7], dtype=torch.float64)
    r = 1.0 - 1.2 * d + 0.4 * d**2  # fraction of log2 C
    k4 = rd_signatures(d, r * 2.0, num_classes=4)
    k16 = rd_signatures(d, r * 4.0, num_classes=16)
    assert float(k4["kappa"]) == pytest.approx(float(k16["kappa"]), abs=1e-12)
    assert float(k16["curvature"]) == pytest.approx(2 * float(k4["curvature"]), abs=1e-12)


def test_rate_floor_is_the_permutation_null_mean_and_warns() -> None:
    """rate_floor = mean of the estimator over hypergeometric (permutation) tables; checked against a numpy
    simulation of the same null (different random numbers, Monte-Carlo tolerance)."""
    from rdmetrics.functional import mutual_information

    cms = _msc(4, [0.05, 0.3, 0.6, 0.75], 10, seed=2)
    with pytest.warns(UserWarning, match="null floor"):
        out = rate_distortion_signature(cms, correction="miller_madow", n_null=400, seed=1)
    rng = np.random.default_rng(0)
    for ell in range(4):
        cm = cms[ell].numpy()
        rows = np.repeat(np.arange(4), cm.sum(1))
        cols = np.repeat(np.arange(4), cm.sum(0))
        sims = []
        for _ in range(400):
            t = np.zeros((4, 4))
            np.add.at(t, (rows, rng.permutation(cols)), 1)
            sims.append(float(mutual_information(torch.from_numpy(t), correction="miller_madow")))
        assert float(out["rate_floor"][ell]) == pytest.approx(np.mean(sims), abs=4 * np.std(sims) / math.sqrt(200))
        assert float(out["rate_floor_hi"][ell]) >= float(out["rate_floor"][ell])
    assert float(out["rate"][0]) > float(out["rate_floor_hi"][0])  # 95 % accuracy: far above the floor
    assert float(out["rate"][3]) <= float(out["rate_floor_hi"][3])  # chance level: within the floor
    none = rate_distortion_signature(cms, n_null=0)
    assert bool(torch.isnan(none["rate_floor"]).all())


def test_forward_returns_batch_value_or_none() -> None:
    logits, target, condition = _data()
    metric = RateDistortionSignature(C, LEVELS, n_null=0)
    sel = condition == 0
    assert metric(logits[sel], target[sel], 0) is None  # one condition: no frontier for the batch alone
    out = metric(logits[~sel], target[~sel], condition[~sel])  # still lacks condition 0 -> None
    assert out is None
    full = RateDistortionSignature(C, LEVELS, n_null=0)
    value = full(logits, target, condition)  # the whole data in one batch: its own signature
    ref = rate_distortion_signature(full.confmat, conditions=LEVELS, n_null=0)
    assert float(value["beta"]) == pytest.approx(float(ref["beta"]), abs=1e-12)
    # the global state saw every forward batch
    torch.testing.assert_close(metric.confmat, full.confmat)
    assert float(metric.compute()["beta"]) == pytest.approx(float(ref["beta"]), abs=1e-12)


def test_bootstrap_chunks_and_world_size_do_not_change_the_result(monkeypatch) -> None:
    import rdmetrics.functional.rate_distortion as rd

    cms = _msc(4, [0.1, 0.3, 0.5, 0.7], 12, seed=5)
    kw = {
        "n_bootstrap": 12,
        "seed": 3,
        "n_null": 0,
        "method": "quadratic",
        "ci_method": "basic",
        "correction": "miller_madow",
    }
    whole = rd._rate_distortion_signature_compute(cms, **kw)
    monkeypatch.setattr(rd, "_CHUNK_ELEMENTS", 40)  # 1 replicate per chunk, levels in sub-batches
    chunked = rd._rate_distortion_signature_compute(cms, **kw)
    assert_close(chunked, whole, atol=0, rtol=0)
    # DDP with any world size: each rank computes replicates [B r / W, B (r+1) / W) and they are gathered in order
    for world in (2, 5):
        shares = []
        for rank in range(world):
            start, stop = 12 * rank // world, 12 * (rank + 1) // world
            shares.append(rd._bootstrap_points(cms.double(), "uniform", "miller_madow", "raise", 12, 3, start, stop))
        for rank in range(world):
            it = iter([torch.cat([s[0] for s in shares]), torch.cat([s[1] for s in shares])])
            got = rd._rate_distortion_signature_compute(
                cms, replicate_split=(rank, world), gather=lambda t, it=it: next(it), **kw
            )
            assert_close(got, whole, atol=0, rtol=0)
