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
import stat
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


def _np_kappa(r1: float, r2: float, x: np.ndarray, num_classes: int) -> float:
    """Unit-free curvature of a frontier with slope r1 and second derivative r2 (bits per unit x): the curvature
    of the normalised curve r = R / log2 C against u = (x - x_min) / (x_max - x_min)."""
    span, scale = x.max() - x.min(), np.log2(num_classes)
    g1, g2 = r1 * span / scale, r2 * span**2 / scale
    return g2 / (1 + g1**2) ** 1.5


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
    assert rep["signature"]["kappa"] == pytest.approx(_np_kappa(r1, r2, d, 4), rel=1e-6, abs=1e-10)
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
    names = {p.name for p in out.iterdir()}
    assert names >= {"frontier_contrast.png", "levels.csv", "report.json", "signatures.csv"}
    assert not [n for n in names if n.startswith(".")]
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
    assert float(rows[0]["rate_plugin"]) == pytest.approx(3.215, abs=1e-3)  # separate earlier computation


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
    res = subprocess.run([sys.executable, "-m", "rdmetrics", "--version"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and res.stdout.startswith("rdmetrics ")


# ------------------------------------------------------------------------------------------- outputs: safe writes


def _no_leftovers(folder: Path) -> None:
    assert [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name] == []


@pytest.fixture
def confusion_args(npy_files):
    files, _ = npy_files
    return ["confusion", *files, "--json"]


@pytest.mark.parametrize("kind", ["fifo", "symlink-file", "symlink-dangling", "folder"])
@pytest.mark.parametrize("command", ["confusion", "generative"])
def test_file_output_refuses_non_regular_target(tmp_path, npy_files, capsys, kind, command):
    files, _ = npy_files
    np.save(tmp_path / "real.npy", np.random.default_rng(0).normal(size=(20, 3)))
    args = ["confusion", *files] if command == "confusion" else ["generative", *[str(tmp_path / "real.npy")] * 2]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)  # stands in for /dev/null, /dev/full: opening it for writing would block or hit a device
    elif kind == "symlink-file":
        target.symlink_to(victim)
    elif kind == "symlink-dangling":
        target.symlink_to(tmp_path / "nowhere")
    else:
        target.mkdir()
    for extra in ([], ["--overwrite"]):
        assert main([*args, "--out", str(target), *extra]) == 1
        line = _err_line(capsys)
        assert line.startswith(f"rdmetrics {command}: error: output") and "refusing" in line
    assert victim.read_text() == "precious"
    assert target.is_symlink() if kind.startswith("symlink") else not target.is_symlink()
    assert not (kind == "fifo") or stat.S_ISFIFO(os.lstat(target).st_mode)
    assert not (tmp_path / "nowhere").exists()
    _no_leftovers(tmp_path)


def test_file_output_existing_file_needs_overwrite(tmp_path, confusion_args, capsys):
    out = tmp_path / "r.json"
    out.write_text("old")
    assert main([*confusion_args, "--out", str(out)]) == 1
    assert "already exists" in _err_line(capsys) and out.read_text() == "old"
    assert main([*confusion_args, "--out", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text()) == json.loads(capsys.readouterr().out)
    out.write_text("")  # an empty file holds nothing to lose
    assert main([*confusion_args, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["levels"]["condition"][0] == "level0"
    _no_leftovers(tmp_path)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_output_permissions_follow_umask(tmp_path, confusion_args, capsys, umask):
    old = os.umask(umask)
    try:
        assert main([*confusion_args, "--out", str(tmp_path / "r.json")]) == 0
        _write_tiny_mvh(tmp_path / "raw")
        assert main(["mvh", str(tmp_path / "raw"), "--n-bootstrap", "0", "--out", str(tmp_path / "res")]) == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "r.json") == 0o666 & ~umask
    assert _mode(tmp_path / "res") == 0o777 & ~umask
    for p in (tmp_path / "res").iterdir():
        assert _mode(p) == 0o666 & ~umask, p.name


@pytest.mark.parametrize("kind", ["fifo", "symlink-dir", "file"])
def test_folder_output_refuses_non_folder_target(tmp_path, capsys, kind):
    _write_tiny_mvh(tmp_path / "raw")
    target = tmp_path / "res"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink-dir":
        target.symlink_to(elsewhere, target_is_directory=True)
    else:
        target.write_text("a file")
    assert main(["mvh", str(tmp_path / "raw"), "--out", str(target), "--overwrite"]) == 1
    assert "not a folder" in _err_line(capsys)
    assert list(elsewhere.iterdir()) == []
    assert os.path.lexists(target) and (kind != "file" or target.read_text() == "a file")
    _no_leftovers(tmp_path)


def test_mvh_existing_folder_checked_before_work_and_replaced_whole(tmp_path, monkeypatch, capsys):
    import rdmetrics.datasets

    _write_tiny_mvh(tmp_path / "raw")
    out = tmp_path / "res"
    out.mkdir()
    (out / "frontier_rotation.png").write_bytes(b"stale plot from an earlier run")
    real_load = rdmetrics.datasets.load_model_vs_human
    calls = []

    def counting_load(*a, **k):
        calls.append(1)
        return real_load(*a, **k)

    monkeypatch.setattr(rdmetrics.datasets, "load_model_vs_human", counting_load)
    argv = ["mvh", str(tmp_path / "raw"), "--n-bootstrap", "0", "--out", str(out)]
    assert main(argv) == 1
    line = _err_line(capsys)
    assert "not empty" in line and "use --overwrite" in line
    assert calls == []  # refused before reading any data
    assert main([*argv, "--overwrite"]) == 0
    assert calls == [1]
    names = {p.name for p in out.iterdir()}
    assert "frontier_contrast.png" in names and "frontier_rotation.png" not in names  # the stale plot is gone
    assert {"levels.csv", "report.json", "signatures.csv"} <= names
    # a later run without plots leaves no PNG of the earlier one behind
    assert main([*argv, "--overwrite", "--no-plots"]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"levels.csv", "report.json", "signatures.csv"} <= names and not [n for n in names if n.endswith(".png")]
    _no_leftovers(tmp_path)
    # an empty folder is fine without --overwrite
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["mvh", str(tmp_path / "raw"), "--n-bootstrap", "0", "--out", str(empty), "--no-plots"]) == 0
    assert (empty / "report.json").is_file()


@pytest.mark.parametrize("fail_in", ["csv", "plot"])
@pytest.mark.parametrize("existing", [False, True])
def test_mvh_interrupted_leaves_nothing(tmp_path, monkeypatch, capsys, fail_in, existing):
    import rdmetrics.cli.mvh as mvh_cli

    _write_tiny_mvh(tmp_path / "raw")
    out = tmp_path / "deep" / "res"
    if existing:
        out.mkdir(parents=True)
        (out / "keep.txt").write_text("earlier run")

    def boom(*a, **k):
        raise KeyboardInterrupt

    if fail_in == "csv":
        real = mvh_cli.csv_text
        seen = []

        def second_csv_fails(rows):  # the first table is already staged when the second one fails
            seen.append(1)
            if len(seen) == 2:
                boom()
            return real(rows)

        monkeypatch.setattr(mvh_cli, "csv_text", second_csv_fails)
    else:
        monkeypatch.setattr(mvh_cli, "plot_frontiers", boom)
    argv = ["mvh", str(tmp_path / "raw"), "--n-bootstrap", "0", "--out", str(out)]
    assert main(argv + (["--overwrite"] if existing else [])) == 130
    assert "interrupted" in capsys.readouterr().err
    if existing:
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
        _no_leftovers(out.parent)
    else:
        assert not (tmp_path / "deep").exists()  # even the parent folder it created is gone
    _no_leftovers(tmp_path)


def test_mvh_sigterm_leaves_nothing(tmp_path, monkeypatch, capsys):
    import signal

    import rdmetrics.cli.mvh as mvh_cli

    _write_tiny_mvh(tmp_path / "raw")
    out = tmp_path / "res"
    monkeypatch.setattr(mvh_cli, "plot_frontiers", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    assert main(["mvh", str(tmp_path / "raw"), "--n-bootstrap", "0", "--out", str(out)]) == 143
    assert "terminated" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [tmp_path / "raw"]
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is restored


def test_staged_dir_failure_during_commit_restores_old_folder(tmp_path, monkeypatch):
    from rdmetrics.cli._output import StagedDir

    out = tmp_path / "res"
    out.mkdir()
    (out / "old.txt").write_text("old")
    real_replace = os.replace
    calls = []

    def flaky_replace(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:  # old folder moved aside; moving the new one in fails
            raise OSError("disk trouble")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", flaky_replace)
    with pytest.raises(OSError, match="disk trouble"):
        with StagedDir(out, overwrite=True) as stage:
            stage.write_text("new.txt", "new")
    assert [p.name for p in out.iterdir()] == ["old.txt"]
    _no_leftovers(tmp_path)
    with pytest.raises(ValueError, match="plain file names"):
        StagedDir(tmp_path / "x").path("../escape.txt")


# ------------------------------------------------------------------------------ argument validation (usage errors)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["confusion", "M.npy", "--ci", "1.5"], "--ci"),
        (["confusion", "M.npy", "--ci", "0"], "--ci"),
        (["confusion", "M.npy", "--n-bootstrap", "-1"], "--n-bootstrap"),
        (["confusion", "M.npy", "--seed", "-3"], "--seed"),
        (["confusion", "M.npy", "--method", "cubic"], "--method"),
        (["confusion", "M.npy", "--at", "1.5"], "distortion must lie in [0, 1]"),
        (["confusion", "M.npy", "--at", "nan"], "--at"),
        (["confusion", "M.npy", "--at", "0.3", "--at-accuracy", "0.5"], "not allowed with"),
        (["confusion", "M.npy", "--at-accuracy", "1.2"], "--at-accuracy"),
        (["confusion", "M.npy", "--axis", "time"], "--axis"),
        (["confusion", "A.npy", "B.npy", "C.npy", "--conditions", "a", "b"], "--conditions has 2 names for 3"),
        (["mvh", "RAW", "--at", "matched", "--axis", "severity"], "--at matched"),
        (["mvh", "RAW", "--at", "soon"], "'matched'"),
        (["mvh", "RAW", "--ci", "95"], "--ci"),
        (["generative", "R.npy", "F.npy", "--k", "0"], "--k"),
        (["demo", "--epochs", "0"], "--epochs"),
        (["demo", "--n-bootstrap", "-5"], "--n-bootstrap"),
    ],
)
def test_bad_arguments_are_usage_errors_before_work(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)  # none of the named input files exists: reading one would be exit status 1
    with pytest.raises(SystemExit) as exc:
        main([a.replace("RAW", str(tmp_path)) for a in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: rdmetrics") and match in err, err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------- RD axis and matched accuracy


def test_confusion_at_accuracy_against_numpy(npy_files, capsys):
    files, mats = npy_files
    acc = np.array([np.trace(m / m.sum(1, keepdims=True)) / 4 for m in mats])
    mi = np.array([_np_mi_uniform(m) for m in mats])
    a2, a1, _ = np.polyfit(1 - acc, mi, 2)
    base = ["confusion", *files, "--method", "quadratic", "--correction", "none", "--json"]
    assert main([*base, "--at-accuracy", "0.6"]) == 0
    sig = json.loads(capsys.readouterr().out)["signature"]
    x0 = 1 - 0.6  # on the distortion axis, accuracy A is read at D* = 1 - A
    r1, r2 = a1 + 2 * a2 * x0, 2 * a2
    assert sig["at"] == pytest.approx(x0, abs=1e-12)
    assert sig["beta"] == pytest.approx(-r1, rel=1e-8)
    assert sig["kappa"] == pytest.approx(_np_kappa(r1, r2, 1 - acc, 4), rel=1e-6, abs=1e-10)


def test_confusion_severity_axis_against_numpy(npy_files, capsys):
    files, mats = npy_files
    mi = np.array([_np_mi_uniform(m) for m in mats])
    sev = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    base = ["confusion", *files, "--method", "quadratic", "--correction", "none", "--json", "--axis", "severity"]
    assert main([*base, "--conditions", *[f"{v:g}" for v in sev]]) == 0
    sig = json.loads(capsys.readouterr().out)["signature"]
    a2, a1, _ = np.polyfit(sev, mi, 2)
    x0 = (sev.min() + sev.max()) / 2
    assert sig["beta"] == pytest.approx(-(a1 + 2 * a2 * x0), rel=1e-8)
    assert main([*base, "--conditions", "none", "weak", "mid", "strong", "max"]) == 0  # labels: their rank
    sig = json.loads(capsys.readouterr().out)["signature"]
    ranks = np.arange(5.0)
    a2, a1, _ = np.polyfit(ranks, mi, 2)
    assert sig["beta"] == pytest.approx(-(a1 + 2 * a2 * 2.0), rel=1e-8)


def test_mvh_axis_and_at_accuracy(tmp_path, capsys):
    counts = _write_tiny_mvh(tmp_path / "raw")
    out = tmp_path / "res"
    argv = ["mvh", str(tmp_path / "raw"), "--n-bootstrap", "0", "--no-plots", "--method", "quadratic"]
    assert main([*argv, "--correction", "none", "--at-accuracy", "0.5", "--out", str(out)]) == 0
    capsys.readouterr()
    rep = json.loads((out / "report.json").read_text())
    assert rep["settings"]["at_accuracy"] == 0.5
    cm = counts["toynet"]
    acc = np.array([np.trace(c[:, :16] / c.sum(1, keepdims=True)) / 16 for c in cm])
    mi = np.array([_np_mi_uniform(c) for c in cm])
    a2, a1, _ = np.polyfit(1 - acc, mi, 2)
    sig = rep["experiments"]["contrast"]["observers"]["toynet"]["signature"]
    assert sig["beta"] == pytest.approx(-(a1 + 2 * a2 * 0.5), rel=1e-8)
    # severity axis: the labels c100, c30, c05 are not numbers, so x is their rank 0, 1, 2
    assert main([*argv, "--correction", "none", "--axis", "severity", "--out", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    sig = json.loads((out / "report.json").read_text())["experiments"]["contrast"]["observers"]["toynet"]["signature"]
    a2, a1, _ = np.polyfit(np.arange(3.0), mi, 2)
    assert sig["beta"] == pytest.approx(-(a1 + 2 * a2 * 1.0), rel=1e-8)


def test_confusion_explains_the_null_floor(tmp_path, capsys):
    """A level whose responses are independent of the class is flagged '<= floor' and the floor is explained; a
    near-perfect level is not. The floor is checked against a numpy permutation null of the plug-in + Miller–Madow
    rate (the library's floor uses the chosen estimator; with --correction miller_madow both agree in distribution)."""
    rng = np.random.default_rng(0)
    c, n = 4, 40
    files = []
    for level, p_correct in enumerate((1.0, 0.9, 0.6, 0.25)):  # 0.25 = chance for 4 classes: no dependence
        m = np.zeros((c, c), dtype=np.int64)
        for x in range(c):
            probs = np.full(c, (1 - p_correct) / (c - 1))
            probs[x] = p_correct
            m[x] = rng.multinomial(n, probs)
        f = tmp_path / f"l{level}.npy"
        np.save(f, m)
        files.append(str(f))
    assert main(["confusion", *files, "--correction", "miller_madow", "--out", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("l")]
    assert len(rows) == 4 and rows[-1].endswith("<= floor") and not rows[0].endswith("<= floor")
    assert "null floor: what the rate estimator reports when responses are independent" in out
    levels = json.loads((tmp_path / "r.json").read_text())["levels"]
    # independent numpy permutation null of the last level: shuffle responses across its trials
    m = np.load(files[-1])
    xs = np.repeat(np.arange(c), m.sum(1))
    ys = np.concatenate([np.repeat(np.arange(c), m[x]) for x in range(c)])
    null = []
    for _ in range(400):
        t = np.zeros((c, c))
        np.add.at(t, (xs, rng.permutation(ys)), 1)
        null.append(max(0.0, _np_mi_uniform(t) - _mm_correction(t)))
    assert levels["rate_floor"][-1] == pytest.approx(np.mean(null), abs=0.03)
    assert levels["within_floor"] == [r <= f for r, f in zip(levels["rate"], levels["rate_floor_hi"])]


def _mm_correction(t: np.ndarray) -> float:
    k = int((t > 0).sum()) - int((t.sum(1) > 0).sum()) - int((t.sum(0) > 0).sum()) + 1
    return k / (2 * t.sum() * math.log(2))
