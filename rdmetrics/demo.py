"""``rdmetrics demo``: the README's main job, on data that ships inside scikit-learn (no download).

1. scikit-learn's 1,797 handwritten digits (8×8, upsampled to 32×32) are split into train / validation / test.
2. A small CNN trains for a few seconds with Lightning; the :class:`~rdmetrics.integrations.lightning.PerturbationSweep`
   callback sweeps several perturbation families on the validation set at the end of every validation epoch
   and logs ``rd/<family>/beta|kappa|auc|acc@<level>`` to a CSV logger.
3. The final model is swept on the test set with :func:`rdmetrics.sweep.run_sweep` (the same engine) and the RD
   signatures get bootstrap confidence intervals.
4. A generative check: :class:`rdmetrics.PrecisionRecallEntropy` on the CNN's penultimate features compares held-out
   real digits with four "generators" built from them (faithful, mode dropping, low fidelity, mode collapse).
5. A table is printed; ``report.json``, ``rd_frontiers.png``, ``generative.png`` and the Lightning CSV logs
   (``logs/``) are written to ``--out``. The whole run is staged in a folder next to ``--out`` and moved into place
   only when complete (:class:`rdmetrics.cli._output.StagedDir`), so an error or Ctrl-C leaves nothing behind.

The command-line options live in :mod:`rdmetrics.cli.demo`.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rdmetrics.cli._format import fmt_ci
from rdmetrics.cli._output import StagedDir
from rdmetrics.utilities.data import _to_jsonable

#: families swept by the demo, with levels suited to 32×32 digits (ordered by increasing severity)
DEMO_FAMILIES: dict[str, list[float]] = {
    "contrast": [1.0, 0.5, 0.3, 0.15, 0.1, 0.05, 0.03, 0.01],
    "uniform-noise": [0.0, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0],
    "low-pass": [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0],
    "phase-scrambling": [0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0],
}
QUICK_FAMILIES = ("contrast", "uniform-noise", "low-pass")


def load_digits_images(size: int = 32, seed: int = 0) -> dict[str, tuple[Tensor, Tensor]]:
    """scikit-learn's digits as float images ``[N, 1, size, size]`` in [0, 1], split 50 / 17 / 33 % (seeded)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.as_tensor(digits.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    x, y = x[perm], y[perm]
    n_train, n_val = int(0.5 * len(y)), int(0.17 * len(y))
    return {
        "train": (x[:n_train], y[:n_train]),
        "val": (x[n_train : n_train + n_val], y[n_train : n_train + n_val]),
        "test": (x[n_train + n_val :], y[n_train + n_val :]),
    }


class DigitsCNN(nn.Module):
    """Two conv blocks and a 64-d penultimate layer (``features``) for 1×32×32 inputs."""

    def __init__(self, num_classes: int = 10, width: int = 64) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 8 * 8, width),
            nn.ReLU(),
        )
        self.head = nn.Linear(width, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.backbone(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))


class _Features(nn.Module):
    """The CNN's penultimate layer as a feature extractor for PrecisionRecallEntropy."""

    def __init__(self, net: DigitsCNN) -> None:
        super().__init__()
        self.net = net
        self.num_features = net.head.in_features

    def forward(self, x: Tensor) -> Tensor:
        return self.net.features(x)


def _make_lightning_module(net: DigitsCNN, lr: float) -> Any:
    import lightning.pytorch as pl

    class DigitsClassifier(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Tensor) -> Tensor:
            return self.net(x)

        def training_step(self, batch: Any, batch_idx: int) -> Tensor:
            x, y = batch
            loss = nn.functional.cross_entropy(self(x), y)
            self.log("train/loss", loss, prog_bar=True)
            return loss

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val/acc", (self(x).argmax(1) == y).float().mean(), prog_bar=True)

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=lr)

    return DigitsClassifier()


def _generative_sets(
    images: Tensor, labels: Tensor, spare: Tensor, spare_labels: Tensor, seed: int
) -> tuple[Tensor, dict[str, Tensor]]:
    """Real reference set and four 'generators' built from held-out digits (sizes match, no duplicate samples).

    ``spare`` are other real digits (the training split) used to fill the mode-dropping set without repeats.
    """
    from rdmetrics.perturbations import get_perturbation

    g = torch.Generator().manual_seed(seed)
    half = len(labels) // 2
    real, pool, pool_y = images[:half], images[half:], labels[half:]
    n = len(pool)
    low = torch.cat([pool[pool_y < 5], spare[spare_labels < 5]])
    dropped = low[torch.randperm(len(low), generator=g)[:n]]
    noisy = get_perturbation("gaussian-noise")(pool, 0.38, generator=torch.Generator().manual_seed(seed + 1))
    means = torch.stack([pool[pool_y == c].mean(0) for c in range(10)])
    collapsed = (means[pool_y] + 0.05 * torch.randn(pool.shape, generator=g)).clamp(0, 1)
    fakes = {
        "faithful (held-out real)": pool,
        "mode dropping (digits 0-4)": dropped,
        "low fidelity (noise 0.38)": noisy,
        "mode collapse (class means)": collapsed,
    }
    return real, fakes


