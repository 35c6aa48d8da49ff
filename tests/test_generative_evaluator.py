"""evaluate_generator + GenerativeCheckpointEvaluator on a toy Gaussian-mixture generator (CPU, no downloads)."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from torch import nn

from rdmetrics import PrecisionRecallEntropy, evaluate_generator

pl = pytest.importorskip("lightning.pytorch")
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from rdmetrics.integrations.lightning import GenerativeCheckpointEvaluator  # noqa: E402

NUM_MODES = 8
CENTERS = 6.0 * torch.stack(
    [
        torch.cos(torch.arange(NUM_MODES) * 2 * math.pi / NUM_MODES),
        torch.sin(torch.arange(NUM_MODES) * 2 * math.pi / NUM_MODES),
    ],
    dim=1,
)
SIGMA = 0.3


def real_set(per_mode: int = 40, seed: int = 123) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    idx = torch.arange(NUM_MODES).repeat_interleave(per_mode)
    return CENTERS[idx] + SIGMA * torch.randn(len(idx), 2, generator=g)


def mixture_sample(n: int, coverage: int) -> torch.Tensor:
    """Samples of a mixture covering the first `coverage` modes (global RNG: seeded by the evaluator)."""
    idx = torch.randint(0, coverage, (n,))
    return CENTERS[idx] + SIGMA * torch.randn(n, 2)


class ToyGMM(pl.LightningModule):
    """A 'generator' whose mode coverage follows a per-epoch schedule; training does nothing useful."""

    def __init__(self, schedule=(2, 4, 8), record_dir: str | None = None) -> None:
        super().__init__()
        self.schedule = tuple(schedule)
        self.coverage = self.schedule[0]
        self.w = nn.Parameter(torch.zeros(1))
        self.record_dir = record_dir
        self.drawn: list[torch.Tensor] = []
        self.sample_context: list[tuple[bool, bool]] = []

    def sample(self, n: int) -> torch.Tensor:
        self.sample_context.append((self.training, torch.is_grad_enabled()))
        x = mixture_sample(n, self.coverage) + 0 * self.w.detach()
        self.drawn.append(x)
        return x

    def on_train_epoch_start(self) -> None:
        self.coverage = self.schedule[min(self.current_epoch, len(self.schedule) - 1)]

    def training_step(self, batch, batch_idx):
        return (self.w - batch[0].mean()).pow(2).sum()

    def validation_step(self, batch, batch_idx):
        return None

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def on_fit_end(self) -> None:
        if self.record_dir is not None:
            torch.save(torch.cat(self.drawn), f"{self.record_dir}/drawn_rank{self.global_rank}.pt")


def _loader() -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 1)), batch_size=2)


class CountRows(nn.Module):
    """Identity feature map that counts the rows it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.rows += x.shape[0]
        return x


