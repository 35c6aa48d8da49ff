"""MetricCases for ConfusionAsymmetry, plus the brute-force float64 numpy reference of the asymmetry statistics.

The reference is written from the definitions with explicit loops over classes and pairs, and the binomial null
uses ``scipy.stats.binom.pmf`` (independent of the library's lgamma table).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from harness import MetricCase
from scipy.stats import binom

from rdmetrics import ConfusionAsymmetry
from rdmetrics.functional import confusion_asymmetry

NUM_CLASSES = 5
NUM_CONDITIONS = 3
SIZES = [41, 33, 27, 38, 11]  # 150 samples = 10 per (condition, class) cell, shuffled into uneven batches


def ref_asymmetry(cm: np.ndarray, prior: str | np.ndarray = "uniform", null: bool = True) -> dict[str, float]:
    """Numpy loops over one ``[C, K]`` matrix (``K = C + 1``: last column = abstain, ignored as a response)."""
    cm = np.asarray(cm, dtype=np.float64)
    c = cm.shape[0]
    n = cm.sum(1)
    if isinstance(prior, str):
        p = np.ones(c) if prior == "uniform" else n.copy()
    else:
        p = np.asarray(prior, dtype=np.float64).copy()
    p = np.where(n > 0, p, 0.0)
    p = p / p.sum()
    e = np.zeros((c, c))
    for x in range(c):
        for y in range(c):
            if x != y and n[x] > 0:
                e[x, y] = p[x] * cm[x, y] / n[x]
    eps = e.sum()
    nan = math.nan
    if eps <= 0:
        keys = ["asymmetry", "top1_error_share", "effective_wrong_answers", "asymmetric_pairs"]
        out = dict.fromkeys(keys, nan)
        if null:
            out.update(asymmetry_null=nan, asymmetry_excess=nan)
        out["error_rate"] = 0.0
        return out
    pair_d = []
    for x in range(c):
        for y in range(x + 1, c):
            pair_d.append(abs(e[x, y] - e[y, x]))
    s = sum(pair_d)
    out = {"asymmetry": s / eps}
    out["top1_error_share"] = sum(max(e[x, y] for y in range(c) if y != x) for x in range(c)) / eps
    eff = 0.0
    for x in range(c):
        ex = e[x].sum()
        if ex <= 0:
            continue
        h = -sum(e[x, y] / ex * math.log(e[x, y] / ex) for y in range(c) if y != x and e[x, y] > 0)
        eff += ex / eps * math.exp(h)
    out["effective_wrong_answers"] = eff
    if s > 0:
        h = -sum(d / s * math.log(d / s) for d in pair_d if d > 0)
        out["asymmetric_pairs"] = math.exp(h)
    else:
        out["asymmetric_pairs"] = nan
    if null:
        num = den = 0.0
        for x in range(c):
            for y in range(x + 1, c):
                m = round(float(cm[x, y] + cm[y, x]))
                wx = p[x] / n[x] if n[x] > 0 else 0.0
                wy = p[y] / n[y] if n[y] > 0 else 0.0
                if m == 0 or wx + wy == 0:
                    continue
                pi = (n[x] / p[x]) / (n[x] / p[x] + n[y] / p[y]) if wx > 0 and wy > 0 else wy / (wx + wy)
                k = np.arange(m + 1)
                # |E[x,y] − E[y,x]| for N[x,y] = k, N[y,x] = m − k; expected under Bin(m, π)
                num += float((binom.pmf(k, m, pi) * np.abs(wx * k - wy * (m - k))).sum())
                den += float((binom.pmf(k, m, pi) * (wx * k + wy * (m - k))).sum())
        out["asymmetry_null"] = num / den if den > 0 else nan
        out["asymmetry_excess"] = out["asymmetry"] - out["asymmetry_null"]
    out["error_rate"] = eps
    return out


def ref_batched(cm: np.ndarray, prior: str | np.ndarray = "uniform", null: bool = True) -> dict[str, np.ndarray]:
    """:func:`ref_asymmetry` over the leading dims of ``[..., C, K]``."""
    cm = np.asarray(cm, dtype=np.float64)
    lead = cm.shape[:-2]
    flat = cm.reshape(-1, *cm.shape[-2:])
    rows = [ref_asymmetry(m, prior, null) for m in flat]
    return {k: np.array([r[k] for r in rows]).reshape(lead) for k in rows[0]}


def _make_batches(seed: int, abstain: bool):
    g = torch.Generator().manual_seed(seed)
    num_cols = NUM_CLASSES + int(abstain)
    cells = torch.cartesian_prod(torch.arange(NUM_CONDITIONS), torch.arange(NUM_CLASSES)).repeat(10, 1)
    cells = cells[torch.randperm(cells.shape[0], generator=g)]
    condition, target = cells[:, 0].contiguous(), cells[:, 1].contiguous()
    strength = torch.tensor([3.0, 1.0, 0.2], dtype=torch.float64)[condition]
    logits = torch.randn(cells.shape[0], num_cols, generator=g, dtype=torch.float64)
    logits[torch.arange(cells.shape[0]), target] += strength
    logits[:, 1] += 0.8  # a mild attractor class: directional confusions
    batches, start = [], 0
    for size in SIZES:
        sl = slice(start, start + size)
        batches.append(((logits[sl], target[sl]), {"condition": condition[sl]}))
        start += size
    return batches


def _brute_force_confmat(batches, num_cols: int) -> np.ndarray:
    cm = np.zeros((NUM_CONDITIONS, NUM_CLASSES, num_cols))
    for (preds, target), kw in batches:
        labels = preds.numpy().argmax(axis=1)
        for y_hat, y, c in zip(labels.tolist(), target.tolist(), kw["condition"].tolist()):
            cm[c, y, y_hat] += 1.0
    return cm


def _reference(batches, abstain: bool, prior: str = "uniform"):
    cm = _brute_force_confmat(batches, NUM_CLASSES + int(abstain))
    out = {k: torch.from_numpy(v) for k, v in ref_batched(cm, prior).items()}
    out["confmat"] = torch.from_numpy(cm)
    return out


def _reference_bootstrap(batches, **kwargs):
    cm = torch.from_numpy(_brute_force_confmat(batches, NUM_CLASSES))
    out = confusion_asymmetry(cm, **kwargs)  # the functional is checked against ref_asymmetry in test_asymmetry.py
    out["confmat"] = cm
    return out


CASES = [
    MetricCase(
        "confusion-asymmetry",
        functools.partial(ConfusionAsymmetry, NUM_CLASSES, NUM_CONDITIONS),
        functools.partial(_make_batches, abstain=False),
        functools.partial(_reference, abstain=False),
        atol=1e-10,
        rtol=1e-8,
    ),
    MetricCase(
        "confusion-asymmetry-abstain-empirical",
        functools.partial(ConfusionAsymmetry, NUM_CLASSES, NUM_CONDITIONS, abstain=True, prior="empirical"),
        functools.partial(_make_batches, abstain=True),
        functools.partial(_reference, abstain=True, prior="empirical"),
        atol=1e-10,
        rtol=1e-8,
    ),
    MetricCase(
        "confusion-asymmetry-bootstrap",
        functools.partial(ConfusionAsymmetry, NUM_CLASSES, NUM_CONDITIONS, n_bootstrap=30, seed=5),
        functools.partial(_make_batches, abstain=False),
        functools.partial(_reference_bootstrap, n_bootstrap=30, seed=5),
        atol=1e-10,
        rtol=1e-8,
    ),
]
