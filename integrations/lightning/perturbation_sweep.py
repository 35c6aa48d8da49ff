"""Lightning callback that runs a perturbation sweep after validation and logs rate–distortion signatures."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.rank_zero import rank_zero_warn
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from rdmetrics.sweep import PerturbationSpec, _metric_factory, _resolve_perturbations, run_sweep, shard_dataloader
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.imports import _MATPLOTLIB_AVAILABLE
from rdmetrics.utilities.loop import _UNSET, _renamed

_SCALAR_KEYS = ("beta", "kappa", "auc")


def _format_level(level: Any) -> str:
    if isinstance(level, bool):
        return str(level).lower()
    if isinstance(level, (int, float)):
        return f"{level:g}"
    return str(level)


def _to_float(value: Any) -> float:
    if isinstance(value, Tensor):
        return float(value.detach().double().reshape(-1)[0]) if value.numel() else math.nan
    return float(value)


def _to_list(value: Any) -> list[float]:
    if isinstance(value, Tensor):
        return [float(v) for v in value.detach().double().reshape(-1)]
    return [float(v) for v in value]


class PerturbationSweep(Callback):
    """Run :func:`rdmetrics.sweep.run_sweep` at the end of validation and log rate–distortion signatures.

    After every ``every_n_epochs``-th validation epoch (never during the sanity check) the callback evaluates the
    LightningModule on every level of every perturbation family, computes one
    :class:`rdmetrics.RateDistortionSignature` per family and logs, through ``pl_module.log`` in
    ``on_validation_epoch_end`` (so the values reach every logger at the current step and ``trainer.callback_metrics``,
    where ``ModelCheckpoint`` / ``EarlyStopping`` can monitor them):

    * ``{log_prefix}{family}/beta``, ``/kappa``, ``/auc`` — frontier slope, curvature and area;
    * ``{log_prefix}{family}/acc@{level}`` — accuracy at each level (``level`` formatted with ``:g``; class-balanced
      under the metric's default uniform prior);
    * with ``n_bootstrap > 0`` also ``/beta_ci_low``, ``/beta_ci_high`` (and the same for ``kappa``, ``auc``).

    A frontier that cannot be fitted (e.g. an untrained model with the same error at every level) logs NaN for β, κ
    and AUC instead of stopping training (the metrics are built with ``strict=False`` unless ``metric_kwargs`` says
    otherwise). With ``val_check_interval < 1`` the sweep
    runs after every validation of a selected epoch.

    Behaviour:

    * The forward pass calls ``pl_module`` directly (not the DDP wrapper) under ``torch.no_grad()`` and
      ``trainer.precision_plugin.forward_context()`` (autocast for mixed precision), model in eval mode.
    * Data: ``dataloader`` or, if ``None``, the trainer's (first) validation dataloader. Under a distributed strategy
      the loader is rebuilt with :func:`rdmetrics.sweep.shard_dataloader` so that each rank sweeps a disjoint shard
      and no sample is counted twice; the metrics sync when computed (every rank computes). Noise is keyed per
      sample by its dataset index, so the logged values are identical for any number of devices and any batch size.
    * ``history``: one dict per sweep with ``epoch``, ``global_step``, the logged values and the per-level
      ``rate`` / ``distortion`` / ``accuracy`` / ``num_samples`` curves (all ranks together). It is saved in
      checkpoints (``state_dict``, with the levels it was recorded at) under a ``state_key`` that includes the
      families and the log prefix, so a resumed run continues it; ``load_state_dict`` warns when the saved levels
      differ from this callback's.
    * A frontier plot per family (all sweeps so far, latest highlighted) is written on rank 0 to
      ``<trainer.log_dir>/rd_sweep/<family>.png`` when matplotlib is installed and ``plot`` is true.
    * Every argument is checked when the callback is built: family names (a typo fails with close matches), each
      level (a dry run on a small image), and the metric options (one metric per family is built and dropped).

    Args:
        perturbations: family names or ``{name: levels or None}`` (see :func:`rdmetrics.sweep.run_sweep`).
        num_classes: number of classes in the evaluated label space.
        dataloader: sweep data; default the trainer's validation dataloader.
        every_n_epochs: sweep after every n-th epoch's validation.
        max_batches: limit on batches per sweep (per rank).
        label_map: maps model outputs into the evaluated label space (e.g. ImageNet-1k → 16 classes).
        log_prefix: prefix of every logged name.
        n_bootstrap: bootstrap resamples for β/κ confidence intervals (passed to the metric).
        metric_kwargs: other keyword arguments for ``RateDistortionSignature``.
        batch_transform / input_transform / seed: as in :func:`rdmetrics.sweep.run_sweep`.
        plot: write the frontier PNGs. Deprecated name: ``save_plots``.
        progress: show the sweep's progress bar.
        axis: ``"distortion"`` or ``"severity"``, the x axis of the frontier (passed to the metric).
        at_accuracy: read β and κ where the fitted frontier reaches this accuracy (passed to the metric).

    Example:
        >>> from rdmetrics.integrations.lightning import PerturbationSweep
        >>> cb = PerturbationSweep(["contrast", "low-pass"], num_classes=16, max_batches=10)
        >>> cb.state_key
        "PerturbationSweep{'perturbations': ['contrast', 'low-pass'], 'log_prefix': 'rd/'}"
    """

    def __init__(
        self,
        perturbations: PerturbationSpec,
        num_classes: int,
        dataloader: Any = None,
        every_n_epochs: int = 1,
        max_batches: int | None = None,
        label_map: Callable[[Tensor], Tensor] | None = None,
        log_prefix: str = "rd/",
        n_bootstrap: int = 0,
        metric_kwargs: Mapping[str, Any] | None = None,
        batch_transform: Callable[[Any], tuple[Tensor, Tensor]] | None = None,
        input_transform: Callable[[Tensor], Tensor] | None = None,
        seed: int = 0,
        plot: bool = True,
        progress: bool = False,
        axis: str | None = None,
        at_accuracy: float | None = None,
        *,
        save_plots: Any = _UNSET,
    ) -> None:
        super().__init__()
        plot = _renamed(plot, save_plots, "plot", "save_plots", default=True)
        if isinstance(perturbations, str):
            perturbations = [perturbations]
        if isinstance(perturbations, Mapping):
            self.perturbations: PerturbationSpec = {
                k: (None if v is None else list(v)) for k, v in perturbations.items()
            }
        elif isinstance(perturbations, Sequence):
            self.perturbations = list(perturbations)
        else:
            raise TypeError(f"`perturbations` must be a list of names or a dict name -> levels, got {perturbations!r}")
        resolved = _resolve_perturbations(self.perturbations)  # unknown names, duplicates, bad levels: fail now
        self.levels = {name: levels for name, _, levels in resolved}
        self.num_classes = _check_positive_int(num_classes, "num_classes", minimum=2)
        self.dataloader = dataloader
        self.every_n_epochs = _check_positive_int(every_n_epochs, "every_n_epochs")
        self.max_batches = None if max_batches is None else _check_positive_int(max_batches, "max_batches")
        for name, fn in (
            ("label_map", label_map),
            ("batch_transform", batch_transform),
            ("input_transform", input_transform),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"`{name}` must be callable or None, got {fn!r}")
        self.label_map = label_map
        if not isinstance(log_prefix, str):
            raise TypeError(f"`log_prefix` must be a string, got {log_prefix!r}")
        self.log_prefix = log_prefix
        self.n_bootstrap = _check_positive_int(n_bootstrap, "n_bootstrap", minimum=0)
        if metric_kwargs is not None and not isinstance(metric_kwargs, Mapping):
            raise TypeError(f"`metric_kwargs` must be a dict of RateDistortionSignature options, got {metric_kwargs!r}")
        self.metric_kwargs = {"strict": False, **(metric_kwargs or {})}
        if n_bootstrap:
            self.metric_kwargs["n_bootstrap"] = n_bootstrap
        self.axis = axis
        self.at_accuracy = at_accuracy
        # build (and drop) each family's metric now, so a bad metric option fails here, not after an epoch
        factory = _metric_factory(None, self.num_classes, self.metric_kwargs, axis, at_accuracy)
        for name, levels in self.levels.items():
            factory(name, levels)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
            raise ValueError(f"`seed` must be an integer in [0, 2**64), got {seed!r}")
        self.batch_transform = batch_transform
        self.input_transform = input_transform
        self.seed = int(seed)
        self.plot = bool(plot)
        self.progress = bool(progress)
        self.history: list[dict[str, Any]] = []
        self.last_results: dict[str, Any] | None = None

    # ------------------------------------------------------------------------------------------------- state
    @property
    def families(self) -> list[str]:
        return list(self.levels)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(perturbations=self.families, log_prefix=self.log_prefix)

    def _saved_levels(self) -> dict[str, list[Any]]:
        return {
            name: [lv if isinstance(lv, (int, float, str, bool)) else str(lv) for lv in levels]
            for name, levels in self.levels.items()
        }

    def state_dict(self) -> dict[str, Any]:
        return {"history": [dict(h) for h in self.history], "levels": self._saved_levels()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the history; warn if it was recorded at other levels (this callback's levels are kept)."""
        saved = state_dict.get("levels")
        if saved is not None and saved != self._saved_levels():
            warnings.warn(
                f"PerturbationSweep: the restored history was recorded at levels {saved}, this callback sweeps"
                f" {self._saved_levels()}; earlier entries' curves keep their own levels",
                UserWarning,
                stacklevel=2,
            )
        self.history = [dict(h) for h in state_dict.get("history", [])]

    # ------------------------------------------------------------------------------------------------- hooks
    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking:
            return
        if (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        entry, metrics = self.sweep(trainer, pl_module)
        # values come from synced metrics, hence are equal on every rank; sync_dist=True (a mean of equal values) only
        # silences Lightning's per-key "use sync_dist" warning under DDP
        distributed = trainer.world_size > 1
        for name, value in entry["metrics"].items():
            pl_module.log(name, value, on_step=False, on_epoch=True, sync_dist=distributed)
        self.history.append(entry)
        if self.plot and _MATPLOTLIB_AVAILABLE:
            log_dir = trainer.log_dir  # a collective: call on every rank
            if trainer.is_global_zero and log_dir:
                self._save_plots(os.path.join(log_dir, "rd_sweep"), metrics, self.last_results or {})

    def sweep(self, trainer: Trainer, pl_module: LightningModule) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run one sweep now; returns ``(history entry, {family: metric})`` without logging (all ranks must call)."""
        loader = self._sweep_dataloader(trainer)
        result = run_sweep(
            pl_module,
            loader,
            self.perturbations,
            device=pl_module.device,
            autocast=trainer.precision_plugin.forward_context,
            num_classes=self.num_classes,
            label_map=self.label_map,
            max_batches=self.max_batches,
            seed=self.seed,
            progress=self.progress,
            batch_transform=self.batch_transform,
            input_transform=self.input_transform,
            rank=trainer.global_rank,
            metric_kwargs=self.metric_kwargs,
            axis=self.axis,
            at_accuracy=self.at_accuracy,
        )
        computed = result.compute()  # syncs across ranks; undefined frontiers give NaN signatures (strict=False)
        self.last_results = computed
        logged: dict[str, float] = {}
        curves: dict[str, dict[str, Any]] = {}
        for family, out in computed.items():
            prefix = f"{self.log_prefix}{family}/"
            for key in _SCALAR_KEYS:
                if key in out:
                    logged[prefix + key] = _to_float(out[key])
                if f"{key}_ci" in out:  # with n_bootstrap > 0
                    low, high = _to_list(out[f"{key}_ci"])
                    logged[f"{prefix}{key}_ci_low"], logged[f"{prefix}{key}_ci_high"] = low, high
            levels = result.levels[family]
            acc = _to_list(out["accuracy"])
            for level, a in zip(levels, acc):
                logged[f"{prefix}acc@{_format_level(level)}"] = a
            curves[family] = {
                "levels": [lv if isinstance(lv, (int, float, str, bool)) else str(lv) for lv in levels],
                "accuracy": acc,
                "rate": _to_list(out["rate"]),
                "distortion": _to_list(out["distortion"]),
                "num_samples": [int(n) for n in _to_list(out["confmat"].sum(dim=(-2, -1)))] if "confmat" in out else [],
            }
        entry = {
            "epoch": int(trainer.current_epoch),
            "global_step": int(trainer.global_step),
            "metrics": logged,
            "curves": curves,
        }
        return entry, dict(result)

    def _sweep_dataloader(self, trainer: Trainer) -> Any:
        loader = self.dataloader
        user_given = loader is not None
        if loader is None:
            loader = trainer.val_dataloaders
            if isinstance(loader, (list, tuple)):
                loader = loader[0] if loader else None
            if loader is None:
                raise RuntimeError("PerturbationSweep: no `dataloader` given and the trainer has no val dataloader")
        if trainer.world_size <= 1:
            return loader
        if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
            if user_given:
                rank_zero_warn(
                    "PerturbationSweep: the sweep dataloader is not a map-style DataLoader, so it cannot be sharded;"
                    " every rank sweeps it as given (shard it yourself to avoid counting samples twice)."
                )
            return loader
        if len(loader.dataset) < trainer.world_size:  # type: ignore[arg-type]
            raise ValueError(
                f"PerturbationSweep: {len(loader.dataset)} samples cannot be split over {trainer.world_size} ranks"  # type: ignore[arg-type]
            )
        return shard_dataloader(loader, trainer.world_size, trainer.global_rank)

    # ------------------------------------------------------------------------------------------------- plots
    def _save_plots(self, directory: str, metrics: dict[str, Any], computed: dict[str, Any]) -> None:
        """Rank 0 only: must not trigger a metric sync (``plot`` gets the computed values, never computes)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        os.makedirs(directory, exist_ok=True)
        for family, metric in metrics.items():
            fig, ax = plt.subplots(figsize=(5, 4))
            try:
                n = len(self.history)
                for i, entry in enumerate(self.history[:-1]):
                    c = entry["curves"].get(family)
                    if c:
                        ax.plot(
                            c["distortion"],
                            c["rate"],
                            "o-",
                            color="0.6",
                            alpha=0.3 + 0.5 * i / max(n - 1, 1),
                            lw=1,
                            ms=3,
                            label="earlier epochs" if i == 0 else None,
                        )
                try:
                    metric.plot(val=computed[family], ax=ax)
                except Exception:  # the metric's own plot is optional; fall back to the raw points
                    c = self.history[-1]["curves"][family]
                    ax.plot(c["distortion"], c["rate"], "o-", color="C0")
                val = computed.get(family, {})
                sig = ", ".join(f"{k}={_to_float(val[k]):.3g}" for k in ("beta", "kappa", "auc") if k in val)
                ax.set_title(f"{family}, epoch {self.history[-1]['epoch']}: {sig}", fontsize="medium")
                ax.set_xlabel("distortion D (1 - accuracy)")
                ax.set_ylabel("rate I(X;Y) [bits]")
                if n > 1:
                    ax.legend(loc="best", fontsize="small")
                fig.tight_layout()
                fig.savefig(os.path.join(directory, f"{family}.png"), dpi=80)
            finally:
                plt.close(fig)


__all__ = ["PerturbationSweep"]
