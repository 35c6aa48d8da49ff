"""Tests for shape bias (functional ``shape_bias``, metric ``ShapeBias``, data-level ``datasets.cue_conflict``).

References: the toolbox's ``ShapeBias.analysis`` re-implemented with numpy loops (tests/cases/shape_bias.py, also run
through the shared harness), hand-computed tiny cases, and on the real cue-conflict data an independent pass over the
raw CSVs with the ``csv`` module (texture class parsed as the toolbox's ``get_texture_category`` does).
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from cases.shape_bias import make_cue_conflict_batches, shape_bias_reference

from rdmetrics import ShapeBias
from rdmetrics.datasets.cue_conflict import SHAPE_BIAS_COLUMNS, shape_bias, write_shape_bias
from rdmetrics.functional import shape_bias as shape_bias_fn

MVH = Path(
    os.environ.get("RDMETRICS_MVH_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model-vs-human"
)


@pytest.mark.parametrize("logits, abstain", [(False, False), (True, True)])
def test_functional_matches_toolbox_formula(logits, abstain):
    batches = make_cue_conflict_batches(3, logits=logits, abstain=abstain)
    preds = torch.cat([b[0][0] for b in batches])
    shape = torch.cat([b[0][1] for b in batches])
    texture = torch.cat([b[0][2] for b in batches])
    got = shape_bias_fn(preds, shape, texture, num_classes=6, abstain=abstain, per_class=True)
    ref = shape_bias_reference(batches, per_class=True)
    for k, v in ref.items():
        np.testing.assert_allclose(got[k].numpy(), v.numpy(), rtol=0, atol=1e-12, equal_nan=True, err_msg=k)


def test_hand_computed_and_denominator():
    # 5 trials: one without conflict (shape == texture); the fractions divide by all 5, shape bias ignores that
    target = torch.tensor([0, 0, 1, 1, 2])
    texture = torch.tensor([1, 2, 0, 1, 0])
    preds = torch.tensor([0, 2, 0, 1, 3])  # shape, texture, texture, (no conflict, answered shape), abstain
    out = shape_bias_fn(preds, target, texture, num_classes=3, abstain=True, per_class=True)
    assert float(out["fraction_shape"]) == pytest.approx(1 / 5)
    assert float(out["fraction_texture"]) == pytest.approx(2 / 5)
    assert float(out["shape_bias"]) == pytest.approx(1 / 3)
    # per shape class: class 0 -> 1 shape, 1 texture of 2 trials; class 1 -> 1 texture of 2; class 2 -> abstain only
    np.testing.assert_allclose(out["shape_bias_per_class"][:2].numpy(), [0.5, 0.0])
    assert math.isnan(float(out["shape_bias_per_class"][2]))
    np.testing.assert_allclose(out["fraction_texture_per_class"].numpy(), [0.5, 0.5, 0.0])


def test_errors_and_undefined():
    t = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="out of range"):
        shape_bias_fn(torch.tensor([0, 3]), t, t, num_classes=3)  # label 3 without abstain
    with pytest.raises(ValueError, match="same number of samples"):
        shape_bias_fn(torch.tensor([0, 1, 2]), t, t, num_classes=3)
    with pytest.raises(ValueError, match="integer class labels"):
        shape_bias_fn(torch.tensor([0, 1]), t.double(), t, num_classes=3)
    with pytest.raises(ValueError, match="texture"):
        shape_bias_fn(torch.tensor([0, 1]), t, torch.tensor([0, 5]), num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        ShapeBias(num_classes=1)
    with pytest.raises(ValueError, match="no trials seen"):
        ShapeBias(num_classes=3).compute()
    # no decision by shape or texture: NaN with a warning, never a crash or a silent 0
    with pytest.warns(RuntimeWarning, match="undefined"):
        out = shape_bias_fn(torch.tensor([2, 2]), torch.tensor([0, 1]), torch.tensor([1, 0]), num_classes=3)
    assert math.isnan(float(out["shape_bias"])) and float(out["fraction_shape"]) == 0.0


def test_metric_streams_like_functional():
    batches = make_cue_conflict_batches(5, logits=True, abstain=False)
    m = ShapeBias(num_classes=6, per_class=True)
    for (p, s, t), _ in batches:
        m.update(p, s, t)
    ref = shape_bias_reference(batches, per_class=True)
    got = m.compute()
    for k, v in ref.items():
        np.testing.assert_allclose(got[k].numpy(), v.numpy(), rtol=0, atol=1e-12, equal_nan=True)


# ---------------------------------------------------------------------------------------------- real data


def _toolbox_shape_bias(rows):
    """ShapeBias.analysis of the toolbox on raw CSV rows (texture via get_texture_category)."""

    def texture(name):
        last = name.split("_")[-1].split(".")[0].split("-")[-1]
        return "".join(c for c in last if not c.isdigit())

    conflict = [r for r in rows if r["category"] != texture(r["imagename"])]
    fs = sum(r["object_response"] == r["category"] for r in conflict) / len(rows)
    ft = sum(r["object_response"] == texture(r["imagename"]) for r in conflict) / len(rows)
    return fs / (fs + ft), fs, ft


@pytest.mark.skipif(not (MVH / "cue-conflict").is_dir(), reason="model-vs-human cue-conflict data not found")
def test_real_cue_conflict_against_raw_csv(tmp_path):
    res = shape_bias(MVH, observers=["humans", "subject-03", "resnet50", "bagnet33"])
    rows_by = {}
    for f in sorted((MVH / "cue-conflict").glob("*.csv")):
        with f.open(newline="") as fh:
            for r in csv.DictReader(fh):
                rows_by.setdefault(r["subj"], []).append(r)
    humans = [r for s, rs in rows_by.items() if s.startswith("subject-") for r in rs]
    for obs, rows in [("humans", humans), ("subject-03", rows_by["subject-03"]), ("resnet50", rows_by["resnet50"])]:
        sb, fs, ft = _toolbox_shape_bias(rows)
        row = res.row(obs)
        assert (row["shape_bias"], row["fraction_shape"], row["fraction_texture"]) == pytest.approx(
            (sb, fs, ft), abs=1e-12
        )
        # per shape class (the toolbox groups by `category`)
        for r in res.per_class:
            if r["observer"] == obs and r["class"] == "cat":
                assert r["shape_bias"] == pytest.approx(
                    _toolbox_shape_bias([x for x in rows if x["category"] == "cat"])[0], abs=1e-12
                )
    # sanity (Geirhos et al. 2019): humans are strongly shape-biased, ImageNet ResNet-50 texture-biased (~0.2)
    assert res.row("humans")["shape_bias"] > 0.9 and 0.15 < res.row("resnet50")["shape_bias"] < 0.3
    written = write_shape_bias(res, tmp_path, plots=True)
    with (tmp_path / "shape_bias.csv").open() as fh:
        out = list(csv.DictReader(fh))
    assert tuple(out[0]) == SHAPE_BIAS_COLUMNS and out[0]["observer"] == "humans"
    assert (tmp_path / "shape_bias.png") in written and (tmp_path / "shape_bias_classes.csv").is_file()


def test_not_cue_conflict(tmp_path):
    d = tmp_path / "edge"
    d.mkdir()
    (d / "edge_net_session-1.csv").write_text(
        "subj,session,trial,rt,object_response,category,condition,imagename\nnet,1,1,NaN,cat,cat,NaN,cat1.png\n"
    )
    with pytest.raises(ValueError, match="no dataset 'cue-conflict'"):
        shape_bias(tmp_path)
    with pytest.raises(ValueError, match="no texture classes"):
        shape_bias(tmp_path, dataset="edge")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ShapeBias(num_classes=16).higher_is_better is None
