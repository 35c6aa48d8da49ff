"""Tests for rdmetrics.datasets.benchmark (the model-vs-human benchmark tables).

References, independent of the code under test:
* a re-implementation of the toolbox's benchmark written here with the plain ``csv`` module and numpy (its own CSV
  reading, its own stimulus key -- the toolbox's ``get_short_imagename`` --, its own condition matching and
  exclusion list copied from ``modelvshuman/plotting/plot.py``);
* the toolbox's published tables (``latex-report/assets/benchmark_table_humanlike.tex`` and
  ``benchmark_table_accuracy.tex``; README: ResNet-50 .087 / .665 / .208 / .559), to the printed 3 decimals;
* hand-computed values on tiny synthetic files.
Real-data tests skip when ../shared/data/model-vs-human is absent.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest

from rdmetrics.datasets import load_model_vs_human
from rdmetrics.datasets.benchmark import (
    BENCHMARK_COLUMNS,
    DEFAULT_DATASETS,
    average_ranks,
    format_leaderboards,
    mvh_benchmark,
    write_benchmark,
)

MVH = Path(
    os.environ.get("RDMETRICS_MVH_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data" / "model-vs-human"
)
needs_data = pytest.mark.skipif(not MVH.is_dir(), reason=f"model-vs-human data not found at {MVH}")

# toolbox's plotting/plot.py EXCLUDE_CONDITIONS, as the toolbox writes the labels
EXCLUDE = {
    "colour": ["cr"],
    "contrast": ["c100", "c03", "c01"],
    "high-pass": ["inf", "0.55", "0.45", "0.4"],
    "low-pass": ["0", "15", "40"],
    "phase-scrambling": ["0", "150", "180"],
    "power-equalisation": ["0"],
    "false-colour": ["True"],
    "rotation": ["0"],
    "eidolonI": ["1-10-10", "64-10-10", "128-10-10"],
    "eidolonII": ["1-3-10", "32-3-10", "64-3-10", "128-3-10"],
    "eidolonIII": ["1-0-10", "16-0-10", "32-0-10", "64-0-10", "128-0-10"],
    "uniform-noise": ["0.0", "0.6", "0.9"],
}
# latex-report/assets/benchmark_table_humanlike.tex + benchmark_table_accuracy.tex (bethgelab/model-vs-human)
PUBLISHED = {
    "resnet50": (0.087, 0.665, 0.208, 0.559),
    "simclr_resnet50x1": (0.080, 0.667, 0.179, 0.596),
    "bagnet33": (0.156, 0.567, 0.137, 0.398),
}
PUBLISHED_MEAN_RANK_3 = {"simclr_resnet50x1": 1.333, "resnet50": 1.667, "bagnet33": 3.000}

HEADER_H = "subj,Session,trial,rt,object_response,category,condition,imagename\n"
HEADER_M = "subj,session,trial,rt,object_response,category,condition,imagename\n"


def _value(label: str):
    s = label.strip().lower()
    try:
        return float(s)
    except ValueError:
        return s


def _short_imagename(name: str) -> str:
    """The toolbox's helper/plotting_helper.get_short_imagename."""
    parts = name.split("_")
    if len(parts) == 1:
        return parts[0]
    a, b = parts[-2:]
    return f"{a}_{b}" if a.startswith("n0") else b


