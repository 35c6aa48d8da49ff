"""Tests for rdmetrics.datasets.own_model: any classifier over model-vs-human stimuli -> a raw-data CSV that the
reader, the benchmark, shape bias and the RD analysis accept.

Synthetic stimuli: solid-grey PNGs named like the toolbox's stimuli; the grey level encodes the class a tiny model
(no weights, no downloads) answers. Expected answers come from the grey levels and the closed-form ImageNet
normalisation, and the benchmark numbers are re-counted by hand here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from rdmetrics.datasets import CATEGORIES, load_model_vs_human, mvh_benchmark, shape_bias
from rdmetrics.datasets.own_model import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    evaluate_model_on_stimuli,
    parse_stimulus_name,
)
from rdmetrics.label_maps import imagenet16_class_indices

PIL = pytest.importorskip("PIL.Image")

HEADER_H = "subj,Session,trial,rt,object_response,category,condition,imagename\n"


def _grey(i: int) -> int:
    return 8 + 15 * i  # grey level of class i (0..15): 8, 23, ..., 233


class GreyToClass(nn.Module):
    """Answers the class whose grey level is nearest the image's mean red channel, as ImageNet-1k logits."""

    def __init__(self, imagenet: bool = True) -> None:
        super().__init__()
        centres = torch.tensor([(_grey(i) / 255 - IMAGENET_MEAN[0]) / IMAGENET_STD[0] for i in range(16)])
        self.register_buffer("centres", centres)
        idx = imagenet16_class_indices()
        self.first_index = [idx[c][0] for c in CATEGORIES]
        self.imagenet = imagenet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = (x[:, 0].mean((1, 2))[:, None] - self.centres).abs().argmin(1)
        if not self.imagenet:
            return torch.nn.functional.one_hot(cls, 16).float()
        logits = torch.zeros(x.shape[0], 1000)
        logits[torch.arange(x.shape[0]), torch.tensor(self.first_index)[cls]] = 10.0
        return logits


def _png(path: Path, grey: int, size: int = 224) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.fromarray(np.full((size, size, 3), grey, dtype=np.uint8)).save(path)


def test_parse_stimulus_name():
    assert parse_stimulus_name("0001_cop_dnn_c30_knife_10_n03041632_7380.png") == ("c30", "knife")
    assert parse_stimulus_name("0002_eid_dnn_1-10-10_oven_10_n04111531_17072.png") == ("1-10-10", "oven")
    assert parse_stimulus_name("edge/cat/cat7.png") == ("NaN", "cat")
    assert parse_stimulus_name("bird3-clock2.png") == ("NaN", "bird")
    with pytest.raises(ValueError, match="not a model-vs-human stimulus name"):
        parse_stimulus_name("holiday.png")


