"""Tests for the ``rdmetrics`` command line.

Numbers are checked against references written here: accuracy and plug-in mutual information in numpy from the
raw counts / raw CSVs, the quadratic-frontier slope and curvature with ``numpy.polyfit``, and PRDC with the ``prdc``
package. Error paths must print exactly one line on stderr, exit non-zero and leave no output behind.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rdmetrics.cli import main

MVH = Path(
    os.environ.get("RDMETRICS_MVH_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model-vs-human"
)
CATS = sorted(
    "airplane bear bicycle bird boat bottle car cat chair clock dog elephant keyboard knife oven truck".split()
)


def _np_mi_uniform(counts: np.ndarray) -> float:
    """Plug-in I(X;Y) in bits with a uniform prior over the rows (float64)."""
    chan = counts / counts.sum(1, keepdims=True)
    joint = chan / counts.shape[0]
    py = joint.sum(0, keepdims=True)
    px = np.full((counts.shape[0], 1), 1.0 / counts.shape[0])
    nz = joint > 0
    return float((joint[nz] * np.log2(joint[nz] / (px * py)[nz])).sum())


def _symmetric_counts(eps: float, c: int = 4, n: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = np.full((c, c), eps / (c - 1))
    np.fill_diagonal(p, 1 - eps)
    return np.stack([rng.multinomial(n, row) for row in p]).astype(np.int64)


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture
def npy_files(tmp_path):
    mats = [_symmetric_counts(e, seed=i) for i, e in enumerate([0.05, 0.2, 0.35, 0.5, 0.7])]
    files = []
    for i, m in enumerate(mats):
        f = tmp_path / f"level{i}.npy"
        np.save(f, m)
        files.append(str(f))
    return files, mats


# ------------------------------------------------------------------------------------------------------ confusion


def test_confusion_npy_against_numpy(npy_files, tmp_path, capsys):
    files, mats = npy_files
    out = tmp_path / "report.json"
    rc = main(["confusion", *files, "--method", "quadratic", "--correction", "none", "--out", str(out), "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    rep = json.loads(out.read_text())
    assert printed == rep
    acc = [np.trace(m / m.sum(1, keepdims=True)) / 4 for m in mats]  # uniform-prior (balanced) accuracy
    mi = [_np_mi_uniform(m) for m in mats]
    np.testing.assert_allclose(rep["levels"]["accuracy"], acc, atol=1e-12)
    np.testing.assert_allclose(rep["levels"]["rate_plugin"], mi, atol=1e-10)
    np.testing.assert_allclose(rep["levels"]["rate"], mi, atol=1e-10)
    assert rep["levels"]["condition"] == [f"level{i}" for i in range(5)]
    # quadratic frontier R(D), slope/curvature at the midpoint of the D range, with numpy.polyfit
    d = 1 - np.array(acc)
    a2, a1, _ = np.polyfit(d, mi, 2)
    x0 = (d.min() + d.max()) / 2
    r1, r2 = a1 + 2 * a2 * x0, 2 * a2
    assert rep["signature"]["beta"] == pytest.approx(-r1, rel=1e-8)
    assert rep["signature"]["kappa"] == pytest.approx(r2 / (1 + r1**2) ** 1.5, rel=1e-6, abs=1e-10)
    assert rep["note"] == ""


def test_confusion_csv_and_stacked_npy_agree(npy_files, tmp_path, capsys):
    files, mats = npy_files
    csv_files = []
    for i, m in enumerate(mats):
        f = tmp_path / f"c{i}.csv"
        with f.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["true\\pred", "a", "b", "c", "d"])  # header row and label column are skipped
            for lab, row in zip("abcd", m):
                w.writerow([lab, *row.tolist()])
        csv_files.append(str(f))
    stacked = tmp_path / "all.npy"
    np.save(stacked, np.stack(mats))
    names = ["n1", "n2", "n3", "n4", "n5"]
    assert main(["confusion", *csv_files, "--json", "--conditions", *names]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(["confusion", str(stacked), "--json", "--conditions", *names]) == 0
    b = json.loads(capsys.readouterr().out)
    assert main(["confusion", *files, "--json", "--conditions", *names]) == 0
    c = json.loads(capsys.readouterr().out)
    assert a["levels"] == b["levels"] == c["levels"]
    assert a["levels"]["condition"] == names
    assert a["signature"]["beta"] == pytest.approx(b["signature"]["beta"], rel=1e-12)


def test_confusion_table_and_bootstrap(npy_files, capsys):
    files, _ = npy_files
    assert main(["confusion", *files, "--n-bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "beta" in out and "kappa" in out and "[" in out  # CI brackets printed


def test_confusion_two_levels_gives_note(npy_files, capsys):
    files, _ = npy_files
    assert main(["confusion", *files[:2], "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert "at least 3" in rep["note"] and rep["signature"] == {}
    assert len(rep["levels"]["rate"]) == 2


@pytest.mark.parametrize(
    "setup, match",
    [
        ("missing", "not found"),
        ("txt", "unsupported format"),
        ("ndim", "confusion matrix per condition"),
        ("negative", "negative"),
        ("fraction", "integer counts"),
        ("shape", "differ in shape"),
        ("nan", "NaN"),
        ("conditions", "--conditions has"),  # one stacked [L, C, K] file: checked once it is loaded
        ("empty", "empty"),
        ("corrupt", "cannot read"),
    ],
)
def test_confusion_errors(tmp_path, npy_files, capsys, setup, match):
    files, mats = npy_files
    bad = tmp_path / "bad.npy"
    extra: list[str] = []
    if setup == "missing":
        args = [files[0], str(tmp_path / "nope.npy")]
    elif setup == "txt":
        (tmp_path / "m.txt").write_text("1 2\n3 4\n")
        args = [files[0], str(tmp_path / "m.txt")]
    elif setup == "ndim":
        np.save(bad, np.ones(4))
        args = [files[0], str(bad)]
    elif setup == "negative":
        np.save(bad, -mats[0])
        args = [files[0], str(bad), files[1]]
    elif setup == "fraction":
        np.save(bad, mats[0] / 7.0)
        args = [files[0], str(bad), files[1]]
    elif setup == "shape":
        np.save(bad, np.ones((3, 3)))
        args = [files[0], str(bad), files[1]]
    elif setup == "nan":
        np.save(bad, np.full((4, 4), np.nan))
        args = [files[0], str(bad), files[1]]
    elif setup == "conditions":
        np.save(bad, np.stack(mats))
        args, extra = [str(bad)], ["--conditions", "a", "b"]
    elif setup == "empty":
        np.save(bad, np.zeros((0, 4)))
        args = [str(bad)]
    else:
        bad.write_bytes(b"not a numpy file")
        args = [files[0], str(bad)]
    out = tmp_path / "out.json"
    rc = main(["confusion", *args, *extra, "--out", str(out)])
    assert rc != 0
    line = _err_line(capsys)
    assert line.startswith("rdmetrics confusion: error:") and match in line
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_out_folder_missing_is_error(npy_files, tmp_path, capsys):
    files, _ = npy_files
    rc = main(["confusion", *files, "--out", str(tmp_path / "no" / "such" / "r.json")])
    assert rc == 1 and "does not exist" in _err_line(capsys)


# ------------------------------------------------------------------------------------------------------------ mvh


def _write_tiny_mvh(root: Path) -> dict[str, np.ndarray]:
    """A 3-level contrast experiment: one subject and one model, 16 images x 2 per level; returns the counts."""
    rng = np.random.default_rng(1)
    d = root / "contrast"
    d.mkdir(parents=True)
    counts = {}
    for obs, header, code in [("subject-01", "Session", "s01"), ("toynet", "session", "dnn")]:
        cm = np.zeros((3, 16, 17), dtype=np.int64)
        lines = [f"subj,{header},trial,rt,object_response,category,condition,imagename"]
        trial = 0
        for li, cond in enumerate(["c100", "c30", "c05"]):
            for ci, cat in enumerate(CATS):
                for rep in range(4):
                    trial += 1
                    if rng.random() < 0.9 - 0.35 * li:
                        resp = ci
                    else:
                        resp = int(rng.integers(17 if obs.startswith("subject") else 16))
                    name = "na" if resp == 16 else CATS[resp]
                    cm[li, ci, resp] += 1
                    img = f"{trial:04d}_cop_{code}_{cond}_{cat}_10_n0_{ci}{rep}.png"
                    lines.append(f"{obs},1,{trial},NaN,{name},{cat},{cond},{img}")
        (d / f"contrast_{obs}_session-1.csv").write_text("\n".join(lines) + "\n")
        counts[obs] = cm
    return counts


def test_mvh_synthetic(tmp_path, capsys):
    counts = _write_tiny_mvh(tmp_path / "raw")
    out = tmp_path / "res"
    rc = main(["mvh", str(tmp_path / "raw"), "--out", str(out), "--n-bootstrap", "20", "--method", "hull"])
    assert rc == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "== contrast" in printed and "toynet" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "frontier_contrast.png",
        "levels.csv",
        "report.json",
        "signatures.csv",
    ]
    with (out / "levels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 * 3  # humans, subject-01, toynet x 3 levels
    for r in rows:
        cm = counts["subject-01" if r["observer"] == "humans" else r["observer"]][int(r["level"])]
        acc = np.trace(cm[:, :16] / cm.sum(1, keepdims=True)) / 16
        assert float(r["accuracy"]) == pytest.approx(acc, abs=1e-12)
        assert float(r["rate_plugin"]) == pytest.approx(_np_mi_uniform(cm), abs=1e-10)
    rep = json.loads((out / "report.json").read_text())
    sig = rep["experiments"]["contrast"]["observers"]["toynet"]["signature"]
    assert set(sig) >= {"beta", "kappa", "auc", "beta_ci", "kappa_ci", "auc_ci"}
    with (out / "signatures.csv").open() as fh:
        srows = {r["observer"]: r for r in csv.DictReader(fh)}
    assert float(srows["toynet"]["beta"]) == pytest.approx(sig["beta"], rel=1e-12)


def test_mvh_matched_at(tmp_path, capsys):
    counts = _write_tiny_mvh(tmp_path / "raw")
    out = tmp_path / "res"
    assert main(["mvh", str(tmp_path / "raw"), "--at", "matched", "--n-bootstrap", "0", "--out", str(out)]) == 0
    capsys.readouterr()
    rep = json.loads((out / "report.json").read_text())["experiments"]["contrast"]
    # D per level (uniform prior) of each observer in numpy; pooled humans == the only subject here
    ds = [1 - np.einsum("lxx->l", c[:, :, :16] / c.sum(2, keepdims=True)) / 16 for c in counts.values()]
    lo, hi = max(d.min() for d in ds), min(d.max() for d in ds)
    assert rep["at"] == pytest.approx((lo + hi) / 2, abs=1e-12)
    for o in rep["observers"].values():
        assert o["signature"]["at"] == pytest.approx((lo + hi) / 2, abs=1e-12)


def test_mvh_at_rejects_words(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["mvh", str(tmp_path), "--at", "soon"])
    assert exc.value.code == 2


def test_mvh_errors_leave_nothing(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["mvh", str(tmp_path / "absent"), "--out", str(out)]) == 1
    assert "not found" in _err_line(capsys) and not out.exists()
    _write_tiny_mvh(tmp_path / "raw")
    with pytest.raises(SystemExit) as exc:  # an unknown experiment is a usage error, found before any work
        main(["mvh", str(tmp_path / "raw"), "--experiments", "rotation", "--out", str(out)])
    assert exc.value.code == 2 and "rotation" in capsys.readouterr().err and not out.exists()
    bad = tmp_path / "raw" / "contrast" / "contrast_broken_session-1.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["mvh", str(tmp_path / "raw"), "--out", str(out)]) == 1
    assert str(bad) in _err_line(capsys) and not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.skipif(not MVH.is_dir(), reason=f"model-vs-human data not found at {MVH}")
def test_mvh_real_contrast(tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["mvh", str(MVH), "--experiments", "contrast", "--n-bootstrap", "0", "--out", str(out), "--no-plots"])
    assert rc == 0
    capsys.readouterr()
    with (out / "levels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["observer"] == "humans"]
    # independent: pooled human counts per level from the raw CSVs
    raw = []
    for f in sorted((MVH / "contrast").glob("*subject-*.csv")):
        with f.open() as fh:
            raw += list(csv.DictReader(fh))
    for r in rows:
        sel = [x for x in raw if x["condition"] == r["condition"]]
        cm = np.zeros((16, 17))
        for x in sel:
            cm[CATS.index(x["category"]), [*CATS, "na"].index(x["object_response"])] += 1
        assert int(r["n_trials"]) == len(sel) == 640
        assert float(r["accuracy"]) == pytest.approx(np.mean([x["object_response"] == x["category"] for x in sel]))
        assert float(r["rate_plugin"]) == pytest.approx(_np_mi_uniform(cm), abs=1e-10)
    assert [r["condition"] for r in rows] == ["c100", "c50", "c30", "c15", "c10", "c05", "c03", "c01"]
    assert float(rows[0]["rate_plugin"]) == pytest.approx(3.215, abs=1e-3)  # research-rd.md §7 cross-check


# ----------------------------------------------------------------------------------------------------- generative


def test_generative_against_prdc(tmp_path, capsys):
    pytest.importorskip("prdc")
    try:
        from rdmetrics.functional import precision_recall_entropy
    except (ImportError, AttributeError):
        pytest.skip("rdmetrics.functional.precision_recall_entropy not available yet")
    from prdc import compute_prdc

    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 6))
    fake = rng.normal(loc=0.4, size=(100, 6))
    np.save(tmp_path / "real.npy", real)
    torch.save(torch.from_numpy(fake), tmp_path / "fake.pt")
    out = tmp_path / "g.json"
    rc = main(["generative", str(tmp_path / "real.npy"), str(tmp_path / "fake.pt"), "--k", "5", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    printed = json.loads(capsys.readouterr().out)
    rep = json.loads(out.read_text())
    assert printed == rep and rep["k"] == 5 and rep["n_real"] == 120 and rep["n_fake"] == 100
    ref = compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    for key, val in ref.items():
        assert rep[key] == pytest.approx(float(val), abs=1e-9), key
    expected = precision_recall_entropy(torch.from_numpy(real), torch.from_numpy(fake), k=5, prdc=True)
    for key, val in expected.items():
        if isinstance(val, torch.Tensor) and val.numel() == 1 and math.isfinite(float(val)):
            assert rep[key] == pytest.approx(float(val), abs=1e-12), key


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: np.save(p / "f.npy", np.ones(5)), "2-D"),
        (lambda p: np.save(p / "f.npy", np.array([[1.0, np.nan]])), "NaN"),
        (lambda p: np.save(p / "f.npy", np.ones((3, 4))), "dimension"),
        (lambda p: torch.save({"a": torch.ones(2, 2)}, p / "f.pt"), "expected one tensor"),
        (lambda p: (p / "f.npy").write_bytes(b"garbage"), "cannot read"),
    ],
)
def test_generative_errors(tmp_path, capsys, make, match):
    np.save(tmp_path / "real.npy", np.ones((10, 2)))
    make(tmp_path)
    fake = next(p for p in tmp_path.iterdir() if p.name.startswith("f."))
    out = tmp_path / "g.json"
    assert main(["generative", str(tmp_path / "real.npy"), str(fake), "--out", str(out)]) == 1
    line = _err_line(capsys)
    assert line.startswith("rdmetrics generative: error:") and match in line
    assert not out.exists()


# ----------------------------------------------------------------------------------------------------------- demo


def test_demo_options(monkeypatch, tmp_path):
    import rdmetrics.demo

    seen = {}
    monkeypatch.setattr(rdmetrics.demo, "run_demo", lambda **kw: seen.update(kw))
    out = tmp_path / "somewhere"
    assert main(["demo", "--out", str(out), "--quick", "--n-bootstrap", "7", "--no-plots"]) == 0
    assert seen == {
        "out": str(out),
        "quick": True,
        "epochs": None,
        "n_bootstrap": 7,
        "seed": 0,
        "plots": False,
        "progress": True,
        "overwrite": False,
    }


def test_demo_missing_dependency(monkeypatch, tmp_path, capsys):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "lightning" else real_find_spec(name, *a)
    )
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 1
    assert "needs lightning" in _err_line(capsys) and not out.exists()


def test_usage_and_module_entry(capsys):
    assert main([]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["confusion"])  # FILE is required: argparse usage error
    assert exc.value.code == 2
    res = subprocess.run([sys.executable, "-m", "rdmetrics", "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("rdmetrics ")


def _report_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "validation_report.py"
    spec = importlib.util.spec_from_file_location("validation_report", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_validation_report_verdict_rules():
    mod = _report_module()
    # basic interval = percentile interval reflected about the point estimate
    assert mod._interval(1.0, [0.5, 1.7], "basic") == pytest.approx((0.3, 1.5))
    assert mod._interval(1.0, [0.5, 1.7], "percentile") == (0.5, 1.7)
    assert mod._abs_interval(-0.2, 0.1) == (0.0, 0.2) and mod._abs_interval(-0.3, -0.1) == (0.1, 0.3)
    assert mod._compare((1, 2), (3, 4)) == "lower" and mod._compare((3, 4), (1, 2)) == "higher"
    assert mod._compare((1, 3), (2, 4)) == "overlap"

    def sig(b, k):
        return {"beta_ci": b, "abs_kappa_ci": k}

    models = ("m1", "m2", "m3")
    low = {"humans": sig((1, 2), (0.0, 0.1))} | {m: sig((3, 4), (0.2, 0.3)) for m in models}
    assert mod._verdict(low, models)["verdict"] == "holds"
    high = {"humans": sig((5, 6), (0.0, 0.1))} | {m: sig((3, 4), (0.2, 0.3)) for m in models}
    assert mod._verdict(high, models)["verdict"] == "does not hold"
    mixed = {"humans": sig((1, 2), (0.0, 0.5))} | {m: sig((3, 4), (0.2, 0.3)) for m in models}
    assert mod._verdict(mixed, models)["verdict"] == "unclear"  # β lower but κ intervals overlap
    low["m3"] = sig((0, 0.5), (0.2, 0.3))  # one model contradicts on β
    assert mod._verdict(low, models)["verdict"] == "unclear"


def test_validation_report_script_smoke(tmp_path):
    """scripts/validation_report.py runs end to end on a tiny synthetic experiment (no real data needed)."""
    _write_tiny_mvh(tmp_path / "raw")
    mod = _report_module()
    out = tmp_path / "docs" / "validation.md"
    rc = mod.main(["--data", str(tmp_path / "raw"), "--out", str(out), "--n-bootstrap", "10"])
    assert rc == 0
    text = out.read_text()
    assert text.startswith("# Validation") and "python scripts/validation_report.py" in text
    assert "Most stable" in text and "### contrast" in text
    assert (tmp_path / "docs" / "figures" / "frontier_contrast.png").is_file()
