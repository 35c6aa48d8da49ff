"""PerturbationSweep in real Trainer runs (CPU): logging, history/resume, DDP == single process, == run_sweep."""

from __future__ import annotations

import csv
import glob
import math
import os

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pl = pytest.importorskip("lightning.pytorch")

from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from rdmetrics.integrations.lightning import PerturbationSweep  # noqa: E402
from rdmetrics.sweep import run_sweep  # noqa: E402

NUM_CLASSES = 4
PERTURBATIONS = {"contrast": [1.0, 0.5, 0.2, 0.05], "low-pass": [0, 1, 3]}
# a stochastic family too: its noise is keyed by dataset index, so DDP must equal one process
DDP_PERTURBATIONS = {**PERTURBATIONS, "uniform-noise": [0.0, 0.3, 0.9]}


def make_dataset(n: int, seed: int) -> TensorDataset:
    """Images whose class is coded by brightness and by the colour channel, so a tiny net learns it quickly."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % NUM_CLASSES
    x = 0.15 * torch.rand(n, 3, 16, 16, generator=g) + 0.1
    x[torch.arange(n), y % 3] += 0.25 + 0.15 * (y // 3).view(-1, 1, 1).float()
    return TensorDataset(x.clamp(0, 1), y)


class TinyNet(pl.LightningModule):
    """Small CNN without BatchNorm (so lr=0 training leaves every prediction unchanged)."""

    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lr = lr
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, NUM_CLASSES)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x - 0.5)).mean(dim=(2, 3)) * 4)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def loaders(n_train: int = 32, n_val: int = 29):
    train = DataLoader(make_dataset(n_train, 0), batch_size=8, shuffle=True)
    val = DataLoader(make_dataset(n_val, 1), batch_size=8)
    return train, val


def trainer(tmp_path, callbacks, max_epochs=2, **kw):
    kw.setdefault("logger", CSVLogger(str(tmp_path), name="logs"))
    return pl.Trainer(
        default_root_dir=str(tmp_path),
        max_epochs=max_epochs,
        accelerator="cpu",
        devices=1,
        callbacks=callbacks,
        limit_train_batches=3,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )


def nan_free(obj):
    """Replace NaN floats by a sentinel so that histories compare with == (NaN != NaN)."""
    if isinstance(obj, dict):
        return {k: nan_free(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [nan_free(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return "nan"
    return obj


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def expected_names(prefix="rd/"):
    names = []
    for family, levels in PERTURBATIONS.items():
        names += [f"{prefix}{family}/{k}" for k in ("beta", "kappa", "auc")]
        names += [f"{prefix}{family}/acc@{lv:g}" for lv in levels]
    return names


def test_fit_logs_documented_names_history_and_plots(tmp_path):
    cb = PerturbationSweep(PERTURBATIONS, num_classes=NUM_CLASSES)
    model = TinyNet()
    train, val = loaders()
    t = trainer(tmp_path, [cb], num_sanity_val_steps=2)
    t.fit(model, train, val)
    # one sweep per epoch, none during the sanity check
    assert [h["epoch"] for h in cb.history] == [0, 1]
    rows = read_csv(os.path.join(t.logger.log_dir, "metrics.csv"))
    names = expected_names()
    assert set(names) <= set(rows[0].keys())
    logged = [r for r in rows if r["rd/contrast/acc@1"] != ""]
    assert len(logged) == 2
    for row, entry in zip(logged, cb.history):
        assert int(row["epoch"]) == entry["epoch"]
        for name in names:
            value, ref = float(row[name]), entry["metrics"][name]
            assert (math.isnan(value) and math.isnan(ref)) or value == pytest.approx(ref, rel=1e-6)
    # callback_metrics (monitorable) hold the last sweep's values
    for name in names:
        ref = cb.history[-1]["metrics"][name]
        v = float(t.callback_metrics[name])
        assert (math.isnan(v) and math.isnan(ref)) or v == pytest.approx(ref, rel=1e-6)
    # per-level curves: accuracy = 1 - distortion
    curve = cb.history[-1]["curves"]["contrast"]
    assert curve["levels"] == PERTURBATIONS["contrast"]
    for a, d in zip(curve["accuracy"], curve["distortion"]):
        assert a == pytest.approx(1 - d)
    for family in PERTURBATIONS:
        assert os.path.getsize(os.path.join(t.logger.log_dir, "rd_sweep", f"{family}.png")) > 0


def test_plain_run_sweep_equals_callback(tmp_path):
    cb = PerturbationSweep(PERTURBATIONS, num_classes=NUM_CLASSES, plot=False)
    model = TinyNet()
    train, val = loaders()
    trainer(tmp_path, [cb], max_epochs=1, logger=False, enable_checkpointing=False).fit(model, train, val)
    res = run_sweep(model, val, PERTURBATIONS, num_classes=NUM_CLASSES, progress=False, metric_kwargs={"strict": False})
    out = res.compute()
    # independent count: per-level class-balanced accuracy from a hand-written loop over the validation set
    x, y = val.dataset.tensors
    from rdmetrics.perturbations import get_perturbation

    for family, levels in PERTURBATIONS.items():
        entry = cb.history[-1]["curves"][family]
        assert entry["accuracy"] == pytest.approx(out[family]["accuracy"].tolist(), abs=1e-12)
        assert entry["rate"] == pytest.approx(out[family]["rate"].tolist(), abs=1e-12)
        for key in ("beta", "kappa", "auc"):
            a, b = cb.history[-1]["metrics"][f"rd/{family}/{key}"], float(out[family][key])
            assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-9)
        with torch.no_grad():
            for li, level in enumerate(levels):
                pred = model(get_perturbation(family)(x, level)).argmax(1)
                recall = [float((pred[y == c] == c).float().mean()) for c in range(NUM_CLASSES)]
                assert entry["accuracy"][li] == pytest.approx(sum(recall) / NUM_CLASSES, abs=1e-12)


def test_every_n_epochs_and_resume_keeps_history(tmp_path):
    ckpt = ModelCheckpoint(dirpath=str(tmp_path / "ckpt"), save_last=True, save_top_k=0)
    cb = PerturbationSweep(PERTURBATIONS, num_classes=NUM_CLASSES, plot=False)
    train, val = loaders()
    trainer(tmp_path, [cb, ckpt], max_epochs=1, logger=False).fit(TinyNet(), train, val)
    assert len(cb.history) == 1
    saved = torch.load(ckpt.last_model_path, weights_only=True)["callbacks"][cb.state_key]
    assert nan_free(saved["history"]) == nan_free(cb.history)

    cb2 = PerturbationSweep(PERTURBATIONS, num_classes=NUM_CLASSES, plot=False)
    other = PerturbationSweep({"contrast": [1.0, 0.5, 0.2]}, num_classes=NUM_CLASSES, plot=False, every_n_epochs=2)
    assert other.state_key != cb2.state_key
    trainer(tmp_path, [cb2, other], max_epochs=3, logger=False, enable_checkpointing=False).fit(
        TinyNet(), train, val, ckpt_path=ckpt.last_model_path
    )
    assert [h["epoch"] for h in cb2.history] == [0, 1, 2]
    assert nan_free(cb2.history[0]) == nan_free(cb.history[0])
    assert [h["epoch"] for h in other.history] == [1]  # every 2nd epoch: index 1 only (the run resumed at index 1)


def test_validate_under_inference_mode_and_bf16_autocast(tmp_path):
    """trainer.validate runs the val loop under torch.inference_mode; bf16-mixed makes the precision plugin autocast."""
    seen = []

    class Probe(TinyNet):
        def forward(self, x):
            seen.append((torch.is_inference_mode_enabled(), torch.is_autocast_enabled("cpu")))
            return super().forward(x)

    cb = PerturbationSweep({"contrast": [1.0, 0.3, 0.1]}, num_classes=NUM_CLASSES, plot=False, n_bootstrap=20)
    _, val = loaders()
    t = pl.Trainer(
        accelerator="cpu",
        devices=1,
        precision="bf16-mixed",
        callbacks=[cb],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    t.validate(Probe(), val)
    assert len(cb.history) == 1 and "rd/contrast/acc@0.1" in t.callback_metrics
    assert {"rd/contrast/beta_ci_low", "rd/contrast/beta_ci_high", "rd/contrast/auc_ci_high"} <= set(
        cb.history[0]["metrics"]
    )
    n_val_batches = len(val)
    sweep_calls = seen[n_val_batches:]
    assert len(sweep_calls) == 3 * n_val_batches
    assert all(autocast for _, autocast in sweep_calls)


class HistoryToMetrics(pl.Callback):
    """ddp_spawn only returns rank 0's callback_metrics: expose the sweep's sample counts through them."""

    def __init__(self, sweep):
        self.sweep = sweep

    def on_validation_epoch_end(self, trainer, pl_module):
        for family, curve in self.sweep.history[-1]["curves"].items():
            pl_module.log(f"n/{family}", float(sum(curve["num_samples"])), sync_dist=True)


def _ddp_fit(tmp_path):
    cb = PerturbationSweep(DDP_PERTURBATIONS, num_classes=NUM_CLASSES, plot=False)
    train, val = loaders(n_train=16, n_val=29)  # 29 = 15 + 14: uneven shards, padding would duplicate a sample
    t = pl.Trainer(
        default_root_dir=str(tmp_path),
        max_epochs=1,
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        callbacks=[cb, HistoryToMetrics(cb)],
        limit_train_batches=1,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=CSVLogger(str(tmp_path), name="ddp"),
    )
    model = TinyNet(lr=0.0)  # no BatchNorm and lr = 0: the weights (and predictions) stay the initial ones
    t.fit(model, train, val)
    return t, val


@pytest.mark.ddp
def test_ddp_spawn_matches_single_process(tmp_path):
    t, val = _ddp_fit(tmp_path)
    # single-process reference on the full validation set with the same (untouched) weights
    ref = run_sweep(
        TinyNet(lr=0.0),
        val,
        DDP_PERTURBATIONS,
        num_classes=NUM_CLASSES,
        progress=False,
        metric_kwargs={"strict": False},
    ).compute()
    (csv_path,) = glob.glob(os.path.join(str(tmp_path), "ddp", "*", "metrics.csv"))  # written by rank 0
    rows = [r for r in read_csv(csv_path) if r.get("rd/contrast/acc@1")]
    assert len(rows) == 1
    for family, levels in DDP_PERTURBATIONS.items():
        # no sample counted twice (a padding DistributedSampler would give 30 per level) and none lost
        assert float(t.callback_metrics[f"n/{family}"]) == 29 * len(levels)
        for li, level in enumerate(levels):
            name = f"rd/{family}/acc@{level:g}"
            expected = float(ref[family]["accuracy"][li])
            assert float(t.callback_metrics[name]) == pytest.approx(expected, abs=1e-6)
            assert float(rows[0][name]) == pytest.approx(expected, abs=1e-6)
        for key in ("beta", "kappa", "auc"):
            name = f"rd/{family}/{key}"
            expected = float(ref[family][key])
            got = float(t.callback_metrics[name])
            assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected, rel=1e-5, abs=1e-9)


def test_bad_arguments():
    with pytest.raises(ValueError, match="empty"):
        PerturbationSweep([], num_classes=4)
    with pytest.raises(ValueError, match="num_classes"):
        PerturbationSweep(["contrast"], num_classes=1)
    with pytest.raises(ValueError, match="every_n_epochs"):
        PerturbationSweep(["contrast"], num_classes=4, every_n_epochs=0)
    with pytest.raises(TypeError, match="perturbations"):
        PerturbationSweep(3, num_classes=4)

    with pytest.raises(ValueError, match="did you mean 'contrast'"):
        PerturbationSweep(["contrsat"], num_classes=4)
    with pytest.raises(ValueError, match=r"level 2\.0"):
        PerturbationSweep({"contrast": [1.0, 2.0, 0.5]}, num_classes=4)
    with pytest.raises(ValueError, match="at least 3"):
        PerturbationSweep({"contrast": [1.0, 0.5]}, num_classes=4)
    with pytest.raises(ValueError, match="correction"):
        PerturbationSweep(["contrast"], num_classes=4, metric_kwargs={"correction": "bogus"})
    with pytest.raises(TypeError, match="label_map"):
        PerturbationSweep(["contrast"], num_classes=4, label_map="imagenet")
    with pytest.raises(ValueError, match="seed"):
        PerturbationSweep(["contrast"], num_classes=4, seed=-1)


def test_deprecated_save_plots_and_state_checks():
    with pytest.warns(DeprecationWarning, match="save_plots"):
        cb = PerturbationSweep(["contrast"], num_classes=4, save_plots=False)
    assert cb.plot is False
    with pytest.raises(TypeError, match="not both"):
        PerturbationSweep(["contrast"], num_classes=4, plot=False, save_plots=False)
    state = PerturbationSweep({"contrast": [1.0, 0.5, 0.1]}, num_classes=4).state_dict()
    assert state["levels"] == {"contrast": [1.0, 0.5, 0.1]}
    with pytest.warns(UserWarning, match="recorded at levels"):
        cb.load_state_dict({**state, "history": [{"epoch": 0}]})
    assert cb.history == [{"epoch": 0}]


def test_axis_and_at_accuracy_reach_the_metric():
    cb = PerturbationSweep({"contrast": [1.0, 0.5, 0.1]}, num_classes=4, axis="severity", at_accuracy=0.5)
    assert (cb.axis, cb.at_accuracy) == ("severity", 0.5)
    with pytest.raises(ValueError, match="axis"):  # the metric's own check, run at construction
        PerturbationSweep(["contrast"], num_classes=4, axis="sideways")