def run_demo(
    out: str | os.PathLike = "rdmetrics-demo",
    quick: bool = False,
    epochs: int | None = None,
    n_bootstrap: int | None = None,
    seed: int = 0,
    plots: bool = True,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run the demo and return the report (also written to ``<out>/report.json``).

    ``out`` must be absent or an empty folder (checked before any work); with ``overwrite=True`` an existing
    folder is replaced as a whole when the run completes. Nothing is written to ``out`` before that.
    """
    started = time.perf_counter()
    stage = StagedDir(out, overwrite=overwrite)  # refuses an unsafe or non-empty target before any work
    with stage:
        report = _run(stage.dir, stage.target, quick, epochs, n_bootstrap, seed, plots, progress, started)
    _print_report(report, stage.target)
    return report


def _run(
    out_dir: Path,
    final_dir: Path,
    quick: bool,
    epochs: int | None,
    n_bootstrap: int | None,
    seed: int,
    plots: bool,
    progress: bool,
    started: float,
) -> dict[str, Any]:
    """The demo itself, writing into the staging folder ``out_dir`` (the report names files in ``final_dir``)."""
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import CSVLogger
    from torch.utils.data import DataLoader, TensorDataset

    from rdmetrics import PrecisionRecallEntropy
    from rdmetrics.integrations.lightning import PerturbationSweep
    from rdmetrics.sweep import run_sweep

    epochs = epochs if epochs is not None else (2 if quick else 8)
    n_bootstrap = n_bootstrap if n_bootstrap is not None else (50 if quick else 500)
    families = {k: v for k, v in DEMO_FAMILIES.items() if not quick or k in QUICK_FAMILIES}

    pl.seed_everything(seed, verbose=False)
    data = load_digits_images(seed=seed)
    loaders = {
        split: DataLoader(TensorDataset(*tensors), batch_size=64, shuffle=(split == "train"))
        for split, tensors in data.items()
    }
    net = DigitsCNN()
    module = _make_lightning_module(net, lr=3e-3)
    sweep_cb = PerturbationSweep(perturbations=families, num_classes=10, every_n_epochs=2, seed=seed)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=CSVLogger(str(out_dir), name="logs"),
        callbacks=[sweep_cb],
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    trainer.fit(module, loaders["train"], loaders["val"])

    # final sweep on the test set: same engine as the callback, with bootstrap CIs
    sweep = run_sweep(
        net,
        loaders["test"],
        families,
        num_classes=10,
        seed=seed,
        progress=progress,
        metric_kwargs={"n_bootstrap": n_bootstrap, "seed": seed, "strict": False},
    )
    rd = sweep.compute()
    test_x, test_y = data["test"]
    with torch.no_grad():
        correct = (net.eval()(test_x).argmax(1) == test_y).float()
    clean_acc = float(correct.mean())
    # the RD accuracy uses the uniform class prior: the mean of per-class accuracies
    clean_balanced_acc = float(torch.stack([correct[test_y == c].mean() for c in range(10)]).mean())

    # generative check on the penultimate features
    real, fakes = _generative_sets(test_x, test_y, *data["train"], seed=seed)
    metric = PrecisionRecallEntropy(k=5, feature_extractor=_Features(net), reset_real_features=False)
    metric.update(real, real=True)
    generative = {}
    for name, fake in fakes.items():
        metric.update(fake, real=False)
        generative[name] = {k: float(v) for k, v in metric.compute().items() if isinstance(v, Tensor) and v.ndim == 0}
        metric.reset()  # keeps the real features (encoded once)

    report = {
        "data": {split: len(t[1]) for split, t in data.items()},
        "epochs": epochs,
        "clean_test_accuracy": clean_acc,
        "clean_test_balanced_accuracy": clean_balanced_acc,
        "n_bootstrap": n_bootstrap,
        "rate_distortion": {
            family: {"levels": sweep.levels[family], **_to_jsonable(res)} for family, res in rd.items()
        },
        "callback_history": _to_jsonable(sweep_cb.history),
        "generative": generative,
    }
    for res in report["rate_distortion"].values():
        res.pop("confmat", None)
    if plots:
        report["plots"] = [str(final_dir / name) for name in _write_plots(out_dir, sweep, rd, generative)]
    report["seconds"] = time.perf_counter() - started
    (out_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _write_plots(out_dir: Path, sweep: Any, rd: dict[str, Any], generative: dict[str, Any]) -> list[str]:
    """Write ``rd_frontiers.png`` and ``generative.png`` to ``out_dir``; returns their file names."""
    from rdmetrics.utilities.imports import _MATPLOTLIB_AVAILABLE

    if not _MATPLOTLIB_AVAILABLE:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(rd)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    for ax, (family, res) in zip(axes.flat, rd.items()):
        if not math.isnan(float(res["beta"])):
            sweep[family].plot(val=res, ax=ax)
        else:
            ax.plot(res["distortion"].cpu(), res["rate"].cpu(), "o")
        ax.set_title(f"{family}: β={float(res['beta']):.2f}, κ={float(res['kappa']):.2f}")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    frontier_png = out_dir / "rd_frontiers.png"
    fig.savefig(frontier_png, dpi=110)
    plt.close(fig)

    panels = (
        ("pce", "PCE (fidelity, lower better)"),
        ("rce", "RCE (coverage, lower better)"),
        ("re", "RE (diversity, higher better)"),
    )
    names = list(generative)
    colors = [f"C{i}" for i in range(len(names))]
    fig, axes = plt.subplots(1, len(panels), figsize=(12, 3.8))
    for ax, (key, title) in zip(axes, panels):  # one panel per quantity: their scales differ a lot
        ax.bar(range(len(names)), [generative[n][key] for n in names], color=colors)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(names)), [n.split(" (")[0] for n in names], rotation=20, fontsize=8)
        ax.set_ylabel("nats")
    fig.tight_layout()
    gen_png = out_dir / "generative.png"
    fig.savefig(gen_png, dpi=110)
    plt.close(fig)
    return [frontier_png.name, gen_png.name]


def _print_report(report: dict[str, Any], out_dir: Path) -> None:
    print()
    print(f"Clean test accuracy: {report['clean_test_accuracy']:.3f} ({report['epochs']} epochs)")
    print(
        f"Rate-distortion signatures on the test set (smoothed-bootstrap 95 % CIs, {report['n_bootstrap']} replicates;"
        " values are bias-corrected and lie inside their intervals: see the README, 'Estimators and intervals'):"
    )
    header = f"{'family':<18}{'acc clean→worst':<18}{'beta':<26}{'kappa':<26}{'auc':<24}"
    print(header)
    print("-" * len(header))
    for family, res in report["rate_distortion"].items():
        acc = res["accuracy"]
        beta_ci = res.get("beta_ci", [None, None])
        kappa_ci = res.get("kappa_ci", [None, None])
        auc_ci = res.get("auc_ci", [None, None])
        print(
            f"{family:<18}{acc[0]:.3f} → {acc[-1]:.3f}    "
            f"{fmt_ci(res['beta'], beta_ci[0], beta_ci[1], nd=2):<26}"
            f"{fmt_ci(res['kappa'], kappa_ci[0], kappa_ci[1], nd=2):<26}"
            f"{fmt_ci(res['auc'], auc_ci[0], auc_ci[1], nd=3):<24}"
        )
    print()
    print("Generative check on CNN features (k=5; nats; PCE/RCE lower = better, RE higher = better):")
    header = f"{'generator':<30}{'PCE':>8}{'RCE':>8}{'RE':>8}{'prec':>7}{'recall':>7}{'dens':>7}{'cover':>7}"
    print(header)
    print("-" * len(header))
    for name, v in report["generative"].items():
        print(
            f"{name:<30}{v['pce']:>8.2f}{v['rce']:>8.2f}{v['re']:>8.2f}"
            f"{v['precision']:>7.2f}{v['recall']:>7.2f}{v['density']:>7.2f}{v['coverage']:>7.2f}"
        )
    print()
    print(f"Wrote {out_dir / 'report.json'}" + "".join(f", {p}" for p in report.get("plots", [])))
    print(f"Done in {report['seconds']:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rdmetrics.demo [options]`` is ``rdmetrics demo [options]``."""
    from rdmetrics.cli import main as cli_main

    return cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
