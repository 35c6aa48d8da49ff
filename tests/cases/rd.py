"""MetricCases for RateDistortionSignature: the reference is a brute-force float64 confusion matrix (numpy loops)
fed to the functional twin ``rate_distortion_signature``."""

from __future__ import annotations

import functools

import numpy as np
import torch
from harness import MetricCase

from rdmetrics import RateDistortionSignature
from rdmetrics.functional import rate_distortion_signature

NUM_CLASSES = 5
SEVERITIES = [0.0, 0.25, 0.5, 1.0]
SIZES = [37, 52, 21, 46, 44]  # 200 samples = 10 per (condition, class) cell, shuffled into uneven batches


def _make_batches(seed: int, abstain: bool, as_labels: bool):
    g = torch.Generator().manual_seed(seed)
    num_cols = NUM_CLASSES + int(abstain)
    cells = torch.cartesian_prod(torch.arange(len(SEVERITIES)), torch.arange(NUM_CLASSES)).repeat(10, 1)
    cells = cells[torch.randperm(cells.shape[0], generator=g)]
    condition, target = cells[:, 0].contiguous(), cells[:, 1].contiguous()
    # noise grows with severity: logits favour the true class less and less
    strength = torch.tensor([4.0, 2.0, 1.0, 0.2], dtype=torch.float64)[condition]
    logits = torch.randn(cells.shape[0], num_cols, generator=g, dtype=torch.float64)
    logits[torch.arange(cells.shape[0]), target] += strength
    preds = logits.argmax(1) if as_labels else logits
    batches, start = [], 0
    for n in SIZES:
        sl = slice(start, start + n)
        batches.append(((preds[sl], target[sl], condition[sl]), {}))
        start += n
    return batches


def _brute_force_confmat(batches, num_cols: int) -> np.ndarray:
    cm = np.zeros((len(SEVERITIES), NUM_CLASSES, num_cols), dtype=np.float64)
    for (preds, target, condition), _ in batches:
        p = preds.numpy()
        labels = p.argmax(axis=1) if p.ndim == 2 else p
        for y_hat, y, c in zip(labels.tolist(), target.tolist(), condition.tolist()):
            cm[c, y, y_hat] += 1.0
    return cm


def _reference(batches, abstain: bool, **kwargs):
    cm = _brute_force_confmat(batches, NUM_CLASSES + int(abstain))
    out = rate_distortion_signature(
        torch.from_numpy(cm), conditions=torch.tensor(SEVERITIES, dtype=torch.float64), **kwargs
    )
    out["confmat"] = torch.from_numpy(cm)
    return out


CASES = [
    MetricCase(
        "rd-signature-logits",
        functools.partial(RateDistortionSignature, NUM_CLASSES, SEVERITIES),
        functools.partial(_make_batches, abstain=False, as_labels=False),
        functools.partial(_reference, abstain=False),
        atol=1e-10,
        rtol=1e-8,
    ),
    MetricCase(
        "rd-signature-abstain-labels-severity-axis",
        functools.partial(
            RateDistortionSignature,
            NUM_CLASSES,
            SEVERITIES,
            abstain=True,
            method="pchip",
            axis="severity",
            correction="none",
        ),
        functools.partial(_make_batches, abstain=True, as_labels=True),
        functools.partial(
            _reference,
            abstain=True,
            method="pchip",
            axis="severity",
            correction="none",
        ),
        atol=1e-10,
        rtol=1e-8,
    ),
    MetricCase(
        "rd-signature-bootstrap",
        functools.partial(
            RateDistortionSignature, NUM_CLASSES, SEVERITIES, method="exponential", n_bootstrap=40, seed=3
        ),
        functools.partial(_make_batches, abstain=False, as_labels=False),
        functools.partial(_reference, abstain=False, method="exponential", n_bootstrap=40, seed=3),
        atol=1e-9,
        rtol=1e-7,
    ),
]
