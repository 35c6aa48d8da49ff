"""scripts/validation_report.py (docs/validation.md, report v2): its verdict / tally / interval rules against
hand-computed expectations and numpy, and end-to-end runs on tiny synthetic raw-data folders (no real data)."""

from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rdmetrics.datasets import CATEGORIES

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "validation_report.py"


@pytest.fixture(scope="module")
def vr():
    spec = importlib.util.spec_from_file_location("validation_report", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --------------------------------------------------------------------------------------------- pure helpers


def test_compare_interval_separation(vr):
    assert vr._compare((1.0, 2.0), (3.0, 4.0)) == "lower"
    assert vr._compare((3.0, 4.0), (1.0, 2.0)) == "higher"
    assert vr._compare((1.0, 3.0), (2.0, 4.0)) == "overlap"
    assert vr._compare((1.0, 3.0), (3.0, 4.0)) == "overlap"  # touching ends do not separate
    assert vr._compare((0.0, 5.0), (1.0, 2.0)) == "overlap"  # nested
    assert vr._compare((math.nan, 1.0), (3.0, 4.0)) == "n/a"
    assert vr._compare((1.0, 2.0), (3.0, math.inf)) == "n/a"


def test_abs_interval(vr):
    assert vr._abs(-0.2, 0.1) == (0.0, 0.2)  # straddles 0: |κ| in [0, max(|lo|, |hi|)]
    assert vr._abs(-0.1, 0.3) == (0.0, 0.3)
    assert vr._abs(-0.3, -0.1) == (0.1, 0.3)
    assert vr._abs(0.1, 0.4) == (0.1, 0.4)
    lo, hi = vr._abs(math.nan, 0.4)
    assert math.isnan(lo) and math.isnan(hi)


def test_counts_and_verdict_rules(vr):
    assert vr._counts(["lower", "lower", "overlap", "higher", "n/a"]) == "2/1/1"
    assert vr._counts([]) == "0/0/0"
    v = vr._verdict
    assert v([]) == "n/a" and v(["n/a", "n/a"]) == "n/a"
    assert v(["lower", "lower", "overlap"]) == "humans lower"  # 2 of 3 > half, none higher
    assert v(["lower", "lower", "higher"]) == "inconclusive"  # majority lower, but one model the other way
    assert v(["lower", "overlap", "overlap"]) == "inconclusive"  # 1 of 3 is no majority
    assert v(["lower", "lower", "overlap", "overlap"]) == "inconclusive"  # 2 of 4 is not > half
    assert v(["lower", "lower", "n/a"]) == "humans lower"  # n/a does not count towards n
    assert v(["lower", "overlap", "n/a"]) == "inconclusive"  # 1 of 2 is not > half
    assert v(["higher", "higher", "lower"]) == "humans higher"
    assert v(["higher", "higher", "overlap", "overlap", "overlap"]) == "inconclusive"


def test_severity_at_accuracy_linear_interpolation(vr):
    x = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    acc = torch.tensor([0.9, 0.7, 0.3], dtype=torch.float64)
    assert vr._severity_at_accuracy(x, acc, 0.5) == pytest.approx(1.5)  # 1 + (0.5-0.7)/(0.3-0.7)
    assert vr._severity_at_accuracy(x, acc, 0.8) == pytest.approx(0.5)
    assert vr._severity_at_accuracy(x, acc, 0.7) == pytest.approx(1.0)  # exactly at a level
    assert vr._severity_at_accuracy(x, acc, 0.95) is None and vr._severity_at_accuracy(x, acc, 0.1) is None
    # non-monotone accuracy: the first crossing from the least severe level
    x4 = torch.tensor([10.0, 20.0, 30.0, 40.0], dtype=torch.float64)
    acc4 = torch.tensor([0.9, 0.4, 0.6, 0.2], dtype=torch.float64)
    assert vr._severity_at_accuracy(x4, acc4, 0.5) == pytest.approx(18.0)  # 10 + 0.4/0.5 * 10


def test_matched_reading_point(vr):
    assert vr.matched([[0.1, 0.5, 0.3], [0.2, 0.7]]) == pytest.approx(0.35)  # midpoint of [0.2, 0.5]
    assert vr.matched([[0.1, 0.2], [0.3, 0.6]]) is None  # disjoint D ranges
    assert vr.matched([[0.1, 0.3], [0.3, 0.6]]) is None  # a single shared point is no range


def test_basic_interval_against_numpy(vr):
    rng = np.random.default_rng(3)
    point, ref = 1.0, 1.1
    reps = rng.normal(1.15, 0.2, size=200)
    q_lo, q_hi = np.quantile(reps, [0.025, 0.975])  # numpy's default linear interpolation
    want = (point - (q_hi - ref), point - (q_lo - ref))  # basic interval, pivot θ* − t
    assert want[0] < point < want[1]
    v, lo, hi = vr._interval(*(torch.tensor(v, dtype=torch.float64) for v in (point, reps, ref)), method="basic")
    assert v == point and (lo, hi) == pytest.approx(want, abs=1e-12)
    # the report's default (the library's "smoothed"): same pivot interval, bias-corrected value θ̂ − (mean θ* − t)
    v, lo, hi = vr._interval(*(torch.tensor(v, dtype=torch.float64) for v in (point, reps, ref)))
    assert v == pytest.approx(point - (reps.mean() - ref), abs=1e-12)
    assert (lo, hi) == pytest.approx((min(want[0], v), max(want[1], v)), abs=1e-12)
    # reference = point: the plain reverse-percentile interval [2θ̂ − q_hi, 2θ̂ − q_lo]
    reps2 = rng.normal(1.0, 0.3, size=100)
    q_lo, q_hi = np.quantile(reps2, [0.025, 0.975])
    _, lo, hi = vr._interval(*(torch.tensor(v, dtype=torch.float64) for v in (point, reps2, point)), method="basic")
    assert (lo, hi) == pytest.approx((2 * point - q_hi, 2 * point - q_lo), abs=1e-12)


def _sig(b, k):
    return {"beta_ci": b, "abs_kappa_ci": k}


def test_compare_pooled_and_subject_verdicts(vr):
    """β and |κ| judged separately, pooled humans vs each model and each subject vs each model."""
    key = ("distortion", vr.DEFAULT)
    sigs = {
        vr.HUMANS: _sig((1.0, 2.0), (0.0, 0.5)),
        "subject-01": _sig((1.0, 2.0), (0.0, 0.1)),
        "subject-02": _sig((2.5, 5.0), (0.0, 0.1)),
        "m1": _sig((3.0, 4.0), (0.2, 0.3)),
        "m2": _sig((3.0, 4.0), (0.2, 0.3)),
        "m3": _sig((0.0, 0.5), (0.2, 0.3)),
    }
    entry = {"obs": {o: {"sig": {key: s}} for o, s in sigs.items()}}
    exp = SimpleNamespace(models=("m1", "m2", "m3"), subjects=("subject-01", "subject-02"))
    res = vr.compare(entry, exp, *key)
    b, k = res["beta"], res["kappa"]
    assert b["pooled"] == ["lower", "lower", "higher"] and b["verdict"] == "inconclusive"
    # pairs ordered model-major: (s01, m1), (s02, m1), (s01, m2), (s02, m2), (s01, m3), (s02, m3)
    assert b["subjects"] == ["lower", "overlap", "lower", "overlap", "higher", "higher"]
    assert b["subj_verdict"] == "inconclusive"
    assert k["pooled"] == ["overlap"] * 3 and k["verdict"] == "inconclusive"
    assert k["subjects"] == ["lower"] * 6 and k["subj_verdict"] == "humans lower"
    # a model without this fit counts as n/a, not as a vote
    del entry["obs"]["m3"]["sig"][key]
    res = vr.compare(entry, exp, *key)
    assert res["beta"]["pooled"] == ["lower", "lower", "n/a"] and res["beta"]["verdict"] == "humans lower"


def test_formatting_helpers_against_numpy(vr):
    assert vr._f(0.12345) == "0.123" and vr._f(2, 1) == "2.0"
    assert vr._f(None) == vr._f(math.nan) == vr._f("x") == "–"
    assert vr._span([0.5, math.nan, 0.25, 1.0]) == "0.25–1.00" and vr._span([math.nan]) == vr._span([]) == "–"
    assert vr._mean([1.0, math.nan, 3.0]) == 2.0 and math.isnan(vr._mean([math.nan]))
    a, b = [0.1, 0.4, 0.35, 0.8, math.nan], [1.0, 2.5, 2.0, 4.2, 7.0]
    assert vr._pearson(a, b) == pytest.approx(np.corrcoef(a[:4], b[:4])[0, 1], abs=1e-12)
    assert math.isnan(vr._pearson([1.0, 2.0], [2.0, 3.0]))  # < 3 finite pairs


# ------------------------------------------------------------------------------------------- end to end


def _write_raw(root: Path, exp="contrast", levels=("c100", "c30", "c10", "c05"), subjects=4, models=("a", "b")):
    """Subjects lose accuracy slowly, models fast; 16 classes x 10 trials per level. Returns observer -> counts."""
    rng = np.random.default_rng(0)
    folder = root / exp
    folder.mkdir(parents=True)
    obs = [(f"subject-{i:02d}", "Session", f"s{i:02d}", 0.25) for i in range(1, subjects + 1)]
    obs += [(f"net-{m}", "session", "dnn", 0.4) for m in models]
    counts = {}
    for name, header, code, drop in obs:
        cm = np.zeros((len(levels), 16, 16), dtype=np.int64)
        lines = [f"subj,{header},trial,rt,object_response,category,condition,imagename"]
        trial = 0
        for li, cond in enumerate(levels):
            for ci, cat in enumerate(CATEGORIES):
                for rep in range(10):
                    trial += 1
                    resp = ci if rng.random() < max(0.95 - drop * li, 0.1) else int(rng.integers(16))
                    cm[li, ci, resp] += 1
                    img = f"{trial:04d}_x_{code}_{cond}_{cat}_10_n0_{ci}_{rep}.png"
                    lines.append(f"{name},1,{trial},NaN,{CATEGORIES[resp]},{cat},{cond},{img}")
        (folder / f"{exp}_{name}_session-1.csv").write_text("\n".join(lines) + "\n")
        counts[name] = cm
    return counts


HEADINGS = (
    "## Conclusion",
    "## Setup",
    "## Verdicts per experiment (default estimator)",
    "## Sensitivity to the rate estimator",
    "## Reference columns",
    "## D* depends on the model set",
    "## Directional-confusion asymmetry",
    "## Simulation: broad-weak vs sparse-strong asymmetry",
    "## Human-likeness of the models' signatures",
    "## Model-vs-human benchmark",
    "## Per experiment",
    "## Caveats",
)


def test_report_end_to_end_on_tiny_folder(vr, tmp_path, capsys):
    counts = _write_raw(tmp_path / "raw")
    out = tmp_path / "docs" / "validation.md"
    rc = vr.main(["--data", str(tmp_path / "raw"), "--out", str(out), "--n-bootstrap", "10"])
    assert rc == 0, capsys.readouterr().err
    text = out.read_text()
    assert text.startswith("# Validation") and "python scripts/validation_report.py" in text
    for h in (*HEADINGS, "### contrast"):
        assert h in text, h
    figs = tmp_path / "docs" / "figures"
    for f in ("frontier_contrast.png", "beta_both_axes.png", "asymmetry_vs_accuracy.png"):
        assert (figs / f).stat().st_size > 1000, f
    assert "10 bootstrap replicates" in text
    # per-level accuracy in the per-experiment table = trace / total of the CSV counts (numpy)
    pooled = sum(c for o, c in counts.items() if o.startswith("subject"))
    for o, cm in [*counts.items(), ("humans", pooled)]:
        row = re.search(rf"^\| {re.escape(o)} \| (.*) \|$", text.split("### contrast")[1], re.M)
        got = [float(cell.split(" / ")[0]) for cell in row.group(1).split(" | ")]
        want = np.trace(cm, axis1=1, axis2=2) / cm.sum(axis=(1, 2))
        assert got == pytest.approx(want, abs=0.005 + 1e-9), o
    # verdict table: every axis has a row whose pooled counts cover the 2 models and subject counts the 4 x 2 pairs
    rows = re.findall(r"^\| contrast \| (distortion|severity|severity@acc) \| [^|]+ \| (\d+)/(\d+)/(\d+) \| [^|]+ \| "
                      r"(\d+)/(\d+)/(\d+) \|", text, re.M)  # fmt: skip
    assert sorted(r[0] for r in rows) == ["distortion", "severity", "severity@acc"]
    for r in rows:
        assert sum(map(int, r[1:4])) == 2 and sum(map(int, r[4:7])) == 8
    # the benchmark table ranks the two models (contrast is one of the benchmark's datasets)
    bench = text.split("## Model-vs-human benchmark")[1].split("## Per experiment")[0]
    assert "| net-a |" in bench and "| net-b |" in bench


def test_report_degrades_on_partial_data(vr, tmp_path, capsys):
    """A 2-level experiment and one without models get no comparison (with the reason), not a crash."""
    _write_raw(tmp_path / "raw", exp="contrast", levels=("c100", "c05"))
    _write_raw(tmp_path / "raw", exp="rotation", levels=("0", "90", "180"), models=())
    out = tmp_path / "validation.md"
    rc = vr.main(["--data", str(tmp_path / "raw"), "--out", str(out), "--n-bootstrap", "5"])
    assert rc == 0, capsys.readouterr().err
    text = out.read_text()
    assert "| contrast | – | – | n/a (< 3 levels) |" in text
    assert "| rotation | – | – | n/a (needs human subjects and models) |" in text
    assert "No humans-vs-models comparison (needs human subjects and models)." in text
    assert "### contrast" in text and "### rotation" in text
    assert (tmp_path / "figures" / "frontier_rotation.png").is_file()


def test_report_no_parametric_experiment_is_error(vr, tmp_path, capsys):
    _write_raw(tmp_path / "raw", exp="edge", levels=("0",))
    out = tmp_path / "validation.md"
    assert vr.main(["--data", str(tmp_path / "raw"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("validation_report: error:") and "parametric" in err
    assert not out.exists()