def reference_benchmark(root: Path, models=None):
    """Per model: mean over datasets of (acc diff, obs, kappa) -- each averaged over conditions then subjects -- and
    OOD accuracy, in float64 numpy from the raw CSVs."""
    per_model: dict[str, list[list[float]]] = {}
    for ds in DEFAULT_DATASETS:
        obs: dict[str, dict[str, tuple[object, bool]]] = {}
        for f in sorted((root / ds).glob("*.csv")):
            with f.open(newline="") as fh:
                for r in csv.DictReader(fh):
                    cond = _value(r["condition"]) if ds in EXCLUDE else None
                    obs.setdefault(r["subj"], {})[_short_imagename(r["imagename"])] = (
                        cond,
                        r["object_response"] == r["category"],
                    )
        humans = sorted(o for o in obs if o.startswith("subject-"))
        exc = {_value(c) for c in EXCLUDE.get(ds, [])}
        conds = sorted({v[0] for v in obs[humans[0]].values()} - exc, key=str)
        for m in sorted(o for o in obs if o not in humans and (models is None or o in models)):
            per_h = []
            for h in humans:
                vals = []
                for c in conds:
                    keys = sorted(k for k, v in obs[h].items() if v[0] == c)
                    assert keys == sorted(k for k, v in obs[m].items() if v[0] == c)
                    a = np.array([obs[m][k][1] for k in keys], dtype=np.float64)
                    b = np.array([obs[h][k][1] for k in keys], dtype=np.float64)
                    p1, p2 = a.mean(), b.mean()
                    c_exp = p1 * p2 + (1 - p1) * (1 - p2)
                    c_obs = float(np.mean(a == b))
                    kappa = 1.0 if c_obs == 1.0 else (c_obs - c_exp) / (1 - c_exp)
                    vals.append(((p1 - p2) ** 2, c_obs, kappa))
                per_h.append(np.mean(vals, axis=0))
            ood = np.mean([v[1] for v in obs[m].values() if v[0] not in exc])
            per_model.setdefault(m, []).append([*np.mean(per_h, axis=0), ood])
    return {m: np.mean(v, axis=0) for m, v in per_model.items()}


@pytest.fixture(scope="module")
def data():
    if not MVH.is_dir():
        pytest.skip(f"model-vs-human data not found at {MVH}")
    return load_model_vs_human(MVH)


@pytest.fixture(scope="module")
def result(data):
    return mvh_benchmark(data)


@needs_data
def test_matches_independent_reimplementation(result):
    ref = reference_benchmark(MVH)
    assert sorted(ref) == sorted(r["model"] for r in result.summary if r["model"] != "humans")
    for model, expected in ref.items():
        row = result.row(model)
        got = [row[k] for k in ("accuracy_difference", "observed_consistency", "error_consistency", "ood_accuracy")]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, err_msg=model)
        assert row["n_datasets"] == 17


@needs_data
@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_reproduces_published_tables(result, model):
    row = result.row(model)
    got = (row["accuracy_difference"], row["observed_consistency"], row["error_consistency"], row["ood_accuracy"])
    assert tuple(f"{v:.3f}" for v in got) == tuple(f"{v:.3f}" for v in PUBLISHED[model])


@needs_data
def test_published_mean_rank_among_the_three_models(data):
    res = mvh_benchmark(data, models=sorted(PUBLISHED), include_humans=False)
    assert {r["model"]: f"{r['mean_rank']:.3f}" for r in res.summary} == {
        m: f"{v:.3f}" for m, v in PUBLISHED_MEAN_RANK_3.items()
    }
    assert [r["model"] for r in res.leaderboard("ood")] == ["simclr_resnet50x1", "resnet50", "bagnet33"]
    assert [r["ood_rank"] for r in res.leaderboard("ood")] == [1.0, 2.0, 3.0]


@needs_data
def test_exclusions_and_tables(result):
    assert result.datasets == DEFAULT_DATASETS
    # toolbox labels matched by value: '0.0'/'0.6'/'0.9' exclude the data's 0.00/0.60/0.90, 'True' excludes 'true'
    assert result.excluded["uniform-noise"] == ("0.00", "0.60", "0.90")
    assert result.excluded["false-colour"] == ("true",)
    assert result.conditions["high-pass"] == ("3", "1.5", "1", "0.7")
    assert result.conditions["edge"] == ("0",) and result.excluded["edge"] == ()
    # per-condition rows: 5 models x 4 subjects x kept conditions (+ subject pairs) on a parametric set
    rows = [r for r in result.per_condition if r["dataset"] == "contrast"]
    assert len(rows) == (5 * 4 + 6) * 5
    assert {r["n_trials"] for r in rows} == {160}
    # humans row: mean over datasets of the mean over subject pairs (recomputed from the per-condition rows)
    per_ds = []
    for ds in result.datasets:
        pairs = {}
        for r in result.per_condition:
            if r["dataset"] == ds and r["model"].startswith("subject-"):
                pairs.setdefault((r["model"], r["subject"]), []).append(r["error_consistency"])
        per_ds.append(np.mean([np.mean(v) for v in pairs.values()]))
    assert result.row("humans")["error_consistency"] == pytest.approx(np.mean(per_ds), abs=1e-12)
    assert math.isnan(result.row("humans")["mean_rank"])


