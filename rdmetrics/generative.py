"""``PrecisionRecallEntropy``: PCE / RCE / RE (+ precision, recall, density, coverage) as a torchmetrics Metric."""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics import Metric

from rdmetrics.functional.generative import (
    _check_pre_inputs,
    _precision_recall_entropy_compute,
    _precision_recall_entropy_distributed,
)
from rdmetrics.utilities.checks import _check_finite, _check_positive_int, _check_tensor
from rdmetrics.utilities.data import _cat_rows, _flatten_rows
from rdmetrics.utilities.forward import BatchValueForwardMixin
from rdmetrics.utilities.loop import _UNSET, _renamed

_FEATURE_STATES = ("real_features", "fake_features")


class PrecisionRecallEntropy(BatchValueForwardMixin, Metric):
    r"""Information-theoretic precision / recall of a generative model from real and generated features.

    Accumulates real and generated features (or images passed through ``feature``) and computes, in nats, the
    Leonenko-Pronzato-Savani kNN estimates of Fox, Swarup & Adiga (AAAI 2025):

    * ``pce`` :math:`= \hat H(G,R) - \hat H(R)` (fidelity, lower is better),
    * ``rce`` :math:`= \hat H(R,G) - \hat H(R)` (= kNN :math:`KL(P_R\|P_G)`, coverage / inter-class diversity,
      lower is better),
    * ``re`` :math:`= \hat H(G) - \hat H(R)` (intra-class diversity, higher is better),

    the raw terms ``h_real, h_fake, ce_fake_real, ce_real_fake`` and, with ``prdc=True``, the ``precision, recall,
    density, coverage`` of Kynkäänniemi et al. / Naeem et al. (identical to ``prdc`` 0.2) from the same exact kNN
    passes. Formulas: :mod:`rdmetrics.functional.generative`; engine: :mod:`rdmetrics.functional.knn`.

    ``update(x, real)``: ``real`` is a Python ``bool`` (the whole batch is real / generated) or a boolean tensor
    ``[N]`` of per-sample flags (mixed batches). Features are stored in the metric's dtype, float64 by default
    (call ``set_dtype(torch.float32)`` to halve memory; distances are still recomputed exactly in float64).
    States are flattened ``"cat"`` lists, so DDP with uneven or empty ranks works; every feature is kept in memory
    (like torchmetrics' KID), so expect ``(N + M) x d x 8`` bytes. Per-sample outputs follow the state order: update
    order on one process, rank order after DDP sync, incoming rows first after ``merge_state``.

    **DDP.** ``compute()`` splits the kNN work across the ranks (each takes about ``1/W`` of the distance
    evaluations; lists are merged exactly, so the result equals one process on the same data, in rank order) and
    every rank returns the same value. It is collective: call it on every rank. Two modes:

    * ``gather_features=True`` (default): torchmetrics gathers every feature to every rank before ``compute``
      (memory ``(N + M) d`` per rank); fastest.
    * ``gather_features=False``: features stay on the rank that saw them; during ``compute`` each rank's block is
      broadcast to the others in turn (``torch.distributed.broadcast``), so a rank holds its own ``(N + M) d / W``
      rows plus one other rank's block. Use it when the gathered features do not fit in one device's memory.

    ``forward`` (``metric(x, real)``) adds the batch to the global state and returns the value of the batch alone
    when the batch has more than ``k`` real and more than ``k`` generated samples, otherwise ``None``. Empty batches
    are no-ops.

    Args:
        k: neighbour order (default 5); ``compute`` needs more than ``k`` samples of each kind.
        feature_extractor: optional ``nn.Module`` mapping a batch of inputs to ``[B, d]`` features (e.g.
            ``rdmetrics.extractors.TimmFeatureExtractor``), the name the callbacks and ``evaluate_generator`` use too.
            It is frozen (``eval()``, no grad), is **not** part of the metric's ``state_dict`` and is stored as the
            attribute ``feature`` (``feature_network = "feature"``) so torchmetrics' ``FeatureShare`` can share one
            backbone with FID. ``None``: ``update`` receives features directly.
        reset_real_features: if ``False``, ``reset()`` keeps the real features (encode a fixed real set once).
        prdc: also compute precision, recall, density and coverage.
        return_per_sample: also return per-sample terms (see
            :func:`rdmetrics.functional.precision_recall_entropy`).
        feature: deprecated name of ``feature_extractor`` (torchmetrics' FID spells it ``feature``); warns.
        block_size: rows per GEMM block of the kNN engine (``None``: automatic, about 16 MiB per block on CPU).
        gather_features: under DDP, gather all features to every rank before ``compute`` (``True``) or keep them
            sharded and stream blocks between ranks (``False``); same result, see above.
        kwargs: torchmetrics ``Metric`` keyword arguments.

    Example:
        >>> import math, torch
        >>> g = torch.Generator().manual_seed(0)
        >>> metric = PrecisionRecallEntropy(k=5)
        >>> metric.update(torch.randn(1000, 2, generator=g), real=True)
        >>> metric.update(0.5 * torch.randn(1000, 2, generator=g), real=False)
        >>> out = metric.compute()
        >>> abs(float(out["re"]) - 2 * math.log(0.5)) < 0.2  # closed form: RE = d log(sigma)
        True
        >>> bool(out["precision"] > out["recall"])  # shrunk fakes: faithful but not diverse
        True
    """

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    feature_network: str = "feature"

    real_features: list[Tensor]
    fake_features: list[Tensor]
    num_features: Tensor

    def __init__(
        self,
        k: int = 5,
        feature_extractor: nn.Module | None = None,
        reset_real_features: bool = True,
        prdc: bool = True,
        return_per_sample: bool = False,
        block_size: int | None = None,
        gather_features: bool = True,
        feature: Any = _UNSET,
        **kwargs: Any,
    ) -> None:
        feature = _renamed(feature_extractor, feature, "feature_extractor", "feature")
        super().__init__(**kwargs)
        self.k = _check_positive_int(k, "k")
        if not isinstance(gather_features, bool):
            raise ValueError(f"`gather_features` must be a bool, got {gather_features!r}")
        self.gather_features = gather_features
        self._forward_active = False
        if feature is not None and not isinstance(feature, nn.Module):
            raise TypeError(f"`feature_extractor` must be an nn.Module or None, got {type(feature).__name__}")
        if not isinstance(reset_real_features, bool):
            raise ValueError(f"`reset_real_features` must be a bool, got {reset_real_features!r}")
        if block_size is not None:
            _check_positive_int(block_size, "block_size")
        self.feature = feature
        self.reset_real_features = reset_real_features
        self.prdc = bool(prdc)
        self.return_per_sample = bool(return_per_sample)
        self.block_size = block_size
        # flattened rows + their width (see rdmetrics.utilities.data: survives DDP with empty ranks)
        self.add_state("real_features", [], dist_reduce_fx="cat")
        self.add_state("fake_features", [], dist_reduce_fx="cat")
        self.add_state("num_features", torch.zeros((), dtype=torch.long), dist_reduce_fx="max")
        self.set_dtype(torch.float64)

    # the feature network lives outside ``_modules``: never in state_dict, never converted by ``set_dtype``
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "feature":
            if value is not None:
                value.eval()
                value.requires_grad_(False)
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def _apply(self, fn: Any, exclude_state: Sequence[str] = "") -> nn.Module:
        this = super()._apply(fn, exclude_state)
        feature = self.__dict__.get("feature")
        if feature is not None:
            feature.to(this.device)  # follow device moves only
        return this

    def update(self, x: Tensor, real: bool | Tensor) -> None:
        """Add a batch of inputs (features, or images when ``feature`` is set) as real or generated samples.

        Args:
            x: ``[B, d]`` features, or the input of ``feature``.
            real: ``True`` / ``False`` for the whole batch, or a boolean tensor ``[B]`` of per-sample flags.
        """
        _check_tensor(x, "x")  # a tensor with data (a meta tensor is refused before the feature network runs)
        if x.ndim >= 1 and x.shape[0] == 0:
            return  # an empty batch is a no-op
        if self.feature is not None:
            with torch.no_grad():
                x = self.feature(x)
            if not isinstance(x, Tensor):
                raise TypeError(f"`feature` must return a tensor, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"features must be a 2-D [batch, dim] tensor, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"features must be floating point, got dtype {x.dtype}")
        _check_finite(x, "features")
        width = x.shape[1]
        stored = int(self.num_features)
        if stored and stored != width:
            raise ValueError(f"dimension mismatch: this batch has {width} features, earlier batches had {stored}")
        if isinstance(real, Tensor):
            if real.dtype != torch.bool or real.shape != (x.shape[0],):
                raise ValueError(
                    f"tensor `real` must be a bool tensor of shape ({x.shape[0]},), got {real.dtype} "
                    f"{tuple(real.shape)}"
                )
            real = real.to(x.device)
            parts = ((x[real], self.real_features), (x[~real], self.fake_features))
        elif isinstance(real, bool):
            parts = ((x, self.real_features if real else self.fake_features),)
        else:
            raise TypeError(f"`real` must be a bool or a bool tensor, got {type(real).__name__}")
        for rows, state in parts:
            if rows.shape[0]:
                state.append(_flatten_rows(rows.detach(), self.dtype))
        self.num_features = torch.tensor(width, dtype=self.num_features.dtype, device=self.num_features.device)

    def compute(self) -> dict[str, Tensor]:
        """PCE / RCE / RE and the raw entropy terms (+ PRDC, + per-sample terms): see the class docstring."""
        width = int(self.num_features)
        real = _cat_rows(self.real_features, width, self.dtype)
        fake = _cat_rows(self.fake_features, width, self.dtype)
        real = real if real.numel() else real.to(self.device)  # an empty rank's placeholder lives on the CPU
        fake = fake if fake.numel() else fake.to(self.device)
        if width == 0:  # nothing stored on any rank
            raise ValueError("no real samples: the real state is empty, call update(x, real=True) first")
        if self._is_synced and _world_size(self.process_group) > 1:
            # collective: every rank takes its share of the kNN work (see the class docstring)
            return _precision_recall_entropy_distributed(
                real,
                fake,
                self.k,
                self.prdc,
                self.return_per_sample,
                self.block_size,
                self.gather_features,
                self.process_group,
            )
        for rows, name, flag in ((real, "real", "True"), (fake, "fake", "False")):
            if rows.shape[0] == 0:
                raise ValueError(f"no {name} samples: the {name} state is empty, call update(x, real={flag}) first")
        k = _check_pre_inputs(real, fake, self.k)
        return _precision_recall_entropy_compute(real, fake, k, self.prdc, self.return_per_sample, self.block_size)

    def _sync_dist(self, dist_sync_fn: Any = None, process_group: Any = None) -> None:
        """Sync the states; with ``gather_features=False`` the feature lists stay local (compute streams them)."""
        if self.gather_features:
            super()._sync_dist(dist_sync_fn, process_group)
            return
        reductions = self._reductions
        self._reductions = {key: fn for key, fn in reductions.items() if key not in _FEATURE_STATES}
        try:
            super()._sync_dist(dist_sync_fn, process_group)
        finally:
            self._reductions = reductions

    def _batch_value_defined(self, x: Any = None, real: Any = None, *args: Any, **kwargs: Any) -> bool:
        """``forward`` returns a value only for a batch with more than ``k`` real and ``k`` generated samples."""
        if not isinstance(x, Tensor) or x.ndim == 0 or x.is_meta:
            return True  # let update() raise
        rows = int(x.shape[0])
        if isinstance(real, Tensor) and real.dtype == torch.bool and real.shape == (rows,):
            n_real = int(real.sum())
            return n_real > self.k and rows - n_real > self.k
        return not isinstance(real, bool)  # a one-kind batch has no value; anything else: update() raises

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Add the batch to the state; return the batch's own value (see the class docstring) or ``None``."""
        self._forward_active = True  # reset() inside forward must clear the real features too (batch-only value)
        try:
            return super().forward(*args, **kwargs)
        finally:
            self._forward_active = False

    def reset(self) -> None:
        """Reset the states; with ``reset_real_features=False`` the real features are kept."""
        if not self.reset_real_features and not self._forward_active:
            real_features = deepcopy(self.real_features)
            num_features = deepcopy(self.num_features)
            super().reset()
            self.real_features = real_features
            self.num_features = num_features
        else:
            super().reset()

    def plot(self, val: dict[str, Tensor] | Sequence[dict[str, Tensor]] | None = None, ax: Any = None) -> Any:
        """Plot the scalar outputs (per-sample arrays are left out); returns ``(fig, ax)``.

        Example:
            >>> import torch
            >>> metric = PrecisionRecallEntropy(k=3, prdc=False)
            >>> metric.update(torch.randn(50, 2), real=True)
            >>> metric.update(torch.randn(50, 2), real=False)
            >>> fig, ax = metric.plot()
        """
        val = val if val is not None else self.compute()

        def scalars(v: dict[str, Tensor]) -> dict[str, Tensor]:
            return {key: t for key, t in v.items() if not key.endswith("_per_sample")}

        val = scalars(val) if isinstance(val, dict) else [scalars(v) for v in val]
        return self._plot(val, ax)


def _world_size(group: Any) -> int:
    import torch.distributed as dist

    return dist.get_world_size(group) if dist.is_available() and dist.is_initialized() else 1


__all__ = ["PrecisionRecallEntropy"]