def test_parametric_stimuli_to_benchmark(tmp_path):
    # contrast-like stimuli: 2 conditions x 4 images; the image shows class `shown` (grey level), true class `cat`
    stim = tmp_path / "stimuli" / "contrast" / "dnn" / "session-1"
    plan = []  # (file name, condition, true category, class the model sees)
    for k in range(8):
        cond = "c100" if k < 4 else "c05"
        true = CATEGORIES[k % 3]
        shown = true if k <= 4 else CATEGORIES[7]  # wrong (cat) on trials 6-8
        name = f"{k + 1:04d}_cop_dnn_{cond}_{true}_10_n0{k}_{k}.png"
        _png(stim / name, _grey(CATEGORIES.index(shown)))
        plan.append((name, cond, true, shown))
    raw = tmp_path / "raw-data"
    # one human who answers correctly on the first 6 trials and wrongly ('na') on the rest
    text = HEADER_H
    for k, (name, cond, true, _) in enumerate(plan):
        answer = true if k < 6 else "na"
        text += f"subject-01,1,{k + 1},0.5,{answer},{true},{cond},{name.replace('_dnn_', '_s01_')}\n"
    (raw / "contrast").mkdir(parents=True)
    (raw / "contrast" / "contrast_subject-01_session_1.csv").write_text(text)

    path = evaluate_model_on_stimuli(GreyToClass(), stim, raw, model_name="grey-net", batch_size=3)
    assert path == raw / "contrast" / "contrast_grey-net_session-1.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["imagename"], r["condition"], r["category"], r["object_response"]) for r in rows] == plan
    assert {r["subj"] for r in rows} == {"grey-net"} and {r["rt"] for r in rows} == {"NaN"}

    # the reader aligns it with the human file (its confusion matrices are the RD inputs); the benchmark accepts it
    exp = load_model_vs_human(raw)["contrast"]
    assert exp.models == ("grey-net",) and len(exp.trials.paired("subject-01", "grey-net")[0]) == 8
    assert exp.accuracy("grey-net").tolist() == [1.0, 0.25]
    res = mvh_benchmark(raw, exclude=False)
    # c100: model right on 4/4, human 4/4 -> diff 0, c_obs 1, kappa 1 (c_obs == 1);
    # c05: model right only on trial 5, human on trials 5-6 -> accs .25/.5: diff .0625, c_obs 3/4,
    # c_exp = .25*.5 + .75*.5 = .5, kappa (.75 - .5)/.5 = .5
    row = res.row("grey-net")
    assert row["accuracy_difference"] == pytest.approx(0.0625 / 2)
    assert row["observed_consistency"] == pytest.approx((1 + 0.75) / 2)
    assert row["error_consistency"] == pytest.approx((1 + 0.5) / 2)
    assert row["ood_accuracy"] == pytest.approx(5 / 8)
    with pytest.raises(ValueError, match="exists"):
        evaluate_model_on_stimuli(GreyToClass(), stim, raw, model_name="grey-net")


def test_cue_conflict_bare_names_and_16_class_outputs(tmp_path):
    stim = tmp_path / "cue-conflict"
    plan = [("cat", "dog", "cat"), ("cat", "car", "car"), ("dog", "cat", "dog"), ("oven", "oven", "oven")]
    for i, (shape, texture, shown) in enumerate(plan, start=1):
        _png(stim / shape / f"{shape}{i}-{texture}{i + 1}.png", _grey(CATEGORIES.index(shown)), size=64)
    out = evaluate_model_on_stimuli(
        GreyToClass(imagenet=False), stim, tmp_path / "out.csv", model_name="net", label_map=None, image_size=32
    )
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert {r["condition"] for r in rows} == {"NaN"}
    assert sorted((r["category"], r["object_response"]) for r in rows) == sorted((s, a) for s, _, a in plan)
    # shape bias from the written CSV: shape decisions 2 (trials 1, 3), texture 1 (trial 2); trial 4 has no conflict
    raw = tmp_path / "raw"
    (raw / "cue-conflict").mkdir(parents=True)
    out.rename(raw / "cue-conflict" / "cue-conflict_net_session-1.csv")
    res = shape_bias(raw)
    assert res.row("net")["shape_bias"] == pytest.approx(2 / 3)
    assert res.row("net")["fraction_texture"] == pytest.approx(1 / 4)


def test_bad_inputs(tmp_path):
    stim = tmp_path / "edge"
    _png(stim / "cat1.png", 10, size=16)
    with pytest.raises(ValueError, match="subject-"):
        evaluate_model_on_stimuli(GreyToClass(), stim, tmp_path / "o.csv", model_name="subject-99")
    with pytest.raises(ValueError, match=r"\[batch, 16\] category scores"):
        evaluate_model_on_stimuli(nn.Flatten(), stim, tmp_path / "o.csv", label_map=None, image_size=8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no stimulus images"):
        evaluate_model_on_stimuli(GreyToClass(), tmp_path / "empty", tmp_path / "o.csv")
    _png(tmp_path / "odd" / "holiday.png", 10, size=16)
    with pytest.raises(ValueError, match=r"holiday\.png: not a model-vs-human stimulus name"):
        evaluate_model_on_stimuli(GreyToClass(), tmp_path / "odd", tmp_path / "o.csv")