def _reference(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    metric = PrecisionRecallEntropy(k=k)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return {key: float(v) for key, v in metric.compute().items()}


# ---------------------------------------------------------------------------------------------------------------------
# plain function


def test_evaluate_generator_rce_falls_with_coverage_and_matches_metric():
    real = real_set()
    module = ToyGMM()
    module.train()
    rce = []
    for coverage in (2, 4, 8):
        module.coverage = coverage
        module.drawn.clear()
        torch.manual_seed(99)
        before = torch.rand(3)
        torch.manual_seed(99)
        out = evaluate_generator(module.sample, real, None, num_samples=320, k=5, batch_size=100, seed=7, module=module)
        assert torch.equal(torch.rand(3), before)  # caller's RNG stream untouched
        # the same numbers as the metric fed the very samples that were drawn
        ref = _reference(real, torch.cat(module.drawn))
        for key in ("pce", "rce", "re", "precision", "recall", "density", "coverage"):
            assert out[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-12)
        rce.append(out["rce"])
        # closed form for well-separated equal-weight modes (16 sigma apart): H(G) - H(R) = log(coverage / 8) and
        # H(G, R) = H(R) because every sample sits on a real mode
        assert out["re"] == pytest.approx(math.log(coverage / NUM_MODES), abs=0.15)
        assert out["pce"] == pytest.approx(0.0, abs=0.15)
    assert rce[0] > rce[1] > rce[2]
    assert module.training is True  # restored
    assert all(ctx == (False, False) for ctx in module.sample_context)  # eval mode, no grad
    assert [len(x) for x in module.drawn] == [100, 100, 100, 20]


def test_real_encoded_once_with_cached_metric():
    real = real_set()
    counter = CountRows()
    metric = PrecisionRecallEntropy(k=5, reset_real_features=False)
    first = evaluate_generator(lambda b: mixture_sample(b, 8), real, counter, num_samples=100, metric=metric)
    again = evaluate_generator(lambda b: mixture_sample(b, 8), None, counter, num_samples=100, metric=metric)
    assert counter.rows == len(real) + 2 * 100
    assert first == again  # same seed, same model, cached real features


def test_real_set_forms_and_rank_shares(tmp_path):
    import numpy as np

    from rdmetrics.generator_eval import _iter_real

    real = real_set(per_mode=10)

    def draw(b: int) -> torch.Tensor:
        return mixture_sample(b, 4)

    ref = evaluate_generator(draw, real, None, num_samples=50, k=3)
    torch.save(real, tmp_path / "real.pt")
    np.save(tmp_path / "real.npy", real.numpy())
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(real), batch_size=16)
    for form in (loader, tmp_path / "real.pt", str(tmp_path / "real.npy"), real.numpy()):
        out = evaluate_generator(draw, form, None, num_samples=50, k=3)
        assert out == pytest.approx(ref, rel=1e-12)
    (tmp_path / "real.csv").touch()
    with pytest.raises(ValueError, match="unsupported"):
        evaluate_generator(draw, tmp_path / "real.csv", None, num_samples=50, k=3)

    # every row of the real set goes to exactly one rank, shares differ by at most one row / batch
    shares = [torch.cat(list(_iter_real(real, 7, r, 3))) for r in range(3)]
    assert torch.equal(torch.cat(shares), real) and sorted(len(x) for x in shares) == [26, 27, 27]
    batches = [list(_iter_real(loader, 16, r, 2)) for r in range(2)]
    assert [len(b) for b in batches] == [3, 2] and torch.equal(batches[1][0], real[16:32])
    # and each rank draws its share of the samples with its own seed
    counts = []
    for rank in range(3):
        drawn: list[torch.Tensor] = []

        def record(b: int, drawn: list[torch.Tensor] = drawn) -> torch.Tensor:
            drawn.append(mixture_sample(b, 8))
            return drawn[-1]

        evaluate_generator(record, real, None, num_samples=50, k=3, batch_size=10, rank=rank, world_size=3, prdc=False)
        counts.append(sum(len(x) for x in drawn))
    assert counts == [17, 17, 16]


def test_errors():
    real = real_set(per_mode=5)
    with pytest.raises(ValueError, match="exceed k"):
        evaluate_generator(lambda b: mixture_sample(b, 8), real, None, num_samples=5, k=5)
    with pytest.raises(ValueError, match="expected 7 samples"):
        evaluate_generator(lambda b: mixture_sample(3, 8), real, None, num_samples=7, k=2, batch_size=7)
    with pytest.raises(TypeError, match="must return a tensor"):
        evaluate_generator(lambda b: [0] * b, real, None, num_samples=7, k=2)
    with pytest.raises(ValueError, match="width 3"):  # 3-d samples vs 2-d real features
        evaluate_generator(lambda b: torch.randn(b, 3), real, None, num_samples=20, k=2)
    with pytest.raises(ValueError, match="real"):
        evaluate_generator(lambda b: torch.randn(b, 2), None, None, num_samples=20, k=2)

    timm = pytest.importorskip("timm")  # noqa: F841
    from rdmetrics.extractors.timm import TimmFeatureExtractor

    ext = TimmFeatureExtractor("test_resnet", input_size=32)
    images = torch.rand(12, 3, 16, 16)
    with pytest.raises(ValueError, match="4-D"):
        evaluate_generator(lambda b: torch.rand(b, 16, 16), images, ext, num_samples=12, k=2)
    with pytest.raises(ValueError, match="3-channel"):
        evaluate_generator(lambda b: torch.rand(b, 1, 16, 16), images, ext, num_samples=12, k=2)
    out = evaluate_generator(lambda b: torch.rand(b, 3, 16, 16), images, ext, num_samples=12, k=2, prdc=False)
    assert math.isfinite(out["pce"])

    with pytest.raises(ValueError, match="num_samples"):
        GenerativeCheckpointEvaluator(real=real, num_samples=5, k=5)
    with pytest.raises(ValueError, match="mode"):
        GenerativeCheckpointEvaluator(real=real, num_samples=50, mode="best")
    # everything is checked at construction, not at the first evaluation
    with pytest.raises(ValueError, match=r"monitor='pcee'.*'pce'"):
        GenerativeCheckpointEvaluator(real=real, num_samples=50, monitor="pcee")
    with pytest.raises(ValueError, match="prdc=True"):
        GenerativeCheckpointEvaluator(real=real, num_samples=50, monitor="precision", mode="max", prdc=False)
    with pytest.raises(FileNotFoundError, match="not found"):
        GenerativeCheckpointEvaluator(real="missing.npy", num_samples=50)
    with pytest.raises(TypeError, match="real"):
        GenerativeCheckpointEvaluator(real=3, num_samples=50)
    with pytest.raises(ValueError, match="filename"):
        GenerativeCheckpointEvaluator(real=real, num_samples=50, filename="a/b")

    class NoSample(pl.LightningModule):
        pass

    cb = GenerativeCheckpointEvaluator(real=real, num_samples=50)
    with pytest.raises(ValueError, match="sample"):
        cb.setup(None, NoSample(), "fit")


