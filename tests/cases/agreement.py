"""MetricCases for the agreement metrics (PredictionAgreement, ErrorConsistency); references use scikit-learn and
a direct numpy re-implementation of the model-vs-human / rob-univ formulas."""

from __future__ import annotations

import functools

import numpy as np
import torch
from harness import MetricCase, cat_batches
from sklearn.metrics import cohen_kappa_score

from rdmetrics.agreement import ErrorConsistency, PredictionAgreement

C = 5


def _labels(x: torch.Tensor) -> np.ndarray:
    return (x.argmax(1) if x.is_floating_point() else x).numpy()


def make_agreement_batches(seed: int, logits: bool, with_target: bool):
    """Two correlated models: b copies a's label 60% of the time; a is right ~70% of the time."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for n in (17, 9, 23, 5):
        target = torch.randint(0, C, (n,), generator=g)
        a = torch.where(torch.rand(n, generator=g) < 0.7, target, torch.randint(0, C, (n,), generator=g))
        b = torch.where(torch.rand(n, generator=g) < 0.6, a, torch.randint(0, C, (n,), generator=g))
        if logits:
            a = torch.randn(n, C, generator=g, dtype=torch.float64) + 4 * torch.nn.functional.one_hot(a, C)
            b = torch.randn(n, C, generator=g, dtype=torch.float64) + 4 * torch.nn.functional.one_hot(b, C)
        batches.append(((a, b, target), {}) if with_target else ((a, b), {}))
    return batches


def make_abstain_batches(seed: int, logits: bool):
    """As :func:`make_agreement_batches` with targets, but each model abstains (label ``C`` / score column ``C``) on
    about 15% of the trials, like a human ``na`` answer."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for n, (a, b, target), _ in (
        (args[0].shape[0], args, kw) for args, kw in make_agreement_batches(seed, logits=False, with_target=True)
    ):
        a = torch.where(torch.rand(n, generator=g) < 0.15, C, a)
        b = torch.where(torch.rand(n, generator=g) < 0.15, C, b)
        if logits:
            a = torch.randn(n, C + 1, generator=g, dtype=torch.float64) + 4 * torch.nn.functional.one_hot(a, C + 1)
            b = torch.randn(n, C + 1, generator=g, dtype=torch.float64) + 4 * torch.nn.functional.one_hot(b, C + 1)
        batches.append(((a, b, target), {}))
    return batches


def agreement_reference(batches):
    args, _ = cat_batches(batches)
    a, b = _labels(args[0]), _labels(args[1])
    out = {"agreement": float(np.mean(a == b)), "cohen_kappa": float(cohen_kappa_score(a, b))}
    if len(args) == 3:
        t = args[2].numpy()
        d = float(np.mean(a != b))
        e1, e2 = float(np.mean(a != t)), float(np.mean(b != t))
        out["normalized_disagreement"] = (d - abs(e1 - e2)) / (min(e1 + e2, 1.0) - abs(e1 - e2))
    return out


def error_consistency_reference(batches):
    """model-vs-human ``ErrorConsistency.analysis`` on already aligned trials, written out with numpy."""
    (a, b, t), _ = cat_batches(batches)
    ca, cb = _labels(a) == t.numpy(), _labels(b) == t.numpy()
    p1, p2 = ca.mean(), cb.mean()
    expected = p1 * p2 + (1 - p1) * (1 - p2)
    observed = np.mean(ca == cb)
    kappa = 1.0 if observed == 1.0 else (observed - expected) / (1 - expected)
    return {"observed": float(observed), "expected": float(expected), "kappa": float(kappa)}


CASES = [
    MetricCase(
        "agreement-logits-target",
        functools.partial(PredictionAgreement, num_classes=C),
        functools.partial(make_agreement_batches, logits=True, with_target=True),
        agreement_reference,
        atol=1e-12,
        rtol=1e-12,
    ),
    MetricCase(
        "agreement-labels",
        functools.partial(PredictionAgreement, num_classes=C),
        functools.partial(make_agreement_batches, logits=False, with_target=False),
        agreement_reference,
        atol=1e-12,
        rtol=1e-12,
    ),
    MetricCase(
        "agreement-abstain-labels",
        functools.partial(PredictionAgreement, num_classes=C, abstain=True),
        functools.partial(make_abstain_batches, logits=False),
        agreement_reference,  # abstain label C: never equal to a target, a category of its own for kappa
        atol=1e-12,
        rtol=1e-12,
        ddp=False,
    ),
    MetricCase(
        "agreement-error-consistency-abstain-scores",
        functools.partial(ErrorConsistency, num_classes=C, abstain=True),
        functools.partial(make_abstain_batches, logits=True),
        error_consistency_reference,
        atol=1e-12,
        rtol=1e-12,
        ddp=False,
    ),
    MetricCase(
        "agreement-error-consistency",
        ErrorConsistency,
        functools.partial(make_agreement_batches, logits=True, with_target=True),
        error_consistency_reference,
        atol=1e-12,
        rtol=1e-12,
    ),
]
