"""The README's main job (``rdmetrics demo``) in quick mode: outputs exist, the numbers make sense, and the output
folder holds either the complete run or nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from rdmetrics.functional import hamming_rd_bound


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from rdmetrics.cli import main

    out = tmp_path_factory.mktemp("demo")
    (out / "stale.png").write_bytes(b"from an earlier run")
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", "--overwrite"]) == 0
    return out, json.loads((out / "report.json").read_text())


def test_demo_writes_report_and_plots(demo_report) -> None:
    out, report = demo_report
    assert sorted(p.name for p in out.iterdir()) == ["generative.png", "logs", "rd_frontiers.png", "report.json"]
    assert (out / "logs" / "version_0" / "metrics.csv").is_file()  # the Lightning CSV logs are part of the output
    assert report["plots"] == [str(out / "rd_frontiers.png"), str(out / "generative.png")]
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


def test_demo_refuses_unsafe_or_non_empty_output_before_work(tmp_path, monkeypatch, capsys) -> None:
    import rdmetrics.demo
    from rdmetrics.cli import main

    def no_work(*a, **k):
        raise AssertionError("the demo started working although its output was refused")

    monkeypatch.setattr(rdmetrics.demo, "load_digits_images", no_work)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "full", target_is_directory=True)
    os.mkfifo(tmp_path / "fifo")
    for name, match in [("full", "not empty"), ("link", "symbolic link"), ("fifo", "FIFO")]:
        assert main(["demo", "--quick", "--out", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("rdmetrics demo: error:") and match in err[0]
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "full", "link"]


def test_demo_interrupted_leaves_nothing(tmp_path, monkeypatch, capsys) -> None:
    """Ctrl-C after training (the Lightning logs exist by then) leaves neither OUT nor OUT/logs behind."""
    import rdmetrics.sweep
    from rdmetrics.cli import main

    staged: list[list[str]] = []

    def interrupt(*a, **k):
        staging = [p for p in tmp_path.iterdir() if p.name.startswith(".out.tmp-")]
        staged.extend(sorted(q.name for q in p.iterdir()) for p in staging)
        raise KeyboardInterrupt

    monkeypatch.setattr(rdmetrics.sweep, "run_sweep", interrupt)
    out = tmp_path / "out"
    assert main(["demo", "--quick", "--epochs", "1", "--out", str(out), "--no-progress", "--no-plots"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert staged == [["logs"]]  # the run was staged next to OUT ...
    assert list(Path(tmp_path).iterdir()) == []  # ... and removed: no OUT, no OUT/logs, no staging folder
