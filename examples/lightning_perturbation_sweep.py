"""PerturbationSweep in a Lightning run: β / κ / AUC per perturbation family logged every validation epoch.

Trains a tiny CNN on scikit-learn's digits (no download) with ``Trainer.fit``; the callback sweeps the validation
set under three perturbation families after each validation epoch and logs ``rd/<family>/beta|kappa|auc|acc@<level>``
to a CSVLogger, keeps a history (saved in checkpoints) and writes a frontier plot per family.

Run: ``python examples/lightning_perturbation_sweep.py [--quick] [--epochs N] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import time

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rdmetrics.integrations.lightning import PerturbationSweep

FAMILIES = {
    "contrast": [1.0, 0.5, 0.3, 0.15, 0.1, 0.05],
    "uniform-noise": [0.0, 0.1, 0.2, 0.35, 0.6, 0.9],
    "low-pass": [0, 0.5, 1, 1.5, 2, 3],
}


class DigitsNet(pl.LightningModule):
    def __init__(self, lr: float = 3e-3) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        x = (x - 0.5) * (0.3 + 0.7 * torch.rand(x.shape[0], 1, 1, 1, device=x.device)) + 0.5  # contrast augment.
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def digits_loaders(quick: bool) -> tuple[DataLoader, DataLoader]:
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = nn.functional.interpolate(x, size=16, mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.tensor(data.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    train, val = perm[:1300], perm[1300:]
    if quick:
        val = val[:192]
    return (
        DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True),
        DataLoader(TensorDataset(x[val], y[val]), batch_size=128),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, small validation set (< 30 s on CPU)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--out", default="rdmetrics_sweep_logs", help="log directory")
    args = parser.parse_args()
    start = time.perf_counter()
    pl.seed_everything(0, verbose=False)
    train_loader, val_loader = digits_loaders(args.quick)
    sweep = PerturbationSweep(FAMILIES, num_classes=10, plot=True)  # dataloader=None: the trainer's val loader
    trainer = pl.Trainer(
        max_epochs=args.epochs or (2 if args.quick else 10),
        accelerator="cpu",
        devices=1,
        callbacks=[sweep],
        logger=CSVLogger(args.out, name="digits"),
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=5,
    )
    trainer.fit(DigitsNet(), train_loader, val_loader)

    print("sweep history (one entry per validation epoch):")
    for entry in sweep.history:
        cells = []
        for fam in FAMILIES:
            m = entry["metrics"]
            cells.append(
                f"{fam}: beta={m[f'rd/{fam}/beta']:.2f} kappa={m[f'rd/{fam}/kappa']:.2f} auc={m[f'rd/{fam}/auc']:.2f}"
            )
        print(f"  epoch {entry['epoch']}: " + " | ".join(cells))
    csv_path = os.path.join(trainer.logger.log_dir, "metrics.csv")
    with open(csv_path) as fh:
        rows = [r for r in csv.DictReader(fh) if r.get("rd/contrast/beta")]
    names = sorted(k for k in rows[-1] if k.startswith("rd/"))
    print(f"\n{len(names)} rd/ columns in {csv_path}, e.g. {names[:4]}")
    last = rows[-1]
    print("last epoch, contrast accuracy per level:",
          {lv: round(float(last[f"rd/contrast/acc@{lv:g}"]), 3) for lv in FAMILIES["contrast"]})  # fmt: skip
    plots = os.path.join(trainer.logger.log_dir, "rd_sweep")
    if os.path.isdir(plots):
        print("frontier plots:", sorted(os.listdir(plots)))
    assert all(not math.isnan(float(last[f"rd/{f}/acc@{FAMILIES[f][0]:g}"])) for f in FAMILIES)
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
