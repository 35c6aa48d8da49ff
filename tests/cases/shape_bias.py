"""MetricCases for ShapeBias; the reference is the model-vs-human toolbox's ``ShapeBias.analysis`` written out with
numpy loops (overall and grouped by shape class)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from harness import MetricCase, cat_batches

from rdmetrics.shape_bias import ShapeBias

C = 6


def make_cue_conflict_batches(seed: int, logits: bool, abstain: bool):
    """Cue-conflict trials (~1/6 without conflict); answers: shape 40%, texture 35%, other / abstain the rest."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for n in (23, 11, 30, 7, 19):
        shape = torch.randint(0, C, (n,), generator=g)
        texture = torch.randint(0, C, (n,), generator=g)
        u = torch.rand(n, generator=g)
        other = torch.randint(0, C + int(abstain), (n,), generator=g)
        label = torch.where(u < 0.4, shape, torch.where(u < 0.75, texture, other))
        if logits:
            k = C + int(abstain)
            preds = torch.randn(n, k, generator=g, dtype=torch.float64) + 5 * torch.nn.functional.one_hot(label, k)
        else:
            preds = label
        batches.append(((preds, shape, texture), {}))
    return batches


def shape_bias_reference(batches, per_class: bool = False):
    (preds, shape, texture), _ = cat_batches(batches)
    p = preds.numpy()
    y = p.argmax(1) if p.ndim == 2 else p
    s, t = shape.numpy(), texture.numpy()

    def analysis(idx):
        n = len(idx)
        conflict = [i for i in idx if s[i] != t[i]]
        f_shape = sum(y[i] == s[i] for i in conflict) / n
        f_tex = sum(y[i] == t[i] for i in conflict) / n
        sb = f_shape / (f_shape + f_tex) if f_shape + f_tex > 0 else float("nan")
        return sb, f_shape, f_tex

    sb, fs, ft = analysis(list(range(len(y))))
    out = {"shape_bias": sb, "fraction_shape": fs, "fraction_texture": ft}
    if per_class:
        rows = [analysis([i for i in range(len(y)) if s[i] == c]) for c in range(C)]
        out["shape_bias_per_class"] = np.array([r[0] for r in rows])
        out["fraction_shape_per_class"] = np.array([r[1] for r in rows])
        out["fraction_texture_per_class"] = np.array([r[2] for r in rows])
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in out.items()}


CASES = [
    MetricCase(
        "shape-bias-labels",
        functools.partial(ShapeBias, num_classes=C),
        functools.partial(make_cue_conflict_batches, logits=False, abstain=False),
        shape_bias_reference,
        atol=1e-12,
        rtol=1e-12,
        ddp=False,  # same count-state sync path as the case below, which runs the 2-process DDP check
    ),
    MetricCase(
        "shape-bias-logits-abstain-per-class",
        functools.partial(ShapeBias, num_classes=C, abstain=True, per_class=True),
        functools.partial(make_cue_conflict_batches, logits=True, abstain=True),
        functools.partial(shape_bias_reference, per_class=True),
        atol=1e-12,
        rtol=1e-12,
    ),
]
