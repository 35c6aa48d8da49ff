"""Sweep engine: run_sweep feeds each family's metric exactly the per-level predictions of a brute-force loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchmetrics import Metric

from rdmetrics.label_maps import ImageNetTo16Class, imagenet16_categories, imagenet16_class_indices
from rdmetrics.perturbations import get_perturbation
from rdmetrics.sweep import SweepResult, compute_sweep, run_sweep, shard_dataloader, sweep_seeds

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


def brute_force_confmats(model, batches, family, levels, seed=0):
    """Independent loop: perturb each image with its documented key (seed, family, level, position in the data),
    forward, count (integer counts)."""
    fn = get_perturbation(family)
    cm = np.zeros((len(levels), NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    start = 0
    with torch.no_grad():
        for x, y in batches:
            index = torch.arange(start, start + len(y))
            start += len(y)
            for li, level in enumerate(levels):
                pred = model(fn(x, level, seeds=sweep_seeds(seed, family, level, index))).argmax(1)
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
    # the keys really depend on every part of (seed, family, level, index); a level is keyed by value
    ref = sweep_seeds(0, "uniform-noise", 0.3, torch.arange(4))
    for other in (
        sweep_seeds(1, "uniform-noise", 0.3, torch.arange(4)),
        sweep_seeds(0, "gaussian-noise", 0.3, torch.arange(4)),
        sweep_seeds(0, "uniform-noise", 0.35, torch.arange(4)),
    ):
        assert not torch.isin(other, ref).any()
    shifted = sweep_seeds(0, "uniform-noise", 0.3, torch.arange(1, 5))  # keyed by index, not by position
    assert torch.equal(shifted[:3], ref[1:]) and not torch.isin(shifted[3:], ref).any()
    assert len(set(ref.tolist())) == 4
    torch.testing.assert_close(sweep_seeds(0, "rotation", 90, [2]), sweep_seeds(0, "rotation", 90.0, [2]))


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


def _brightness_task():
    """A brightness classifier under contrast loss (a defined frontier): model, 4 batches of 16, contrast levels."""
    centers = torch.tensor([0.125, 0.375, 0.625, 0.875])

    def model(x):
        return -(x.mean(dim=(1, 2, 3))[:, None] - centers).abs()

    g = torch.Generator().manual_seed(1)
    y = torch.arange(64) % 4
    bright = (centers[y] + (torch.rand(64, generator=g) - 0.5) * 0.24).clamp(0, 1)
    x = bright.view(-1, 1, 1, 1).expand(64, 3, 4, 4).contiguous()
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    return model, batches, [1.0, 0.7, 0.4, 0.2, 0.05]


def test_signatures_and_bootstrap_intervals_match_functional_on_brute_force_counts():
    """A brightness classifier under contrast loss (defined frontier): β, κ, AUC and bootstrap intervals from the
    sweep equal the functional twin applied to the brute-force confusion matrices."""
    from rdmetrics.functional import rate_distortion_signature

    model, batches, levels = _brightness_task()
    res = run_sweep(
        model, batches, {"contrast": levels}, num_classes=4, progress=False, metric_kwargs={"n_bootstrap": 50}
    )
    out = res.compute()["contrast"]
    cm = torch.from_numpy(brute_force_confmats(model, batches, "contrast", levels))
    ref = rate_distortion_signature(cm, n_bootstrap=50, seed=0)
    assert len(set(ref["distortion"].tolist())) >= 3
    for key in ("rate", "distortion", "beta", "kappa", "auc", "beta_ci", "kappa_ci", "auc_ci"):
        torch.testing.assert_close(out[key], ref[key], equal_nan=True)


# ---------------------------------------------------------------------------------------------------------------------
# world-size and batch-size free noise

STOCHASTIC = {
    "uniform-noise": [0.0, 0.2, 0.6],
    "gaussian-noise": [0.0, 0.1, 0.3],
    "phase-scrambling": [0.0, 90.0, 180.0],
}


class PixelLinear(nn.Module):
    """A linear read-out of every pixel: its predictions move with the pixel noise (so the checks can fail)."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(torch.randn(NUM_CLASSES, 3 * 8 * 8, generator=g))

    def forward(self, x):
        return x.flatten(1) @ self.weight.T


def noise_dataset(n: int = 30):
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(5)
    return TensorDataset(torch.rand(n, 3, 8, 8, generator=g), torch.arange(n) % NUM_CLASSES)