@needs_data
def test_writer(result, tmp_path):
    write_benchmark(result, tmp_path, plots=False)
    with (tmp_path / "benchmark.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == BENCHMARK_COLUMNS
    assert [r["model"] for r in rows][-1] == "humans" and rows[-1]["mean_rank"] == ""
    res50 = next(r for r in rows if r["model"] == "resnet50")
    assert float(res50["error_consistency"]) == result.row("resnet50")["error_consistency"]  # full precision
    for ds in DEFAULT_DATASETS:
        assert (tmp_path / "benchmark" / f"{ds}.csv").is_file()
    text = format_leaderboards(result)
    assert "most human-like" in text and "OOD accuracy" in text and "resnet50" in text


# ---------------------------------------------------------------------------------------------- synthetic


def _write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)


def _tiny(tmp_path: Path) -> Path:
    """high-pass with 2 subjects and a model; conditions written '3'/'inf' by humans and '3.0'/'inf' by the model."""
    d = tmp_path / "high-pass"
    trials = [("inf", "cat", 1), ("inf", "dog", 2), ("3", "cat", 3), ("3", "dog", 4), ("3", "car", 5), ("3", "oven", 6)]
    answers = {
        "subject-01": ["cat", "dog", "cat", "na", "car", "cat"],
        "subject-02": ["cat", "cat", "cat", "dog", "oven", "oven"],
        "net": ["cat", "dog", "dog", "dog", "car", "cat"],
    }
    for obs, resp in answers.items():
        human = obs.startswith("subject-")
        text = HEADER_H if human else HEADER_M
        for i, ((cond, cat, k), r) in enumerate(zip(trials, resp), start=1):
            code = "s01" if human else "dnn"
            cond_written = cond if human else {"3": "3.0", "inf": "inf"}[cond]
            text += f"{obs},1,{i},0.5,{r},{cat},{cond_written},{i:04d}_hp_{code}_{cond}_{cat}_10_n0{k}_{k}.png\n"
        _write(d, f"high-pass_{obs}_session-1.csv", text)
    return tmp_path


def test_synthetic_hand_computed(tmp_path):
    res = mvh_benchmark(_tiny(tmp_path))
    assert res.excluded["high-pass"] == ("inf",) and res.conditions["high-pass"] == ("3",)
    # condition '3' only (inf excluded): net correct on [F, T, T, F]; s01 [T, F, T, F]; s02 [T, T, F, T]
    # vs s01: acc .5/.5 -> diff 0; c_obs = 2/4; c_exp = .5 -> kappa 0
    # vs s02: acc .5/.75 -> diff .0625; c_obs = 1/4; c_exp = .5*.75+.5*.25 = .5 -> kappa -.5
    row = res.row("net")
    assert row["accuracy_difference"] == pytest.approx((0 + 0.0625) / 2, abs=1e-15)
    assert row["observed_consistency"] == pytest.approx((0.5 + 0.25) / 2, abs=1e-15)
    assert row["error_consistency"] == pytest.approx((0.0 - 0.5) / 2, abs=1e-15)
    assert row["ood_accuracy"] == 0.5
    h = res.row("humans")  # s01 vs s02: acc .5/.75, c_obs 1/4 -> kappa -.5; pooled accuracy 5/8
    assert h["accuracy_difference"] == pytest.approx(0.0625) and h["error_consistency"] == pytest.approx(-0.5)
    assert h["ood_accuracy"] == pytest.approx(5 / 8)
    # exclude=False keeps 'inf'; a custom exclusion by value ('3.0' matches the data's '3')
    assert mvh_benchmark(tmp_path, exclude=False).conditions["high-pass"] == ("inf", "3")
    assert mvh_benchmark(tmp_path, exclude={"high-pass": ["3.0"]}).conditions["high-pass"] == ("inf",)
    with pytest.raises(ValueError, match="every condition is excluded"):
        mvh_benchmark(tmp_path, exclude={"high-pass": ["3.0", "inf"]})
    # the bar plots (small table: fast)
    out = tmp_path / "out"
    written = write_benchmark(res, out)
    for name in ("accuracy-difference", "observed-consistency", "error-consistency", "ood-accuracy"):
        assert (out / f"benchmark_{name}.png").stat().st_size > 0
    assert (out / "benchmark_datasets.png") in written and (out / "benchmark" / "high-pass.csv") in written


