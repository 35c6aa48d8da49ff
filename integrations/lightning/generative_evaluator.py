"""``GenerativeCheckpointEvaluator``: PCE / RCE / RE (+ PRDC) of a generator tracked across training checkpoints."""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from torch import nn

from rdmetrics.extractors.base import as_extractor
from rdmetrics.generator_eval import evaluate_generator
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.imports import _MATPLOTLIB_AVAILABLE
from rdmetrics.utilities.loop import _UNSET, _renamed

_ON = ("validation_end", "checkpoint")
_ENTROPY_KEYS = ("pce", "rce", "re", "h_real", "h_fake", "ce_fake_real", "ce_real_fake")
_PRDC_KEYS = ("precision", "recall", "density", "coverage")


class GenerativeCheckpointEvaluator(Callback):
    r"""Evaluate a generator's samples against a real set at every checkpoint and keep the history.

    At each evaluation the callback draws ``num_samples`` samples from the current model (eval mode, ``no_grad``,
    the trainer's precision context; train mode restored afterwards), encodes them with ``feature_extractor`` and
    computes :class:`rdmetrics.PrecisionRecallEntropy` through :func:`rdmetrics.evaluate_generator`:
    ``pce`` :math:`=\hat H(G,R)-\hat H(R)` (fidelity, lower better), ``rce`` :math:`=\hat H(R,G)-\hat H(R)` (mode
    coverage, lower better), ``re`` :math:`=\hat H(G)-\hat H(R)` (diversity within modes, higher better), in nats,
    plus ``precision, recall, density, coverage`` with ``prdc=True``. The real set is encoded **once** (the metric
    keeps it with ``reset_real_features=False``).

    * ``on="validation_end"``: evaluates in ``on_validation_epoch_end`` every ``every_n_epochs`` epochs (not during
      the sanity check) and logs ``gen/<key>`` with ``pl_module.log`` so a ``ModelCheckpoint(monitor="gen/pce")`` can
      use it. ``on="checkpoint"``: evaluates whenever a checkpoint is saved (``on_save_checkpoint``, where
      ``pl_module.log`` is refused) and logs through ``trainer.loggers`` at the current step; the row is also written
      into the checkpoint being saved.
    * History: one row per evaluation ``{epoch, step, checkpoint, <values>}``; ``checkpoint`` is the file a
      ``ModelCheckpoint`` saved at that step (read from its public ``best_k_models`` / ``best_model_path`` /
      ``last_model_path`` when the file is written; a top-k file is preferred over ``last``), else ``None``.
      Written by rank 0 as ``<filename>.csv`` / ``.json`` (+ ``.png`` plot with matplotlib) in ``dirpath``
      (default: the first ``ModelCheckpoint``'s directory, else ``trainer.log_dir``, else ``default_root_dir``).
    * ``best_value`` / ``best_checkpoint`` / ``best_epoch`` follow ``monitor`` and ``mode``.
    * ``state_dict()`` holds the history and the settings it depends on (``monitor``, ``mode``, ``k``,
      ``num_samples``, ``seed``), so the best value survives resume; ``load_state_dict`` restores the history and
      warns when the saved settings differ from this callback's (which are kept). ``state_key`` includes
      ``monitor``, ``mode``, ``on``, ``num_samples`` and ``k``.
    * Every argument is checked when the callback is built (``monitor`` against the metric's outputs, ``mode``,
      sizes, the ``real`` set's type or file).
    * DDP: each rank draws ``num_samples // world_size`` samples (the first ranks one more) with seed ``seed + rank``
      and encodes its share of the real set; the metric gathers the features, so values equal one process given the
      same samples. All ranks run the evaluation.

    Args:
        real: real set: tensor of images or ``[N, d]`` features, ``.npy``/``.pt`` path, or DataLoader / iterable of
            batches (see :func:`rdmetrics.evaluate_generator`).
        num_samples: generated samples per evaluation (over all ranks); must exceed ``k``.
        sample_fn: ``sample_fn(pl_module, n) -> Tensor``; ``None``: ``pl_module.sample(n)``.
        feature_extractor: ``None`` (samples are features), an ``nn.Module`` or a registry name such as
            ``"timm/resnet50"`` (frozen; not saved in checkpoints). Deprecated names: ``extractor``, ``feature``.
        k: neighbour order.
        every_n_epochs: evaluate every this many epochs.
        on: ``"validation_end"`` or ``"checkpoint"``.
        monitor: output key that defines the best evaluation: ``"pce"``, ``"rce"``, ``"re"``, ``"h_real"``,
            ``"h_fake"``, ``"ce_fake_real"``, ``"ce_real_fake"`` and, with ``prdc``, ``"precision"``, ``"recall"``,
            ``"density"``, ``"coverage"``.
        mode: ``"min"`` or ``"max"`` (use ``"max"`` for ``re``, precision, recall, density, coverage).
        batch_size: samples drawn and encoded per step.
        seed: base sampling seed (the same noise at every evaluation: differences come from the model).
        prdc: also compute precision, recall, density and coverage.
        dirpath: where to write the history files.
        filename: stem of the history files.
        log_prefix: prefix of the logged keys.
        plot: write a PNG of the history when matplotlib is installed. Deprecated name: ``save_plots``.

    Example:
        >>> import torch
        >>> cb = GenerativeCheckpointEvaluator(real=torch.randn(100, 2), num_samples=100, monitor="rce")
        >>> cb.best_value is None, cb.history
        (True, [])
    """

    def __init__(
        self,
        real: Any,
        num_samples: int | None = None,
        sample_fn: Any = None,
        feature_extractor: nn.Module | str | None = None,
        k: int = 5,
        every_n_epochs: int = 1,
        on: str = "validation_end",
        monitor: str = "pce",
        mode: str = "min",
        batch_size: int = 256,
        seed: int = 0,
        prdc: bool = True,
        dirpath: str | Path | None = None,
        filename: str = "generative_history",
        log_prefix: str = "gen/",
        plot: bool = True,
        *,
        n: Any = _UNSET,
        extractor: Any = _UNSET,
        feature: Any = _UNSET,
        save_plots: Any = _UNSET,
    ) -> None:
        super().__init__()
        num_samples = _renamed(num_samples, n, "num_samples", "n")
        feature_extractor = _renamed(feature_extractor, extractor, "feature_extractor", "extractor")
        feature_extractor = _renamed(feature_extractor, feature, "feature_extractor", "feature")
        plot = _renamed(plot, save_plots, "plot", "save_plots", default=True)
        _check_real(real)
        if num_samples is None:
            raise TypeError("`num_samples` (generated samples per evaluation) is required")
        self.k = _check_positive_int(k, "k")
        self.num_samples = _check_positive_int(num_samples, "num_samples")
        if self.num_samples <= self.k:
            raise ValueError(f"`num_samples` must exceed k={self.k}, got {num_samples}")
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs")
        self.batch_size = _check_positive_int(batch_size, "batch_size")
        if on not in _ON:
            raise ValueError(f"`on` must be one of {_ON}, got {on!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` must be 'min' or 'max', got {mode!r}")
        outputs = _ENTROPY_KEYS + (_PRDC_KEYS if prdc else ())
        if monitor not in outputs:
            hint = " (precision/recall/density/coverage need prdc=True)" if monitor in _PRDC_KEYS else ""
            raise ValueError(f"`monitor={monitor!r}` is not an output{hint}; choose one of {list(outputs)}")
        if sample_fn is not None and not callable(sample_fn):
            raise TypeError(f"`sample_fn` must be callable (pl_module, n) -> samples, got {type(sample_fn).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"`seed` must be an integer, got {seed!r}")
        for name, value in (("filename", filename), ("log_prefix", log_prefix)):
            if not isinstance(value, str):
                raise TypeError(f"`{name}` must be a string, got {value!r}")
        if not filename or Path(filename).name != filename:
            raise ValueError(f"`filename` must be a plain file stem without folders, got {filename!r}")
        self.real = real
        self.sample_fn = sample_fn
        self.feature_extractor = as_extractor(feature_extractor)
        self.on = on
        self.monitor = monitor
        self.mode = mode
        self.seed = int(seed)
        self.prdc = bool(prdc)
        self.dirpath = Path(dirpath) if dirpath is not None else None
        self.filename = filename
        self.log_prefix = log_prefix
        self.plot_history = bool(plot)
        self.history: list[dict[str, Any]] = []
        self._metric: Any = None
        self._real_cached = False
        self._known_paths: dict[int, set[str]] = {}

    # --- identity / state ---------------------------------------------------------------------------------------
    @property
    def state_key(self) -> str:
        return self._generate_state_key(
            monitor=self.monitor, mode=self.mode, on=self.on, num_samples=self.num_samples, k=self.k
        )

    def _settings(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor,
            "mode": self.mode,
            "k": self.k,
            "num_samples": self.num_samples,
            "seed": self.seed,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(row) for row in self.history], **self._settings()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the history; warn if it was recorded with other settings (this callback's settings are kept)."""
        differ = {
            key: (state_dict[key], value)
            for key, value in self._settings().items()
            if key in state_dict and state_dict[key] != value
        }
        if differ:
            listed = ", ".join(f"{key}: saved {old!r}, now {new!r}" for key, (old, new) in differ.items())
            warnings.warn(
                f"GenerativeCheckpointEvaluator: the restored history was recorded with other settings ({listed});"
                " the current settings are kept and the best evaluation is chosen among all rows with them",
                UserWarning,
                stacklevel=2,
            )
        self.history = [dict(row) for row in state_dict.get("history", [])]

    # --- best ---------------------------------------------------------------------------------------------------
    def _best_row(self) -> dict[str, Any] | None:
        rows = [r for r in self.history if isinstance(r.get(self.monitor), float) and not math.isnan(r[self.monitor])]
        if not rows:
            return None
        pick = min if self.mode == "min" else max
        return pick(rows, key=lambda r: r[self.monitor])

    @property
    def best_value(self) -> float | None:
        """Best value of ``monitor`` so far (``None`` before the first evaluation)."""
        row = self._best_row()
        return None if row is None else row[self.monitor]

    @property
    def best_checkpoint(self) -> str | None:
        """Checkpoint file saved at the best evaluation (``None`` if none was saved at that step)."""
        row = self._best_row()
        return None if row is None else row.get("checkpoint")

    @property
    def best_epoch(self) -> int | None:
        """Epoch of the best evaluation."""
        row = self._best_row()
        return None if row is None else row["epoch"]

    # --- hooks --------------------------------------------------------------------------------------------------
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.sample_fn is None and not callable(getattr(pl_module, "sample", None)):
            raise ValueError(
                f"GenerativeCheckpointEvaluator needs `sample_fn=` or a `sample(n)` method on "
                f"{type(pl_module).__name__}, which has none"
            )

    def _due(self, trainer: pl.Trainer) -> bool:
        return not trainer.sanity_checking and (trainer.current_epoch + 1) % self.every_n_epochs == 0

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.on != "validation_end" or not self._due(trainer):
            return
        row = self._evaluate(trainer, pl_module)
        for key, value in row.items():
            if key not in ("epoch", "step", "checkpoint"):
                pl_module.log(self.log_prefix + key, float(value), on_epoch=True, sync_dist=trainer.world_size > 1)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        path = self._saving_path(trainer)
        evaluated_here = bool(self.history) and self.history[-1]["step"] == trainer.global_step
        if self.on == "checkpoint" and self._due(trainer) and not evaluated_here:
            row = self._evaluate(trainer, pl_module)
            if trainer.is_global_zero:
                values = {self.log_prefix + k: v for k, v in row.items() if k not in ("epoch", "step", "checkpoint")}
                for logger in trainer.loggers:
                    logger.log_metrics(values, step=trainer.global_step)
        if path is not None:
            for row in reversed(self.history):
                if row["step"] == trainer.global_step and row.get("checkpoint") is None:
                    row["checkpoint"] = path
                    self._write(trainer)
                    break
        # the trainer collected state_dict() before this hook: store the history with this file's own path
        checkpoint.setdefault("callbacks", {})[self.state_key] = self.state_dict()

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._snapshot_paths(trainer)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._snapshot_paths(trainer)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._snapshot_paths(trainer)

    # --- work ---------------------------------------------------------------------------------------------------
    def _evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
        from rdmetrics.generative import PrecisionRecallEntropy

        if self._metric is None:
            self._metric = PrecisionRecallEntropy(k=self.k, prdc=self.prdc, reset_real_features=False)
        sample_fn = self.sample_fn
        if sample_fn is None:
            draw = pl_module.sample
        else:

            def draw(n: int) -> Any:
                return sample_fn(pl_module, n)

        # evaluate_generator runs in the shared evaluation loop (eval mode, no_grad, inference mode off)
        values = evaluate_generator(
            draw,
            None if self._real_cached else self.real,
            self.feature_extractor,
            self.num_samples,
            k=self.k,
            batch_size=self.batch_size,
            seed=self.seed,
            device=pl_module.device,
            metric=self._metric,
            module=pl_module,
            autocast=trainer.precision_plugin.forward_context,
            rank=trainer.global_rank,
            world_size=trainer.world_size,
        )
        self._real_cached = True
        scalars = {key: v for key, v in values.items() if isinstance(v, float)}
        if self.monitor not in scalars:  # checked in __init__; a custom metric could still differ
            raise ValueError(f"`monitor={self.monitor!r}` is not an output; available: {sorted(scalars)}")
        row = {"epoch": int(trainer.current_epoch), "step": int(trainer.global_step), "checkpoint": None, **scalars}
        self.history.append(row)
        self._write(trainer)
        return row

    # --- checkpoint files (public ModelCheckpoint API only) ------------------------------------------------------
    @staticmethod
    def _public_paths(cb: ModelCheckpoint) -> set[str]:
        paths = {str(p) for p in cb.best_k_models} | {str(cb.best_model_path), str(cb.last_model_path)}
        return {p for p in paths if p}

    def _snapshot_paths(self, trainer: pl.Trainer) -> None:
        self._known_paths = {
            id(cb): self._public_paths(cb) for cb in trainer.checkpoint_callbacks if isinstance(cb, ModelCheckpoint)
        }

    def _saving_path(self, trainer: pl.Trainer) -> str | None:
        """The file being written now: ``ModelCheckpoint`` records a file in its public ``best_k_models`` /
        ``best_model_path`` / ``last_model_path`` just before it saves it, so the path that appeared since the last
        save is this one (a top-k file preferred); a ``last`` file re-written under its old name is recognised by
        ``save_last``. ``None`` for saves no ``ModelCheckpoint`` made."""
        found: str | None = None
        fallback: str | None = None
        for cb in trainer.checkpoint_callbacks:
            if not isinstance(cb, ModelCheckpoint):
                continue
            now = self._public_paths(cb)
            new = now - self._known_paths.get(id(cb), set())
            self._known_paths[id(cb)] = now
            if new and found is None:
                top = sorted(p for p in new if p in {str(q) for q in cb.best_k_models} or p == str(cb.best_model_path))
                found = (top or sorted(new))[0]
            if cb.save_last and cb.last_model_path and fallback is None:
                fallback = str(cb.last_model_path)
        return found if found is not None else fallback

    def _out_dir(self, trainer: pl.Trainer) -> Path:
        if self.dirpath is not None:
            return self.dirpath
        for cb in trainer.checkpoint_callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.dirpath:
                return Path(cb.dirpath)
        return Path(trainer.log_dir or trainer.default_root_dir)

    def _write(self, trainer: pl.Trainer) -> None:
        if not trainer.is_global_zero or not self.history:
            return
        out = self._out_dir(trainer)
        out.mkdir(parents=True, exist_ok=True)
        keys = ["epoch", "step", "checkpoint"]
        keys += [key for key in self.history[0] if key not in keys]
        with open(out / f"{self.filename}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.history)
        payload = {
            "monitor": self.monitor,
            "mode": self.mode,
            "best_value": self.best_value,
            "best_checkpoint": self.best_checkpoint,
            "history": self.history,
        }
        (out / f"{self.filename}.json").write_text(json.dumps(payload, indent=1))
        if self.plot_history and _MATPLOTLIB_AVAILABLE:
            import matplotlib.pyplot as plt

            fig, _ = self.plot()
            fig.savefig(out / f"{self.filename}.png", dpi=80)
            plt.close(fig)

    def plot(self, keys: tuple[str, ...] = ("pce", "rce", "re"), ax: Any = None) -> tuple[Any, Any]:
        """Plot the history of ``keys`` against the training step; returns ``(fig, ax)``."""
        from rdmetrics.utilities.plot import _get_fig_ax

        fig, ax = _get_fig_ax(ax)
        steps = [row["step"] for row in self.history]
        for key in keys:
            if self.history and key in self.history[0]:
                ax.plot(steps, [row[key] for row in self.history], marker="o", label=key)
        ax.set_xlabel("step")
        ax.set_ylabel("nats")
        ax.set_title(f"generator evaluation (best {self.monitor}: {self.best_value})")
        ax.legend()
        return fig, ax


def _check_real(real: Any) -> None:
    """The real set must be a tensor, an array, an existing .npy/.pt/.pth file or an iterable of batches."""
    if real is None:
        raise ValueError("`real` (the real set) is required")
    if isinstance(real, (str, Path)):
        path = Path(real)
        if path.suffix not in (".npy", ".pt", ".pth"):
            raise ValueError(f"unsupported real set file {path.name!r}: use a .npy, .pt or .pth file holding one array")
        if not path.is_file():
            raise FileNotFoundError(f"real set file not found: {path}")
        return
    if isinstance(real, (torch.Tensor, np.ndarray)):
        if real.ndim < 2 or real.shape[0] == 0:
            raise ValueError(f"`real` must hold samples along dim 0 ([N, d] features or images), got {real.shape}")
        return
    if not isinstance(real, Iterable):
        raise TypeError(f"`real` must be a tensor, an array, a file path or an iterable of batches, got {type(real)}")


__all__ = ["GenerativeCheckpointEvaluator"]