# ---------------------------------------------------------------------------------------------------------------------
# Lightning callback


def test_callback_history_best_checkpoint_and_resume(tmp_path):
    real = real_set()
    counter = CountRows()
    on_val = GenerativeCheckpointEvaluator(
        real, num_samples=160, feature_extractor=counter, monitor="rce", mode="min", batch_size=64, dirpath=tmp_path
    )
    on_ckpt = GenerativeCheckpointEvaluator(
        real, num_samples=160, on="checkpoint", monitor="re", mode="max", dirpath=tmp_path, filename="on_ckpt"
    )
    ckpt = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="gen/rce", mode="min", save_top_k=-1, filename="{epoch}")
    module = ToyGMM(schedule=(2, 4, 8))
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        num_sanity_val_steps=1,
        callbacks=[on_val, on_ckpt, ckpt],
        logger=CSVLogger(tmp_path, name="logs"),
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, _loader(), _loader())

    hist = on_val.history
    assert [row["epoch"] for row in hist] == [0, 1, 2]  # one row per evaluation, none in the sanity check
    rce = [row["rce"] for row in hist]
    assert rce[0] > rce[1] > rce[2]
    best = min(range(3), key=lambda i: rce[i])
    assert on_val.best_value == rce[best] and on_val.best_epoch == best
    assert on_val.best_checkpoint == hist[best]["checkpoint"] == ckpt.best_model_path
    assert all(row["checkpoint"] and row["checkpoint"].endswith(f"epoch={row['epoch']}.ckpt") for row in hist)
    assert counter.rows == len(real) + 3 * 160  # real set encoded once
    assert float(trainer.callback_metrics["gen/rce"]) == pytest.approx(rce[-1], rel=1e-6)

    # files next to the checkpoints
    rows = list(csv.DictReader(open(tmp_path / "generative_history.csv")))
    assert [float(r["rce"]) for r in rows] == pytest.approx(rce)
    payload = json.loads((tmp_path / "generative_history.json").read_text())
    assert payload["best_value"] == on_val.best_value and len(payload["history"]) == 3
    assert (tmp_path / "generative_history.png").exists()

    # on="checkpoint": one evaluation per saved checkpoint, logged through the logger, best by max RE
    re_vals = [row["re"] for row in on_ckpt.history]
    assert len(re_vals) == 3 and on_ckpt.best_value == max(re_vals)
    logged = list(csv.DictReader(open(trainer.logger.log_dir + "/metrics.csv")))
    assert sum(1 for r in logged if r.get("gen/re")) >= 3

    # resume: the history is in the checkpoint and in state_dict
    saved = torch.load(ckpt.best_model_path, weights_only=False)["callbacks"][on_val.state_key]
    assert [row["rce"] for row in saved["history"]] == pytest.approx(rce)
    fresh = GenerativeCheckpointEvaluator(real, num_samples=160, monitor="rce")
    fresh.load_state_dict(on_val.state_dict())
    assert fresh.best_value == on_val.best_value and fresh.best_checkpoint == on_val.best_checkpoint