def test_synthetic_errors(tmp_path):
    root = _tiny(tmp_path)
    with pytest.raises(ValueError, match=r"model.*'alexnet'.*not found"):
        mvh_benchmark(root, models=["alexnet"])
    with pytest.raises(ValueError, match="not found"):
        mvh_benchmark(root, datasets=["edge"])
    # a model that skipped one stimulus: the toolbox compares equal trial sets -> clear error, never a silent subset
    p = root / "high-pass" / "high-pass_net_session-1.csv"
    p.write_text("".join(p.read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(ValueError, match=r"'high-pass', condition '3': 'net' and 'subject-01' saw different stimuli"):
        mvh_benchmark(root)
    # only the 17 benchmark datasets are picked by default
    other = tmp_path / "other"
    _write(
        other / "mine", "mine_subject-01_session_1.csv", HEADER_H + "subject-01,1,1,0.5,cat,cat,a,0001_x_s01_a_1.png\n"
    )
    with pytest.raises(ValueError, match="none of the benchmark's 17 datasets"):
        mvh_benchmark(other)


def test_average_ranks_like_pandas():
    # pandas Series.rank() default (method="average"), written out
    assert average_ranks([0.2, 0.1, 0.2, 0.05]) == [3.5, 2.0, 3.5, 1.0]
    assert average_ranks([0.2, 0.1, 0.2, 0.05], descending=True) == [1.5, 3.0, 1.5, 4.0]
    r = average_ranks([1.0, float("nan"), 0.0])
    assert r[0] == 2.0 and math.isnan(r[1]) and r[2] == 1.0


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_benchmark_consistency_shape_bias_and_bad_experiment(tmp_path, capsys):
    from rdmetrics.cli import main

    root = _tiny(tmp_path / "raw")
    # cue-conflict with one subject and the model (shape bias + consistency sections)
    cc = root / "cue-conflict"
    _write(
        cc,
        "cue-conflict_subject-01_session_1.csv",
        HEADER_H
        + "subject-01,1,1,0.5,cat,cat,0,0001_s5n_s01_0_cat_00_cat1-dog2.png\n"
        + "subject-01,1,2,0.5,car,car,0,0002_s5n_s01_0_car_00_car1-dog1.png\n",
    )
    _write(
        cc,
        "cue-conflict_net_session-1.csv",
        HEADER_M + "net,1,1,NaN,dog,cat,NaN,cat1-dog2.png\n" + "net,1,2,NaN,car,car,NaN,car1-dog1.png\n",
    )
    # a broken experiment: reported and skipped, the rest still runs
    _write(root / "contrast", "contrast_x_session-1.csv", HEADER_M + "x,1,1,NaN,lion,cat,c100,0001_a_b_c_x.png\n")
    _write(root / "performances", "net.csv", "dataset,accuracy\nedge,0.5\n")
    out = tmp_path / "out"
    rc = main(["mvh", str(root), "--n-bootstrap", "0", "--benchmark", "--out", str(out), "--no-plots"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "contrast: " in text and "unknown object_response" in text  # the skipped experiment, with its reason
    assert "performances" in text
    assert "most human-like" in text and "OOD accuracy" in text
    assert "shape bias on cue-conflict" in text and "error consistency with the human subjects" in text
    with (out / "benchmark.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == BENCHMARK_COLUMNS and rows[0]["model"] == "net"
    expected = mvh_benchmark(load_model_vs_human(root, on_error="skip")).row("net")
    assert float(rows[0]["error_consistency"]) == pytest.approx(expected["error_consistency"], abs=1e-15)
    with (out / "shape_bias.csv").open() as fh:
        sb = {r["observer"]: r for r in csv.DictReader(fh)}
    assert float(sb["net"]["shape_bias"]) == 0.5 and float(sb["subject-01"]["shape_bias"]) == 1.0
    for name in ("consistency.csv", "benchmark_datasets.csv", "benchmark_high-pass.csv", "benchmark_cue-conflict.csv"):
        assert (out / name).is_file()


def tiny_model():
    """Factory for the --add-model test: answers 'cat' for every image (16 category scores)."""
    import torch

    class AlwaysCat(torch.nn.Module):
        def forward(self, x):
            scores = torch.zeros(x.shape[0], 16)
            scores[:, 7] = 1.0  # CATEGORIES[7] == "cat"
            return scores

    return AlwaysCat()


def _tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every entry under ``root``: relative path -> (mode, sha256 of a file's bytes or 'dir')."""
    import hashlib

    out = {}
    for p in sorted(root.rglob("*")):
        digest = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
        out[str(p.relative_to(root))] = (p.stat().st_mode, digest)
    return out


def test_cli_add_model(tmp_path, capsys, monkeypatch):
    """--add-model on a read-only raw-data folder: the CSVs land in OUT/raw-data, PATH is left byte-for-byte as it
    was, and the analysis equals the reader on one folder holding the data plus the added model's file."""
    import stat

    from PIL import Image

    from rdmetrics.cli import main

    root = _tiny(tmp_path / "raw")
    stim = tmp_path / "stimuli" / "high-pass"
    for name in [p for p in (root / "high-pass" / "high-pass_net_session-1.csv").read_text().split() if ".png" in p]:
        stim.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(stim / name.split(",")[-1])
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    ro = [root, *(p for p in root.rglob("*") if p.is_dir())]
    for p in [*ro, *(p for p in root.rglob("*") if p.is_file())]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    before = _tree(root)
    out = tmp_path / "out"
    argv = ["mvh", str(root), "--n-bootstrap", "0", "--benchmark", "--no-plots", "--out", str(out)]
    argv += ["--add-model", "test_mvh_benchmark:tiny_model", "--stimuli", str(tmp_path / "stimuli")]
    try:
        rc = main([*argv, "--label-map", "none", "--model-name", "cat-net"])
        text = capsys.readouterr().out
        assert _tree(root) == before  # PATH untouched: same entries, modes and bytes
    finally:
        for p in ro:
            p.chmod(stat.S_IRWXU)
    assert rc == 0
    added = out / "raw-data" / "high-pass" / "high-pass_cat-net_session-1.csv"
    assert f"added model 'cat-net': high-pass ({added})" in text and "cat-net" in text.split("most human-like")[1]
    rows = list(csv.DictReader(added.open()))
    assert {r["object_response"] for r in rows} == {"cat"} and len(rows) == 6
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no staging folder left
    # reference: a writable copy of the data with the model's CSV beside the human files, read as one folder
    import shutil

    whole = tmp_path / "whole"
    shutil.copytree(root, whole)
    shutil.copy(added, whole / "high-pass")
    ref = mvh_benchmark(load_model_vs_human(whole)).row("cat-net")
    with (out / "benchmark.csv").open() as fh:
        got = {r["model"]: r for r in csv.DictReader(fh)}["cat-net"]
    for k in ("error_consistency", "ood_accuracy"):
        assert float(got[k]) == pytest.approx(ref[k], abs=1e-12)
    assert ref["ood_accuracy"] == pytest.approx(1 / 4)  # 'cat' always; the kept condition '3' has 1 cat of 4
    report = __import__("json").loads((out / "report.json").read_text())
    assert report["settings"]["added_raw_data"] == str(out / "raw-data")
    # usage errors before any work: --stimuli missing, --out missing (nothing written anywhere)
    for extra in ([], ["--stimuli", str(tmp_path / "stimuli")]):
        with pytest.raises(SystemExit) as err:
            main(["mvh", str(root), "--add-model", "x:y", *extra])
        assert err.value.code == 2
    assert "--add-model needs --out" in capsys.readouterr().err
    # a failing model run (its module does not import) leaves no output and no staging folder
    bad = ["mvh", str(root), "--n-bootstrap", "0", "--out", str(tmp_path / "out2"), "--add-model", "no_such_xyz:f"]
    assert main([*bad, "--stimuli", str(tmp_path / "stimuli")]) == 1
    assert "no_such_xyz" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".out2", "out2"))]
