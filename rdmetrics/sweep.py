"""Perturbation sweep engine: evaluate a classifier on every level of several perturbation families in one pass.

Plain PyTorch (no Lightning import), so it serves a hand-written loop, Lightning Fabric and the Lightning callback
:class:`rdmetrics.integrations.lightning.PerturbationSweep` alike.

Design (documented choices):

* **One pass over the data, all levels per batch.** Each batch is loaded once and, for every family and every level,
  perturbed, forwarded and fed to that family's metric with ``condition = level index``. One pass per (family,
  level) would do the same model work but re-read and re-collate the data ``Σ L_f`` times.
* **Noise keyed per sample, independent of sharding.** Stochastic families draw each image's noise from a key
  derived from ``(seed, family, level, global sample index)`` (:func:`sweep_seeds`, a counter-based generator), so
  the noise an image receives does not depend on the batch it is in, the batch size, the number of processes, the
  order in which families or levels are processed, or the global RNG: the confusion matrices are bit-identical for
  any world size and batch size. The global index is the dataset index of a map-style ``DataLoader`` (read through
  the loader itself, so any sampler works, shuffled or sharded), or the third item ``batch_transform`` returns;
  otherwise the position in this process's stream (then mixed with the rank, so ranks draw different noise).
* The default metric per family is :class:`rdmetrics.RateDistortionSignature` with ``conditions=levels``.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler
from torchmetrics import Metric

from rdmetrics.perturbations._random import _MASK32, philox4x32
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.loop import evaluation_loop

PerturbationSpec = Sequence[Any] | Mapping[Any, Sequence[Any] | None]  # names or Perturbation objects


class SweepResult(dict):
    """``{family: metric}`` returned by :func:`run_sweep`, plus helpers.

    Attributes:
        levels: ``{family: [level, ...]}`` in the order used as the metric's conditions.
        num_samples: number of (unperturbed) samples this process evaluated.
    """

    def __init__(self, metrics: dict[str, Metric], levels: dict[str, list[Any]], num_samples: int = 0) -> None:
        super().__init__(metrics)
        self.levels = levels
        self.num_samples = num_samples

    def compute(self) -> dict[str, Any]:
        """``{family: metric.compute()}`` (see :func:`compute_sweep`). Under DDP every rank must call it."""
        return compute_sweep(self)

    def reset(self) -> None:
        for metric in self.values():
            metric.reset()


def compute_sweep(metrics: Mapping[str, Metric]) -> dict[str, Any]:
    """Compute every family's metric: ``{family: metric.compute()}`` (every DDP rank must call this).

    Whether an undefined frontier raises or gives NaN signatures is the metric's own ``strict`` option
    (``run_sweep(..., metric_kwargs={"strict": False})``; the Lightning callback does this).

    Example:
        >>> import torch
        >>> from rdmetrics import RateDistortionSignature
        >>> from rdmetrics.sweep import compute_sweep
        >>> m = RateDistortionSignature(num_classes=2, conditions=[0.0, 0.5, 1.0], strict=False)
        >>> for level in range(3):  # the same perfect predictions at every level: no frontier to fit
        ...     m.update(torch.tensor([0, 1]), torch.tensor([0, 1]), level)
        >>> out = compute_sweep({"contrast": m})["contrast"]
        >>> out["accuracy"].tolist(), bool(out["beta"].isnan())
        ([1.0, 1.0, 1.0], True)
    """
    return {family: metric.compute() for family, metric in metrics.items()}


def _is_real_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _check_levels(name: str, fn: Callable[..., Tensor], levels: list[Any]) -> None:
    """Dry-run every level on a small grey batch so that a bad severity fails now, naming the family and level.

    Only severity errors are raised here; other errors (e.g. an option that needs the real image size) surface when
    the family meets real images.
    """
    dummy = torch.full((1, 3, 16, 16), 0.5)
    for level in levels:
        try:
            fn(dummy, level, generator=torch.Generator().manual_seed(0))
        except (ValueError, TypeError) as err:
            if "severity" in str(err) or "level" in str(err):
                raise type(err)(f"perturbation {name!r}: level {level!r} is not valid: {err}") from err


def _resolve_perturbations(
    perturbations: PerturbationSpec, check_levels: bool = True
) -> list[tuple[str, Callable[..., Tensor], list[Any]]]:
    """``[(name, perturbation, levels)]``; unknown names (with close matches), duplicates and bad levels raise."""
    from rdmetrics.perturbations import get_perturbation

    if isinstance(perturbations, str):
        perturbations = [perturbations]
    if isinstance(perturbations, Mapping):
        items = list(perturbations.items())
    elif isinstance(perturbations, Iterable):
        items = [(name, None) for name in perturbations]
    else:
        raise TypeError(f"`perturbations` must be a list of names or a dict name -> levels, got {perturbations!r}")
    if not items:
        raise ValueError("`perturbations` is empty: name at least one perturbation family")
    out = []
    seen = set()
    for key, levels in items:
        if isinstance(key, str):
            fn = get_perturbation(key)
        elif callable(key) and hasattr(key, "name") and hasattr(key, "levels"):
            fn = key  # a Perturbation object, e.g. get_perturbation("contrast", grayscale=False)
        else:
            raise TypeError(f"perturbations must be names or Perturbation objects, got {key!r}")
        name = fn.name
        if name in seen:
            raise ValueError(f"perturbation {name!r} given twice")
        seen.add(name)
        if levels is not None and (isinstance(levels, (str, bytes)) or not isinstance(levels, Iterable)):
            raise TypeError(f"levels of {name!r} must be a list of severities or None, got {levels!r}")
        levels = list(fn.levels if levels is None else levels)
        if not levels:
            raise ValueError(f"perturbation {name!r} has no levels to evaluate")
        if check_levels:
            _check_levels(name, fn, levels)
        out.append((name, fn, levels))
    return out


def _default_batch_transform(batch: Any) -> tuple[Tensor, Tensor]:
    if isinstance(batch, Mapping):
        for ik, tk in (("image", "label"), ("images", "labels"), ("input", "target"), ("x", "y")):
            if ik in batch and tk in batch:
                return batch[ik], batch[tk]
        raise TypeError(f"cannot find images/targets in a dict batch with keys {sorted(batch)}; pass `batch_transform`")
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(
        f"a batch must be (images, targets, ...) or a dict with image/label keys, got {type(batch).__name__};"
        " pass `batch_transform=lambda batch: (images, targets)`"
    )


def _level_key(level: Any) -> str:
    """A platform-independent text key of a level: numbers by value (``1`` and ``1.0`` agree), others by repr."""
    if _is_real_number(level):
        return repr(float(level))
    if isinstance(level, Tensor) and level.numel() == 1:
        return repr(float(level.item()))
    return f"{type(level).__name__}:{level!r}"


def _stream_tag(family: str, level: Any, stream: str = "") -> int:
    digest = hashlib.blake2b(f"{family}\x00{_level_key(level)}\x00{stream}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def sweep_seeds(seed: int, family: str, level: Any, indices: Tensor | Sequence[int], *, stream: str = "") -> Tensor:
    """Per-sample noise keys ``[B]`` (``int64``) for ``family`` at ``level``: a function of ``(seed, family, level,
    sample index)`` only.

    ``key[b]`` = the first two 32-bit words of Philox4x32-10 with key ``seed`` (64 bits) and counter
    ``(index[b] low word, index[b] high word, tag low word, tag high word)``, where ``tag`` is the first 8 bytes of
    BLAKE2b over ``family``, the level (by value: ``1`` and ``1.0`` agree) and ``stream``. Pass the result as
    ``perturbation(images, level, seeds=...)``. Computed on ``indices``' device.

    Args:
        seed: base seed, an integer in ``[0, 2⁶⁴)``.
        family: perturbation name.
        level: severity (numbers are keyed by value, other levels by ``repr``).
        indices: global sample indices (non-negative integers), ``[B]``.
        stream: optional extra text mixed into the key (e.g. a rank, when global indices are unknown).

    Example:
        >>> import torch
        >>> from rdmetrics.sweep import sweep_seeds
        >>> a = sweep_seeds(0, "uniform-noise", 0.2, torch.tensor([3, 4, 5]))
        >>> b = sweep_seeds(0, "uniform-noise", 0.2, torch.tensor([5]))
        >>> bool(a[2] == b[0]), bool(a[0] != sweep_seeds(1, "uniform-noise", 0.2, [3])[0])
        (True, True)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise ValueError(f"`seed` must be an integer in [0, 2**64), got {seed!r}")
    idx = torch.as_tensor(indices)
    if idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool or idx.ndim != 1:
        raise TypeError(f"`indices` must be a 1-D tensor of integer sample indices, got {idx.dtype} {tuple(idx.shape)}")
    idx = idx.to(torch.int64)
    if idx.numel() and int(idx.min()) < 0:
        raise ValueError("sample `indices` must be non-negative")
    seed = int(seed)
    tag = _stream_tag(family, level, stream)
    words = philox4x32(
        (idx & _MASK32, idx >> 32, tag & _MASK32, tag >> 32),
        (seed & _MASK32, seed >> 32),
    )
    lo, hi = words[0], words[1]
    hi_signed = hi - (hi >= 2**31).to(torch.int64) * 2**32  # two's complement high word: no int64 overflow below
    return hi_signed * 2**32 + lo