@pytest.mark.ddp
def test_ddp_spawn_equals_single_process(tmp_path):
    real = real_set(per_mode=25)
    cb = GenerativeCheckpointEvaluator(real, num_samples=101, monitor="rce", dirpath=tmp_path, plot=False)
    module = ToyGMM(schedule=(4,), record_dir=str(tmp_path))
    trainer = pl.Trainer(
        accelerator="cpu",
        strategy="ddp_spawn",
        devices=2,
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=[cb],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, _loader(), _loader())
    drawn = [torch.load(tmp_path / f"drawn_rank{r}.pt") for r in range(2)]
    assert [len(d) for d in drawn] == [51, 50]  # num_samples // world (+1 on the first rank)
    assert not torch.equal(drawn[0][:50], drawn[1])  # different seeds per rank
    row = json.loads((tmp_path / "generative_history.json").read_text())["history"][0]
    ref = _reference(real, torch.cat(drawn))
    for key in ("pce", "rce", "re", "precision", "recall", "density", "coverage"):
        assert row[key] == pytest.approx(ref[key], rel=1e-9, abs=1e-12)


def test_one_vocabulary_and_deprecated_names():
    """feature_extractor / num_samples / plot everywhere; extractor, feature, n, save_plots still work and warn."""
    real = real_set(per_mode=5)
    counter = CountRows()
    ref = evaluate_generator(lambda b: mixture_sample(b, 8), real, feature_extractor=counter, num_samples=20, k=2)
    with pytest.warns(DeprecationWarning, match="`n` is deprecated"):
        old = evaluate_generator(lambda b: mixture_sample(b, 8), real, n=20, k=2)
    assert old == pytest.approx(ref, rel=1e-12)
    with pytest.warns(DeprecationWarning, match="`extractor` is deprecated"):
        evaluate_generator(lambda b: mixture_sample(b, 8), real, extractor=counter, num_samples=20, k=2)
    assert counter.rows == 2 * (len(real) + 20)
    with pytest.raises(TypeError, match="not both"):
        evaluate_generator(lambda b: mixture_sample(b, 8), real, num_samples=20, n=20)
    with pytest.warns(DeprecationWarning) as record:
        cb = GenerativeCheckpointEvaluator(real, n=50, save_plots=False, feature=counter)
    assert {str(w.message).split("`")[1] for w in record} == {"n", "save_plots", "feature"}
    assert cb.num_samples == 50 and cb.plot_history is False
    before = counter.rows
    cb.feature_extractor(torch.zeros(3, 2))
    assert counter.rows == before + 3  # `feature=` reached feature_extractor


def test_state_key_has_mode_and_load_state_dict_checks_settings():
    real = real_set(per_mode=5)
    a = GenerativeCheckpointEvaluator(real, num_samples=50, monitor="re", mode="max")
    b = GenerativeCheckpointEvaluator(real, num_samples=50, monitor="re", mode="min")
    assert a.state_key != b.state_key and "mode" in a.state_key
    a.history = [
        {"epoch": 0, "step": 3, "checkpoint": None, "re": -0.5},
        {"epoch": 1, "step": 6, "checkpoint": "x", "re": 0.1},
    ]
    state = a.state_dict()
    assert {k: state[k] for k in ("monitor", "mode", "k", "num_samples", "seed")} == {
        "monitor": "re",
        "mode": "max",
        "k": 5,
        "num_samples": 50,
        "seed": 0,
    }
    fresh = GenerativeCheckpointEvaluator(real, num_samples=50, monitor="re", mode="max")
    fresh.load_state_dict(state)
    assert fresh.best_value == 0.1 and fresh.best_checkpoint == "x"
    with pytest.warns(UserWarning, match="mode: saved 'max', now 'min'"):
        b.load_state_dict(state)
    assert b.mode == "min" and b.best_value == -0.5  # its own settings are kept
