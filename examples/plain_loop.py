"""Rate–distortion signatures from a plain PyTorch loop (no Lightning), on scikit-learn's digits (no download).

1. trains a tiny CNN on 8x8 digits (upsampled to 16x16) for a few epochs;
2. evaluates it under several perturbation families with a hand-written loop that feeds
   ``RateDistortionSignature.update(logits, target, condition=level_index)``;
3. does the same with one call to ``rdmetrics.sweep.run_sweep`` and checks both give the same numbers;
4. prints per-level accuracy / rate and the frontier signatures β, κ, AUC per family.

Run: ``python examples/plain_loop.py [--quick] [--epochs N]``.
"""

from __future__ import annotations

import argparse
import time

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from rdmetrics import RateDistortionSignature
from rdmetrics.perturbations import get_perturbation
from rdmetrics.sweep import run_sweep, sweep_seeds

FAMILIES = {
    "contrast": [1.0, 0.5, 0.3, 0.15, 0.1, 0.05],
    "uniform-noise": [0.0, 0.1, 0.2, 0.35, 0.6, 0.9],
    "low-pass": [0, 0.5, 1, 1.5, 2, 3],
}


def digits(size: int = 16) -> tuple[TensorDataset, TensorDataset]:
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [N, 1, 8, 8] in [0, 1]
    x = nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False).clamp(0, 1)
    y = torch.tensor(data.target)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(y), generator=g)
    train, test = perm[:1300], perm[1300:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test])


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
    )  # fmt: skip


def train(model: nn.Module, loader: DataLoader, epochs: int) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            # light noise / contrast augmentation so the frontier is not trivially flat
            x = (x - 0.5) * (0.3 + 0.7 * torch.rand(x.shape[0], 1, 1, 1)) + 0.5
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


def hand_written_sweep(model: nn.Module, loader: DataLoader) -> dict[str, dict[str, torch.Tensor]]:
    """What run_sweep does, spelled out: one metric per family, condition = level index."""
    metrics = {fam: RateDistortionSignature(num_classes=10, conditions=levels) for fam, levels in FAMILIES.items()}
    model.eval()
    start = 0
    with torch.no_grad():
        for x, y in loader:
            index = torch.arange(start, start + len(y))  # dataset indices (the loader does not shuffle)
            start += len(y)
            for fam, levels in FAMILIES.items():
                perturb = get_perturbation(fam)
                for i, level in enumerate(levels):
                    seeds = sweep_seeds(0, fam, level, index)  # per-image noise keys, as run_sweep(seed=0) uses
                    metrics[fam].update(model(perturb(x, level, seeds=seeds)), y, condition=i)
    return {fam: m.compute() for fam, m in metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, small test set (< 30 s on CPU)")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)
    start = time.perf_counter()
    train_set, test_set = digits()
    if args.quick:
        test_set = TensorDataset(*(t[:192] for t in test_set.tensors))
    epochs = args.epochs or (2 if args.quick else 15)
    model = make_model()
    train(model, DataLoader(train_set, batch_size=64, shuffle=True), epochs)
    loader = DataLoader(test_set, batch_size=128)

    by_hand = hand_written_sweep(model, loader)
    swept = run_sweep(model, loader, FAMILIES, num_classes=10, progress=False).compute()

    for fam, levels in FAMILIES.items():
        a, b = by_hand[fam], swept[fam]
        same = all(torch.allclose(a[k], b[k], equal_nan=True) for k in ("accuracy", "rate", "beta", "kappa", "auc"))
        print(f"\n{fam}: hand-written loop == run_sweep: {same}")
        print("  level     accuracy  rate[bits]")
        for lv, acc, rate in zip(levels, b["accuracy"].tolist(), b["rate"].tolist()):
            print(f"  {lv:<8g}  {acc:8.3f}  {rate:10.3f}")
        print(f"  beta={float(b['beta']):.3f}  kappa={float(b['kappa']):.3f}  auc={float(b['auc']):.3f}")
        if not same:
            raise SystemExit(f"mismatch between the hand-written loop and run_sweep for {fam}")
    print(f"\ndone in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