def sweep_generator(seed: int, batch_idx: int, family: str, level_idx: int, rank: int, device: torch.device) -> Any:
    """Deprecated: the sweep keys noise per sample with :func:`sweep_seeds` (world-size and batch-size free).

    Returns a ``torch.Generator`` seeded from ``(seed, family, level_idx, batch_idx, rank)``, as older versions
    of :func:`run_sweep` used.
    """
    warnings.warn(
        "`sweep_generator` is deprecated: run_sweep keys noise per sample with `sweep_seeds(seed, family, level,"
        " indices)`; perturb with `perturbation(images, level, seeds=...)`",
        DeprecationWarning,
        stacklevel=2,
    )
    import zlib

    state = np.random.SeedSequence([seed, zlib.crc32(family.encode()), level_idx, batch_idx, rank]).generate_state(2)
    gen = torch.Generator(device=device)
    gen.manual_seed(int(state[0]) << 32 | int(state[1]))
    return gen


class ShardSampler(Sampler[int]):
    """Indices ``rank, rank + W, rank + 2W, ...`` of ``range(n)``: disjoint shards, no padding, no sample twice."""

    def __init__(self, n: int, world_size: int, rank: int) -> None:
        self.n, self.world_size, self.rank = int(n), int(world_size), int(rank)

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.n, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.n, self.world_size))


