"""Sweep engine: run_sweep feeds each family's metric exactly the per-level predictions of a brute-force loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchmetrics import Metric

from rdmetrics.label_maps import ImageNetTo16Class, imagenet16_categories, imagenet16_class_indices
from rdmetrics.perturbations import get_perturbation
from rdmetrics.sweep import SweepResult, compute_sweep, run_sweep, sweep_generator

NUM_CLASSES = 4


class TinyCNN(nn.Module):
    def __init__(self, num_classes: int = NUM_CLASSES, channels: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 8, 3, padding=1)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3)))


class ConfmatByLevel(Metric):
    """Reference metric: one raw confusion matrix per level (state [L, C, C], sum-reduced)."""

    full_state_update = False

    def __init__(self, num_levels: int, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.add_state("confmat", torch.zeros(num_levels, num_classes, num_classes, dtype=torch.long), "sum")

    def update(self, preds, target, condition):
        pred = preds.argmax(1)
        for t, p in zip(target.tolist(), pred.tolist()):
            self.confmat[condition, t, p] += 1

    def compute(self):
        return self.confmat.clone()


def make_data(n: int = 22, batch_size: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 12, 12, generator=g)
    y = torch.arange(n) % NUM_CLASSES  # every class present (the default metric uses a uniform prior)
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, n, batch_size)]


def brute_force_confmats(model, batches, family, levels, seed=0, rank=0):
    """Independent loop: perturb with the documented generator, forward, count (float64 not needed: integer counts)."""
    fn = get_perturbation(family)
    cm = np.zeros((len(levels), NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    with torch.no_grad():
        for b, (x, y) in enumerate(batches):
            for li, level in enumerate(levels):
                gen = sweep_generator(seed, b, family, li, rank, torch.device("cpu"))
                pred = model(fn(x, level, generator=gen)).argmax(1)
                for t, p in zip(y.tolist(), pred.tolist()):
                    cm[li, t, p] += 1
    return cm


PERTURBATIONS = {"contrast": [1.0, 0.3, 0.05], "uniform-noise": [0.0, 0.2, 0.6]}


def test_confusion_matrices_match_brute_force():
    model = TinyCNN()
    batches = make_data()
    res = run_sweep(
        model,
        batches,
        PERTURBATIONS,
        metric_factory=lambda family, levels: ConfmatByLevel(len(levels), NUM_CLASSES),
        progress=False,
        seed=3,
    )
    assert isinstance(res, SweepResult) and res.num_samples == 22
    assert res.levels == PERTURBATIONS
    out = res.compute()
    for family, levels in PERTURBATIONS.items():
        np.testing.assert_array_equal(out[family].numpy(), brute_force_confmats(model, batches, family, levels, 3))


def test_default_metric_is_rate_distortion_signature():
    from rdmetrics import RateDistortionSignature

    model = TinyCNN()
    batches = make_data()
    res = run_sweep(
        model, batches, ["contrast"], num_classes=NUM_CLASSES, progress=False, metric_kwargs={"strict": False}
    )
    metric = res["contrast"]
    assert isinstance(metric, RateDistortionSignature)
    out = res.compute()["contrast"]
    levels = res.levels["contrast"]
    assert levels == list(get_perturbation("contrast").levels)
    cm = brute_force_confmats(model, batches, "contrast", levels)
    acc = (cm.diagonal(axis1=1, axis2=2) / cm.sum(axis=2)).mean(axis=1)  # uniform-prior (class-balanced) accuracy
    np.testing.assert_allclose(np.asarray(out["accuracy"], dtype=np.float64), acc, atol=1e-12)
    np.testing.assert_allclose(np.asarray(out["distortion"], dtype=np.float64), 1 - acc, atol=1e-12)
    # the engine must hand the metric the same counts as the brute-force loop: the functional twin on the
    # brute-force confusion matrices gives the same rates
    from rdmetrics.functional import rate_distortion_points, rate_distortion_signature

    torch.testing.assert_close(metric.confmat, torch.from_numpy(cm))
    try:
        ref = rate_distortion_signature(torch.from_numpy(cm))
    except ValueError:  # frontier undefined for this random model: compare the per-level points only
        ref = {"rate": rate_distortion_points(torch.from_numpy(cm), correction="miller_madow")[1]}
    np.testing.assert_allclose(np.asarray(out["rate"], dtype=np.float64), np.asarray(ref["rate"]), atol=1e-9)


def test_deterministic_and_order_independent():
    model = TinyCNN()
    batches = make_data()

    def factory(family, levels):
        return ConfmatByLevel(len(levels), NUM_CLASSES)

    a = run_sweep(model, batches, {"uniform-noise": [0.3, 0.9]}, metric_factory=factory, progress=False).compute()
    b = run_sweep(
        model, batches, {"contrast": [0.5], "uniform-noise": [0.3, 0.9]}, metric_factory=factory, progress=False
    ).compute()
    torch.testing.assert_close(a["uniform-noise"], b["uniform-noise"])
    # the noise really is seeded per (batch, family, level): another seed draws other noise
    g1 = sweep_generator(0, 0, "uniform-noise", 1, 0, torch.device("cpu"))
    g2 = sweep_generator(1, 0, "uniform-noise", 1, 0, torch.device("cpu"))
    g3 = sweep_generator(0, 1, "uniform-noise", 1, 0, torch.device("cpu"))
    g4 = sweep_generator(0, 0, "uniform-noise", 1, 1, torch.device("cpu"))
    draws = [torch.rand(4, generator=g) for g in (g1, g2, g3, g4)]
    assert all(not torch.equal(draws[0], d) for d in draws[1:])


class ModeProbe(TinyCNN):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, torch.is_grad_enabled(), x.shape[0]))
        return super().forward(x)


@pytest.mark.parametrize("start_training", [True, False])
def test_eval_mode_no_grad_and_restore(start_training):
    model = ModeProbe().train(start_training)
    run_sweep(model, make_data(), {"contrast": [1, 0.5, 0.1]}, num_classes=NUM_CLASSES, progress=False, max_batches=2)
    assert model.training is start_training
    assert len(model.seen) == 2 * 3  # 2 batches x 3 levels (max_batches respected)
    assert all(not training and not grad for training, grad, _ in model.seen)


def test_mode_restored_on_error():
    model = TinyCNN().train()
    with pytest.raises(ValueError, match="targets"):
        run_sweep(model, [(torch.rand(2, 3, 8, 8), torch.zeros(3, dtype=torch.long))], ["contrast"], num_classes=4)
    assert model.training


def test_label_map_and_uint8_images():
    """A 1000-way model evaluated in the 16-class space: its logit for one ImageNet class of each category."""
    idx = imagenet16_class_indices()
    cats = imagenet16_categories()
    target_class = torch.tensor([idx[c][0] for c in cats])

    class Oracle(nn.Module):  # predicts category (mean brightness bucket) through one ImageNet class
        def forward(self, x):
            bucket = (x.mean(dim=(1, 2, 3)) * 16).clamp(max=15.999).long()
            logits = torch.zeros(x.shape[0], 1000)
            logits[torch.arange(x.shape[0]), target_class[bucket]] = 50.0
            return logits

    levels = torch.arange(16, dtype=torch.uint8) * 16 + 8  # constant images, one per bucket
    images = levels.view(16, 1, 1, 1).expand(16, 3, 4, 4).contiguous()
    targets = torch.arange(16)
    res = run_sweep(
        Oracle(),
        [(images, targets)],
        {"contrast": [1.0, 1.0, 1.0]},
        num_classes=16,
        label_map=ImageNetTo16Class(),
        progress=False,
    )
    assert res["contrast"].confmat.diagonal(dim1=1, dim2=2).sum() == 3 * 16  # every image right at every level


def test_autocast_bfloat16_cpu():
    model = TinyCNN()
    res = run_sweep(
        model,
        make_data(),
        {"contrast": [1.0, 0.5, 0.2]},
        num_classes=NUM_CLASSES,
        autocast=torch.bfloat16,
        progress=False,
    )
    assert int(res["contrast"].confmat.sum()) == 3 * 22


def test_compute_sweep_helper():
    model = TinyCNN()
    res = run_sweep(
        model,
        make_data(),
        {"contrast": [1.0, 0.3, 0.1]},
        num_classes=NUM_CLASSES,
        progress=False,
        metric_kwargs={"strict": False},
    )
    a = compute_sweep(res)["contrast"]
    b = res.compute()["contrast"]
    torch.testing.assert_close(a["accuracy"], b["accuracy"])


def test_non_strict_compute_on_degenerate_frontier():
    """A constant model has the same error at every level: strict compute raises, non-strict gives NaN signatures
    and the closed-form points (accuracy 1/C under a uniform prior, rate 0)."""
    const = lambda x: torch.tensor([5.0, 0.0, 0.0, 0.0]).expand(x.shape[0], 4)  # noqa: E731
    res = run_sweep(const, make_data(), {"contrast": [1.0, 0.3, 0.1]}, num_classes=NUM_CLASSES, progress=False)
    with pytest.raises(ValueError, match="distinct"):
        res.compute()
    res = run_sweep(
        const,
        make_data(),
        {"contrast": [1.0, 0.3, 0.1]},
        num_classes=NUM_CLASSES,
        progress=False,
        metric_kwargs={"strict": False},
    )
    out = res.compute()["contrast"]
    np.testing.assert_allclose(out["accuracy"].numpy(), [0.25] * 3)
    np.testing.assert_allclose(out["rate"].numpy(), [0.0] * 3, atol=1e-12)
    assert all(bool(out[k].isnan()) for k in ("beta", "kappa", "auc"))


def test_bad_arguments():
    model = TinyCNN()
    data = make_data()
    with pytest.raises(ValueError, match="num_classes"):
        run_sweep(model, data, ["contrast"], progress=False)
    with pytest.raises((ValueError, KeyError), match="no-such-perturbation"):
        run_sweep(model, data, ["no-such-perturbation"], num_classes=4, progress=False)
    with pytest.raises(ValueError, match="empty"):
        run_sweep(model, data, [], num_classes=4, progress=False)
    with pytest.raises(ValueError, match="at least 3"):
        run_sweep(model, data, {"contrast": [1.0, 0.5]}, num_classes=4, progress=False)
    with pytest.raises(ValueError, match="no levels"):
        run_sweep(model, data, {"contrast": []}, num_classes=4, progress=False)
    with pytest.raises(TypeError, match="batch"):
        run_sweep(model, [torch.rand(2, 3, 8, 8)], ["contrast"], num_classes=4, progress=False)
    with pytest.raises(TypeError, match="dtype"):
        run_sweep(
            model,
            [(torch.zeros(2, 3, 8, 8, dtype=torch.long), torch.zeros(2).long())],
            ["contrast"],
            num_classes=4,
            progress=False,
        )
    with pytest.raises(ValueError, match="max_batches"):
        run_sweep(model, data, ["contrast"], num_classes=4, max_batches=0, progress=False)
    with pytest.raises(TypeError, match="autocast"):
        run_sweep(model, data, ["contrast"], num_classes=4, autocast="yes", progress=False)
    with pytest.raises(TypeError, match="logits tensor"):
        run_sweep(lambda x: {"logits": x}, data, ["contrast"], num_classes=4, progress=False)


def test_dict_batches_and_batch_transform():
    model = TinyCNN()
    data = make_data()
    factory = lambda family, levels: ConfmatByLevel(len(levels), NUM_CLASSES)  # noqa: E731
    ref = run_sweep(model, data, {"contrast": [0.5]}, metric_factory=factory, progress=False).compute()
    as_dict = [{"image": x, "label": y} for x, y in data]
    out = run_sweep(model, as_dict, {"contrast": [0.5]}, metric_factory=factory, progress=False).compute()
    torch.testing.assert_close(out["contrast"], ref["contrast"])
    swapped = [(y, x) for x, y in data]
    out = run_sweep(
        model,
        swapped,
        {"contrast": [0.5]},
        metric_factory=factory,
        progress=False,
        batch_transform=lambda b: (b[1], b[0]),
    ).compute()
    torch.testing.assert_close(out["contrast"], ref["contrast"])


def test_signatures_and_bootstrap_intervals_match_functional_on_brute_force_counts():
    """A brightness classifier under contrast loss (defined frontier): β, κ, AUC and bootstrap intervals from the
    sweep equal the functional twin applied to the brute-force confusion matrices."""
    from rdmetrics.functional import rate_distortion_signature

    centers = torch.tensor([0.125, 0.375, 0.625, 0.875])

    def model(x):
        return -(x.mean(dim=(1, 2, 3))[:, None] - centers).abs()

    g = torch.Generator().manual_seed(1)
    y = torch.arange(64) % 4
    bright = (centers[y] + (torch.rand(64, generator=g) - 0.5) * 0.24).clamp(0, 1)
    x = bright.view(-1, 1, 1, 1).expand(64, 3, 4, 4).contiguous()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    levels = [1.0, 0.7, 0.4, 0.2, 0.05]
    res = run_sweep(
        model, batches, {"contrast": levels}, num_classes=4, progress=False, metric_kwargs={"n_bootstrap": 50}
    )
    out = res.compute()["contrast"]
    cm = torch.from_numpy(brute_force_confmats(model, batches, "contrast", levels))
    ref = rate_distortion_signature(cm, n_bootstrap=50, seed=0)
    assert len(set(ref["distortion"].tolist())) >= 3
    for key in ("rate", "distortion", "beta", "kappa", "auc", "beta_ci", "kappa_ci", "auc_ci"):
        torch.testing.assert_close(out[key], ref[key], equal_nan=True)