def confmat_sweep(loader, seed=0, metric_kwargs=None, families=STOCHASTIC):
    res = run_sweep(
        PixelLinear(),
        loader,
        families,
        num_classes=NUM_CLASSES,
        progress=False,
        seed=seed,
        metric_kwargs={"strict": False, **(metric_kwargs or {})},
    )
    return {
        family: {k: out[k] for k in ("confmat", "rate", "accuracy", "beta", "kappa", "auc")}
        for family, out in res.compute().items()
    }


def test_batch_size_and_order_do_not_change_the_noise():
    """Batch size 7 vs 32 with a shuffled sampler, and explicit indices from batch_transform: identical confusion
    matrices (test_confusion_matrices_match_brute_force checks the counts against the documented keys)."""
    from torch.utils.data import DataLoader

    ds = noise_dataset()
    ref = confmat_sweep(DataLoader(ds, batch_size=7))
    shuffled = DataLoader(ds, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(3))
    other = confmat_sweep(shuffled)
    for family in STOCHASTIC:
        assert torch.equal(other[family]["confmat"], ref[family]["confmat"]), family
    # a plain list of (images, targets, indices) batches keyed through batch_transform
    x, y = ds.tensors
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(1))
    triples = [(x[perm[i : i + 11]], y[perm[i : i + 11]], perm[i : i + 11]) for i in range(0, len(y), 11)]
    res = run_sweep(
        PixelLinear(),
        triples,
        {"uniform-noise": STOCHASTIC["uniform-noise"]},
        metric_factory=lambda f, levels: ConfmatByLevel(len(levels), NUM_CLASSES),
        batch_transform=lambda b: b,
        progress=False,
    ).compute()
    assert torch.equal(res["uniform-noise"], ref["uniform-noise"]["confmat"])
    # the noise matters for this model: another seed gives other counts
    other_seed = confmat_sweep(DataLoader(ds, batch_size=7), seed=1)
    assert any(
        not torch.equal(other_seed[f]["confmat"], ref[f]["confmat"]) for f in ("uniform-noise", "gaussian-noise")
    )


def _ddp_sweep_worker(rank, world_size):
    """World size 3 on the default group, then world size 2 on the subgroup of ranks 0 and 1 (batch size 32)."""
    import torch.distributed as dist
    from torch.utils.data import DataLoader

    ds = noise_dataset()
    out = {"w3": confmat_sweep(shard_dataloader(DataLoader(ds, batch_size=5), world_size, rank))}
    group = dist.new_group([0, 1])
    if rank < 2:
        loader = shard_dataloader(DataLoader(ds, batch_size=32), 2, rank)
        out["w2"] = confmat_sweep(loader, metric_kwargs={"process_group": group})
    return out


@pytest.mark.ddp
def test_world_sizes_one_two_three_identical():
    """One spawn of 3 gloo processes: world 3 and world 2 sweeps equal the single-process sweep bit for bit
    (stochastic families included), on every rank."""
    from harness import run_ddp
    from torch.utils.data import DataLoader

    ref = confmat_sweep(DataLoader(noise_dataset(), batch_size=7))
    outs = run_ddp(_ddp_sweep_worker, world_size=3, timeout=240)
    runs = [o["w3"] for o in outs] + [o["w2"] for o in outs[:2]]
    for run in runs:
        for family in STOCHASTIC:
            for key, value in ref[family].items():
                torch.testing.assert_close(
                    run[family][key].double(), value.double(), rtol=0, atol=0, equal_nan=True, msg=f"{family} {key}"
                )


def test_axis_and_at_accuracy_pass_through():
    """run_sweep(axis=, at_accuracy=) gives what the functional gives on the brute-force counts."""
    from rdmetrics.functional import rate_distortion_signature

    model, batches, levels = _brightness_task()
    cm = torch.from_numpy(brute_force_confmats(model, batches, "contrast", levels))
    try:
        ref = rate_distortion_signature(cm, conditions=levels, axis="severity", at_accuracy=0.6)
    except TypeError as err:
        pytest.xfail(f"the RD functional does not take axis/at_accuracy yet: {err}")
    out = run_sweep(
        model, batches, {"contrast": levels}, num_classes=4, progress=False, axis="severity", at_accuracy=0.6
    ).compute()["contrast"]
    for key in ("rate", "beta", "kappa", "auc"):
        torch.testing.assert_close(out[key], ref[key], equal_nan=True)
    with pytest.raises(ValueError, match="metric_factory"):
        run_sweep(model, batches, ["contrast"], metric_factory=lambda f, lv: None, axis="severity", progress=False)