def shard_dataloader(loader: DataLoader, world_size: int, rank: int) -> DataLoader:
    """The same dataset and collation, sharded without duplicates: rank ``r`` gets samples ``r, r + W, r + 2W, ...``.

    Unlike a ``DistributedSampler`` nothing is padded, so no sample is counted twice (ranks may differ by one
    sample). The sweep keys noise by dataset index, so the shards together give exactly one process's result.

    Example:
        >>> import torch
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> from rdmetrics.sweep import shard_dataloader
        >>> loader = DataLoader(TensorDataset(torch.arange(5)), batch_size=2)
        >>> [b[0].tolist() for b in shard_dataloader(loader, world_size=2, rank=1)]
        [[1, 3]]
    """
    if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
        raise TypeError("only a DataLoader over a map-style dataset can be sharded")
    world_size = _check_positive_int(world_size, "world_size")
    if not 0 <= int(rank) < world_size:
        raise ValueError(f"`rank` must lie in [0, {world_size}), got {rank!r}")
    n = len(loader.dataset)  # type: ignore[arg-type]
    batch_size = loader.batch_size
    if batch_size is None:
        batch_size = getattr(loader.batch_sampler, "batch_size", None) or 1
    return DataLoader(
        loader.dataset,
        batch_size=batch_size,
        sampler=ShardSampler(n, world_size, int(rank)),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=False,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        persistent_workers=loader.persistent_workers if loader.num_workers > 0 else False,
    )


