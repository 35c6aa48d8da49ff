"""Track PCE / RCE / RE (+ precision, recall, density, coverage) of a small VAE across training checkpoints.

1. trains a tiny VAE on scikit-learn's 8x8 digits (no download) with Lightning;
2. ``GenerativeCheckpointEvaluator`` samples the decoder after every validation epoch, encodes samples and the real
   digits with a frozen timm backbone (``test_resnet`` with random weights, so nothing downloads; pass
   ``--feature-extractor pixels`` to use raw pixels instead), logs ``gen/*``, and writes the history next to the
   checkpoints;
3. a ``ModelCheckpoint`` monitors ``gen/pce``; the callback reports the best checkpoint by PCE;
4. the final model is evaluated once more with the plain function ``rdmetrics.evaluate_generator``.

With pretrained features (e.g. ``TimmFeatureExtractor("vit_small_patch14_dinov2", pretrained=True)``) the numbers
become meaningful for real images; random features are only a smoke test of the plumbing.

Run: ``python examples/generative_checkpoints.py [--quick] [--epochs N] [--feature-extractor timm|pixels]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rdmetrics import evaluate_generator
from rdmetrics.integrations.lightning import GenerativeCheckpointEvaluator


def digits() -> torch.Tensor:
    x = torch.tensor(load_digits().images, dtype=torch.float32) / 16.0  # [N, 8, 8] in [0, 1]
    return x.reshape(len(x), 64)


def to_images(x: torch.Tensor) -> torch.Tensor:
    """[B, 64] pixels -> [B, 3, 8, 8] images in [0, 1] for an image backbone."""
    return x.clamp(0, 1).reshape(-1, 1, 8, 8).expand(-1, 3, -1, -1)


class DigitsVAE(pl.LightningModule):
    def __init__(self, latent: int = 8, hidden: int = 128, images: bool = True) -> None:
        super().__init__()
        self.latent = latent
        self.images = images
        self.encoder = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, 64))

    def sample(self, n: int) -> torch.Tensor:
        """Generated digits (what the evaluator calls): images [n, 3, 8, 8] or pixels [n, 64]."""
        z = torch.randn(n, self.latent, device=self.device)
        x = torch.sigmoid(self.decoder(z))
        return to_images(x) if self.images else x

    def _loss(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = nn.functional.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="sum") / len(x)
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / len(x)
        return recon + kl

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch[0])
        self.log("train/loss", loss, prog_bar=False)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self._loss(batch[0]))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=2e-3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, few samples (< 1 min)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--feature-extractor", "--extractor", choices=("timm", "pixels"), default="timm")
    parser.add_argument(
        "--out", type=str, default=None, help="output directory (default: ./generative_checkpoints_out)"
    )
    args = parser.parse_args()
    epochs = args.epochs or (3 if args.quick else 12)
    num_samples = 200 if args.quick else 1000
    torch.manual_seed(0)

    x = digits()
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = x[perm[:1400]], x[perm[1400:]]
    images = args.feature_extractor == "timm"
    if images:
        from rdmetrics.extractors.timm import TimmFeatureExtractor

        feature_extractor = TimmFeatureExtractor("test_resnet", input_size=32)  # random weights: plumbing demo only
        real = to_images(val)
    else:
        feature_extractor, real = None, val  # raw pixels as features
    out_dir = Path(args.out or "generative_checkpoints_out")

    evaluator = GenerativeCheckpointEvaluator(
        real=real,
        num_samples=num_samples,
        feature_extractor=feature_extractor,
        k=5,
        monitor="pce",
        mode="min",
        batch_size=256,
    )
    ckpt = ModelCheckpoint(dirpath=out_dir / "checkpoints", monitor="gen/pce", mode="min", save_top_k=-1)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        callbacks=[evaluator, ckpt],
        default_root_dir=out_dir,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=5,
        limit_train_batches=6 if args.quick else 1.0,
    )
    model = DigitsVAE(images=images)
    start = time.perf_counter()
    trainer.fit(
        model, DataLoader(TensorDataset(train), batch_size=64, shuffle=True), DataLoader(TensorDataset(val), 256)
    )
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.1f}s; history in {ckpt.dirpath}")

    print(f"{'epoch':>5} {'pce':>9} {'rce':>9} {'re':>9} {'prec':>6} {'recall':>6} {'dens':>6} {'cov':>6}  checkpoint")
    for row in evaluator.history:
        name = Path(row["checkpoint"]).name if row["checkpoint"] else "-"
        print(
            f"{row['epoch']:>5} {row['pce']:>9.3f} {row['rce']:>9.3f} {row['re']:>9.3f} {row['precision']:>6.3f} "
            f"{row['recall']:>6.3f} {row['density']:>6.3f} {row['coverage']:>6.3f}  {name}"
        )
    print(f"best pce {evaluator.best_value:.3f} at epoch {evaluator.best_epoch}: {evaluator.best_checkpoint}")

    # the same evaluation from a plain loop (no Lightning), on the final weights
    final = evaluate_generator(model.sample, real, feature_extractor, num_samples=num_samples, k=5, module=model)
    print(
        "final model, plain evaluate_generator:",
        {k: round(v, 3) for k, v in final.items() if k in ("pce", "rce", "re")},
    )


if __name__ == "__main__":
    main()
