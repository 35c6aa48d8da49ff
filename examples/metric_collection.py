"""rdmetrics and torchmetrics metrics side by side in one ``MetricCollection`` (no Lightning, no download).

Two small classifiers are trained on scikit-learn's digits; on the test set one collection tracks, per batch:

* torchmetrics ``MulticlassAccuracy`` of model A,
* ``rdmetrics.PredictionAgreement`` and ``rdmetrics.ErrorConsistency`` between models A and B,
* ``rdmetrics.LinearCKA`` between their hidden representations,
* ``rdmetrics.RateDistortionSignature`` of model A over three contrast levels.

The collection passes each metric the keyword arguments its ``update`` accepts. ``compute_groups=False`` keeps
look-alike metrics apart (torchmetrics would otherwise merge metrics whose states are equal after the first
batch, e.g. two RD metrics that differ only in their perturbation).

Run: ``python examples/metric_collection.py [--quick]``.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from rdmetrics import ErrorConsistency, LinearCKA, PredictionAgreement, RateDistortionSignature
from rdmetrics.perturbations import get_perturbation

LEVELS = [1.0, 0.3, 0.1, 0.03]


class MLP(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.head(h), h


def train(x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int) -> MLP:
    torch.manual_seed(seed)
    model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        for i in range(0, len(y), 64):
            loss = nn.functional.cross_entropy(model(x[i : i + 64])[0], y[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


class AccuracyOfA(MulticlassAccuracy):
    """torchmetrics accuracy reading the collection's shared keyword arguments."""

    def update(self, preds_a: torch.Tensor, target: torch.Tensor, **_: object) -> None:  # type: ignore[override]
        super().update(preds_a, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target)
    x_train, y_train, x_test, y_test = x[:1200], y[:1200], x[1200:], y[1200:]
    epochs = 3 if args.quick else 15
    model_a = train(x_train, y_train, epochs, seed=0)
    model_b = train(x_train, y_train, epochs, seed=1)

    collection = MetricCollection(
        {
            "acc_a": AccuracyOfA(num_classes=10),
            "agreement": PredictionAgreement(num_classes=10),
            "error_consistency": ErrorConsistency(),
            "cka": LinearCKA(num_features_a=32, num_features_b=32, debiased=True),
        },
        compute_groups=False,
    )
    rd = RateDistortionSignature(num_classes=10, conditions=LEVELS, n_bootstrap=100)
    contrast = get_perturbation("contrast")

    with torch.no_grad():
        for i in range(0, len(y_test), 100):
            xb, yb = x_test[i : i + 100], y_test[i : i + 100]
            (logits_a, h_a), (logits_b, h_b) = model_a(xb), model_b(xb)
            collection.update(preds_a=logits_a, preds_b=logits_b, target=yb, x=h_a, y=h_b)
            for level_idx, level in enumerate(LEVELS):
                rd.update(model_a(contrast(xb, level))[0], yb, condition=level_idx)

    # dict-valued metrics are flattened into the collection's output (agreement, cohen_kappa, observed, kappa, ...)
    for name, value in collection.compute().items():
        print(f"{name:<24} {float(value):.4f}")
    out = rd.compute()
    print("contrast accuracy per level:", [round(v, 3) for v in out["accuracy"].tolist()])
    print(
        f"RD signature of model A: beta={float(out['beta']):.2f} {out['beta_ci'].tolist()}, "
        f"kappa={float(out['kappa']):.3f}, auc={float(out['auc']):.3f}"
    )


if __name__ == "__main__":
    main()
