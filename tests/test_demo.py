"""The README's main job (``rdmetrics demo``) in quick mode: outputs exist and the numbers make sense."""

from __future__ import annotations

import json

import pytest
import torch

from rdmetrics.functional import hamming_rd_bound


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from rdmetrics.cli import main

    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    return out, json.loads((out / "report.json").read_text())


def test_demo_writes_report_and_plots(demo_report) -> None:
    out, report = demo_report
    assert (out / "rd_frontiers.png").stat().st_size > 10_000
    assert (out / "generative.png").stat().st_size > 10_000
    assert set(report["rate_distortion"]) == {"contrast", "uniform-noise", "low-pass"}
    assert report["clean_test_accuracy"] > 0.5  # the CNN learned something in 2 epochs


def test_demo_rd_points_respect_the_hamming_bound(demo_report) -> None:
    _, report = demo_report
    for family, res in report["rate_distortion"].items():
        d = torch.tensor(res["distortion"], dtype=torch.float64)
        r = torch.tensor(res["rate_plugin"], dtype=torch.float64)
        assert (r >= hamming_rd_bound(d, 10) - 1e-9).all(), family
        assert len(d) == len(res["levels"])
    contrast = report["rate_distortion"]["contrast"]
    # level 1.0 is the identity on grayscale digits: its (uniform-prior) accuracy is the clean balanced accuracy
    assert contrast["accuracy"][0] == pytest.approx(report["clean_test_balanced_accuracy"], abs=1e-6)
    assert contrast["accuracy"][-1] < contrast["accuracy"][0]


def test_demo_generative_failure_modes_separate(demo_report) -> None:
    _, report = demo_report
    gen = report["generative"]
    faithful = gen["faithful (held-out real)"]
    assert gen["mode dropping (digits 0-4)"]["rce"] > faithful["rce"] + 1.0
    assert gen["low fidelity (noise 0.38)"]["pce"] > faithful["pce"] + 1.0
    assert gen["mode collapse (class means)"]["re"] < faithful["re"] - 1.0
    assert gen["mode dropping (digits 0-4)"]["recall"] < faithful["recall"]