class _IndexedDataset(Dataset):
    """``dataset[i] -> (i, dataset[i])``: lets the loader report each sample's dataset index, whatever the sampler."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.dataset[index]

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]


class _IndexedCollate:
    def __init__(self, collate_fn: Callable[[list[Any]], Any]) -> None:
        self.collate_fn = collate_fn

    def __call__(self, items: list[tuple[int, Any]]) -> tuple[Tensor, Any]:
        return torch.tensor([i for i, _ in items], dtype=torch.int64), self.collate_fn([item for _, item in items])


def _indexed_loader(dataloader: Any) -> DataLoader | None:
    """A copy of a plain map-style ``DataLoader`` whose batches are ``(dataset indices, batch)``; ``None`` otherwise.

    Only exact ``DataLoader`` instances are rebuilt (a subclass may change iteration in ways a copy would lose).
    """
    if type(dataloader) is not DataLoader or isinstance(dataloader.dataset, IterableDataset):
        return None
    if dataloader.batch_sampler is None:
        return None
    kwargs: dict[str, Any] = {}
    if dataloader.num_workers > 0:
        kwargs["prefetch_factor"] = dataloader.prefetch_factor
        kwargs["multiprocessing_context"] = dataloader.multiprocessing_context
    return DataLoader(
        _IndexedDataset(dataloader.dataset),
        batch_sampler=dataloader.batch_sampler,
        num_workers=dataloader.num_workers,
        collate_fn=_IndexedCollate(dataloader.collate_fn),
        pin_memory=dataloader.pin_memory,
        timeout=dataloader.timeout,
        worker_init_fn=dataloader.worker_init_fn,
        generator=dataloader.generator,
        **kwargs,
    )


def _batches_with_indices(
    dataloader: Iterable[Any], batch_transform: Callable[[Any], Sequence[Any]]
) -> Iterator[tuple[Any, Any, Tensor | None]]:
    """``(images, targets, global indices or None)`` per batch."""
    indexed = _indexed_loader(dataloader)
    for batch in indexed if indexed is not None else dataloader:
        indices = None
        if indexed is not None:
            indices, batch = batch
        parts = batch_transform(batch)
        if not isinstance(parts, (tuple, list)) or len(parts) not in (2, 3):
            raise TypeError(
                "`batch_transform` must return (images, targets) or (images, targets, sample_indices), got"
                f" {type(parts).__name__}"
            )
        if len(parts) == 3:
            indices = torch.as_tensor(parts[2])
        yield parts[0], parts[1], indices


def run_sweep(
    model: Callable[[Tensor], Tensor],
    dataloader: Iterable[Any],
    perturbations: PerturbationSpec,
    metric_factory: Callable[[str, list[Any]], Metric] | None = None,
    device: torch.device | str | None = None,
    autocast: Any = None,
    num_classes: int | None = None,
    label_map: Callable[[Tensor], Tensor] | None = None,
    max_batches: int | None = None,
    seed: int = 0,
    progress: bool = True,
    batch_transform: Callable[[Any], Sequence[Any]] | None = None,
    input_transform: Callable[[Tensor], Tensor] | None = None,
    rank: int | None = None,
    metric_kwargs: Mapping[str, Any] | None = None,
    axis: str | None = None,
    at_accuracy: float | None = None,
) -> SweepResult:
    """Evaluate ``model`` on every level of every perturbation family, in one pass over ``dataloader``.

    For each batch ``(x, y)`` (``x`` float images ``[B, C, H, W]`` in ``[0, 1]``; ``uint8`` is divided by 255), each
    family ``f`` and each level ``ℓ`` (index ``i``) it computes

    ``logits = label_map(model(input_transform(f(x, ℓ, seeds=sweep_seeds(seed, f, ℓ, sample_indices)))))`` and calls
    ``metrics[f].update(logits, y, i)``

    with the model in eval mode, gradients off (its previous mode is restored afterwards, also on error; see
    :func:`rdmetrics.utilities.loop.evaluation_loop`). Each image's noise is keyed by its global sample index (see
    the module docstring), so the result is the same for any batch size and any sharding over processes. By default
    each family's metric is ``RateDistortionSignature(num_classes, conditions=levels, **metric_kwargs)``, whose
    ``compute()`` gives the per-level rate / distortion / accuracy and the frontier's β, κ and AUC.

    Args:
        model: ``images -> logits`` (an ``nn.Module``; its mode is switched to eval and restored).
        dataloader: iterable of batches; see ``batch_transform``. Under DDP give each rank its own shard (e.g.
            :func:`shard_dataloader`).
        perturbations: list of registered names (default levels of each preset), or ``{name: levels or None}``.
            Levels must be listed in order of increasing severity. ``Perturbation`` objects (e.g.
            ``get_perturbation("contrast", grayscale=False)``) may replace names; results are keyed by ``.name``.
        metric_factory: ``(family, levels) -> Metric`` replacing the default metric. Its ``update`` is called as
            ``update(outputs, targets, level_index)``.
        device: where batches are moved; default: the device of the model's first parameter (CPU if none).
        autocast: ``None`` (off), ``True`` / a ``torch.dtype`` (``torch.autocast`` on ``device``), or a zero-argument
            callable returning a context manager, e.g. ``trainer.precision_plugin.forward_context``.
        num_classes: number of classes in the evaluated label space (required for the default metric).
        label_map: ``outputs -> outputs in the evaluated label space``, e.g.
            :class:`rdmetrics.label_maps.ImageNetTo16Class`. Targets must already be in that space.
        max_batches: stop after this many batches.
        seed: base seed of the per-sample noise keys (see :func:`sweep_seeds`).
        progress: show a tqdm bar (only on rank 0).
        batch_transform: ``batch -> (images, targets)`` or ``(images, targets, sample_indices)`` (global indices
            that key the noise); default takes ``batch[0], batch[1]`` or the ``image/label`` (``images/labels``,
            ``input/target``, ``x/y``) entries of a dict.
        input_transform: applied to the perturbed images before the model (e.g. mean/std normalisation), since
            perturbations act on ``[0, 1]`` images.
        rank: this process's shard id; default: the ``torch.distributed`` rank (0 if not initialised). Only used
            for the progress bar and, when sample indices are unknown, to give ranks different noise.
        metric_kwargs: extra keyword arguments for the default metric (e.g. ``n_bootstrap``, ``prior``).
        axis: ``"distortion"`` or ``"severity"``: the x axis of the default metric's frontier (passed through).
        at_accuracy: read β and κ where the fitted frontier reaches this accuracy (passed to the default metric).

    Returns:
        :class:`SweepResult`: ``{family: metric}`` (updated, not computed, so the caller can sync / merge) with
        ``.levels``, ``.num_samples`` and ``.compute() -> {family: metric.compute()}``.

    Example:
        >>> import torch
        >>> from rdmetrics.sweep import run_sweep
        >>> brightness = torch.tensor([0.2, 0.2, 0.2, 0.2, 0.65, 0.75, 0.85, 0.95])
        >>> x = brightness.view(8, 1, 1, 1).expand(8, 1, 8, 8)
        >>> y = torch.tensor([0] * 4 + [1] * 4)
        >>> def model(images):  # class 1 iff the image is brighter than 0.6
        ...     m = images.mean(dim=(1, 2, 3))
        ...     return torch.stack([0.6 - m, m - 0.6], dim=1)
        >>> res = run_sweep(model, [(x, y)], {"contrast": [1.0, 0.5, 0.1]}, num_classes=2, progress=False)
        >>> res.levels, res.num_samples
        ({'contrast': [1.0, 0.5, 0.1]}, 8)
        >>> out = res.compute()["contrast"]  # lower contrast pulls bright images below 0.6
        >>> [round(v, 3) for v in out["accuracy"].tolist()], round(float(out["rate"][0]), 2)  # class-balanced acc.
        ([1.0, 0.875, 0.5], 1.0)
    """
    families = _resolve_perturbations(perturbations)
    if max_batches is not None:
        _check_positive_int(max_batches, "max_batches")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise ValueError(f"`seed` must be an integer in [0, 2**64), got {seed!r}")
    metric_factory = _metric_factory(metric_factory, num_classes, metric_kwargs, axis, at_accuracy)
    batch_transform = batch_transform or _default_batch_transform

    from tqdm.auto import tqdm

    with evaluation_loop(model, device=device, autocast=autocast, rank=rank) as loop:
        metrics = {name: metric_factory(name, levels).to(loop.device) for name, _, levels in families}
        result = SweepResult(metrics, {name: levels for name, _, levels in families})
        total = None
        try:
            total = len(dataloader)  # type: ignore[arg-type]
        except TypeError:
            pass
        if max_batches is not None:
            total = max_batches if total is None else min(total, max_batches)
        bar = tqdm(total=total, desc="rd sweep", disable=not progress or loop.rank != 0, leave=False)
        stream = f"rank{loop.rank}" if loop.world_size > 1 else ""
        try:
            for batch_idx, (images, targets, indices) in enumerate(_batches_with_indices(dataloader, batch_transform)):
                if max_batches is not None and batch_idx >= max_batches:
                    break
                images, targets = _prepare(images, targets, loop.device)
                batch = images.shape[0]
                if indices is None:  # position in this process's stream; ranks told apart through the key stream
                    indices, key_stream = torch.arange(result.num_samples, result.num_samples + batch), stream
                else:
                    key_stream = ""
                    if indices.ndim != 1 or indices.shape[0] != batch:
                        raise ValueError(f"{batch} images but sample indices of shape {tuple(indices.shape)}")
                indices = indices.to(loop.device)
                result.num_samples += batch
                for name, fn, levels in families:
                    metric = metrics[name]
                    for level_idx, level in enumerate(levels):
                        seeds = sweep_seeds(seed, name, level, indices, stream=key_stream)
                        x = fn(images, level, seeds=seeds)
                        if input_transform is not None:
                            x = input_transform(x)
                        with loop.forward_context():
                            outputs = model(x)
                        if not isinstance(outputs, Tensor):
                            raise TypeError(
                                f"the model must return a logits tensor, got {type(outputs).__name__}"
                                " (wrap it to select the logits)"
                            )
                        if label_map is not None:
                            outputs = label_map(outputs)
                        if outputs.dtype in (torch.float16, torch.bfloat16):
                            outputs = outputs.float()
                        metric.update(outputs, targets, level_idx)
                bar.update(1)
        finally:
            bar.close()
    return result


def _metric_factory(
    metric_factory: Callable[[str, list[Any]], Metric] | None,
    num_classes: int | None,
    metric_kwargs: Mapping[str, Any] | None,
    axis: str | None,
    at_accuracy: float | None,
) -> Callable[[str, list[Any]], Metric]:
    """The default metric factory (``RateDistortionSignature`` per family), or the user's after checking options."""
    if metric_factory is not None:
        if metric_kwargs or axis is not None or at_accuracy is not None:
            raise ValueError(
                "`metric_kwargs`, `axis` and `at_accuracy` only apply to the default metric; pass them inside"
                " `metric_factory`"
            )
        if not callable(metric_factory):
            raise TypeError(f"`metric_factory` must be callable (family, levels) -> Metric, got {metric_factory!r}")
        return metric_factory
    if num_classes is None:
        raise ValueError("`num_classes` is required when no `metric_factory` is given")
    _check_positive_int(num_classes, "num_classes", minimum=2)
    from rdmetrics.rate_distortion import RateDistortionSignature

    kwargs = dict(metric_kwargs or {})
    if axis is not None:
        kwargs["axis"] = axis
    if at_accuracy is not None:
        kwargs["at_accuracy"] = at_accuracy

    def default_factory(family: str, levels: list[Any]) -> Metric:
        # non-numeric or non-finite levels (e.g. "bw", high-pass inf) become condition indices 0..L-1
        numeric = all(_is_real_number(v) and math.isfinite(float(v)) for v in levels)
        conditions = [float(v) for v in levels] if numeric else len(levels)
        return RateDistortionSignature(num_classes=num_classes, conditions=conditions, **kwargs)

    return default_factory


def _prepare(images: Any, targets: Any, device: torch.device) -> tuple[Tensor, Tensor]:
    if not isinstance(images, Tensor) or not isinstance(targets, Tensor):
        raise TypeError(
            f"batches must hold tensors (images, targets), got {type(images).__name__}, {type(targets).__name__}"
        )
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    elif not images.is_floating_point():
        raise TypeError(f"images must be floating in [0, 1] or uint8, got dtype {images.dtype}")
    if images.ndim != 4:
        raise ValueError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
    if targets.ndim != 1 or targets.shape[0] != images.shape[0]:
        raise ValueError(
            f"targets must be [B] class indices matching {images.shape[0]} images, got shape {tuple(targets.shape)}"
        )
    return images.to(device, non_blocking=True), targets.to(device, non_blocking=True)


__all__ = [
    "ShardSampler",
    "SweepResult",
    "compute_sweep",
    "run_sweep",
    "shard_dataloader",
    "sweep_generator",
    "sweep_seeds",
]
