"""Sample a generator, encode the samples and compute PCE / RCE / RE (+ PRDC): one loop for any training framework.

``evaluate_generator`` is the plain-function core of
``rdmetrics.integrations.lightning.GenerativeCheckpointEvaluator``; call it directly from a Fabric or plain
PyTorch loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rdmetrics.extractors.base import FeatureExtractor, as_extractor
from rdmetrics.utilities.checks import _check_positive_int


def _dist_info(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is not None and world_size is not None:
        return int(rank), int(world_size)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _share(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``(start, count)`` of this rank's contiguous share: ``n // world`` each, the remainder to the first ranks."""
    base, rem = divmod(n, world_size)
    count = base + (1 if rank < rem else 0)
    start = rank * base + min(rank, rem)
    return start, count


def _load_real(path: str | Path) -> Tensor:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"real set file not found: {path}")
    if path.suffix == ".npy":
        return torch.from_numpy(np.load(path))
    if path.suffix in (".pt", ".pth"):
        obj = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(obj, Tensor):
            raise TypeError(f"{path} must hold a single tensor, got {type(obj).__name__}")
        return obj
    raise ValueError(f"unsupported real set file {path.name!r}: use a .npy, .pt or .pth file holding one array")


def _batch_tensor(batch: Any) -> Tensor:
    if isinstance(batch, (list, tuple)) and batch:
        batch = batch[0]
    if isinstance(batch, np.ndarray):
        batch = torch.from_numpy(batch)
    if not isinstance(batch, Tensor):
        raise TypeError(f"real batches must be tensors or (tensor, ...) tuples, got {type(batch).__name__}")
    return batch


def _iter_real(real: Any, batch_size: int, rank: int, world_size: int) -> Iterator[Tensor]:
    """This rank's share of the real set, in batches: contiguous rows of a tensor, every world-th loader batch."""
    if isinstance(real, (str, Path)):
        real = _load_real(real)
    if isinstance(real, np.ndarray):
        real = torch.from_numpy(real)
    if isinstance(real, Tensor):
        start, count = _share(real.shape[0], rank, world_size)
        for i in range(start, start + count, batch_size):
            yield real[i : min(i + batch_size, start + count)]
        return
    if isinstance(real, Iterable):
        for i, batch in enumerate(real):
            if i % world_size == rank:
                yield _batch_tensor(batch)
        return
    raise TypeError(f"`real` must be a tensor, an array, a file path or an iterable of batches, got {type(real)}")


def _encode(extractor: FeatureExtractor, x: Any, device: torch.device | None, what: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if device is not None:
        x = x.to(device)
    if x.ndim == 2 and extractor.input_ndim not in (None, 2):
        return x.float() if not x.is_floating_point() else x  # precomputed features with an image extractor
    try:
        feats = extractor(x)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{what} of shape {tuple(x.shape)} do not fit the feature extractor: {err}") from err
    except RuntimeError as err:
        raise ValueError(f"{what} of shape {tuple(x.shape)} could not be encoded by the extractor: {err}") from err
    return feats.detach().float() if feats.dtype in (torch.float16, torch.bfloat16) else feats.detach()


def evaluate_generator(
    sample_fn: Callable[[int], Tensor],
    real: Any,
    extractor: nn.Module | str | None,
    n: int,
    k: int = 5,
    batch_size: int = 256,
    seed: int = 0,
    device: torch.device | str | None = None,
    *,
    metric: Any = None,
    prdc: bool = True,
    module: nn.Module | None = None,
    autocast: Callable[[], Any] | None = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> dict[str, Any]:
    r"""Draw ``n`` samples with ``sample_fn``, encode them and the real set, and return PCE / RCE / RE (+ PRDC).

    The metric is :class:`rdmetrics.PrecisionRecallEntropy` (``pce`` :math:`=\hat H(G,R)-\hat H(R)`, ``rce``
    :math:`=\hat H(R,G)-\hat H(R)`, ``re`` :math:`=\hat H(G)-\hat H(R)` in nats; lower ``pce``/``rce`` and higher
    ``re`` are better; with ``prdc`` also ``precision, recall, density, coverage`` in :math:`[0, 1]`, density can
    exceed 1). Returned scalars are Python floats (per-sample arrays stay tensors).

    Sampling runs under ``torch.no_grad()``, with ``module`` (if given) in eval mode (its train mode is restored
    afterwards) and inside ``autocast()`` (e.g. Lightning's ``trainer.precision_plugin.forward_context``). The
    global RNG is forked: this rank seeds it with ``seed + rank`` and the caller's RNG state is left untouched, so
    repeated evaluations of different checkpoints see the same noise.

    Distributed (``torch.distributed`` initialised, or ``rank``/``world_size`` given): each rank draws
    ``n // world_size`` samples (the first ``n % world_size`` ranks one more) and encodes its share of the real set
    (contiguous rows of a tensor, every ``world_size``-th batch of a loader); the metric gathers the features, so the
    result equals one process given the same samples. Every rank must call this function.

    Args:
        sample_fn: ``sample_fn(b) -> Tensor`` with ``b`` samples (images for an image extractor, or ``[b, d]``
            features); called with ``b <= batch_size``.
        real: the real set: a tensor / array (images, or ``[N, d]`` features), a ``.npy``/``.pt`` path, an iterable
            of batches (tensors or ``(tensor, ...)`` tuples, e.g. a DataLoader), or ``None`` when ``metric``
            already holds the real features (a metric with ``reset_real_features=False`` from an earlier call:
            the real set is then encoded only once). 2-D real tensors given with an image extractor are taken as
            precomputed features.
        extractor: ``None`` (inputs are features), a registry name (``"timm/resnet50"``) or an ``nn.Module``
            (see :func:`rdmetrics.extractors.as_extractor`).
        n: number of generated samples in total (over all ranks); must exceed ``k``.
        k: neighbour order of the kNN estimators.
        batch_size: samples drawn / encoded per step.
        seed: base seed (rank ``r`` uses ``seed + r``).
        device: where samples and features are computed (default: the first parameter of ``module`` or CPU).
        metric: a ``PrecisionRecallEntropy`` to reuse (``reset()`` is called first; with
            ``reset_real_features=False`` it keeps the cached real features). ``None``: a new one with ``k``,
            ``prdc`` and ``reset_real_features=False``.
        prdc: also compute precision, recall, density and coverage (new metric only).
        module: the generator module to put in eval mode while sampling.
        autocast: a zero-argument callable returning a context manager to sample and encode under.
        rank: this process's rank (default: from ``torch.distributed``).
        world_size: number of processes (default: from ``torch.distributed``).

    Returns:
        ``metric.compute()`` with 0-d tensors turned into floats.

    Raises:
        ValueError: ``n <= k``; ``real`` missing while the metric holds no real features; samples of the wrong
            number, shape or width for the extractor / real features.
        TypeError: ``sample_fn`` not callable, or it returns something other than a tensor.

    Example:
        >>> import torch
        >>> real = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
        >>> out = evaluate_generator(lambda b: 0.5 * torch.randn(b, 2), real, None, n=500, k=5)
        >>> out["re"] < 0 < out["rce"]  # shrunk generator: less diverse, misses mass
        True
    """
    from rdmetrics.generative import PrecisionRecallEntropy

    if not callable(sample_fn):
        raise TypeError(f"`sample_fn` must be callable (n -> samples), got {type(sample_fn).__name__}")
    n = _check_positive_int(n, "n")
    k = _check_positive_int(k, "k")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if metric is not None:
        k = int(getattr(metric, "k", k))
    if n <= k:
        raise ValueError(f"`n` (number of generated samples) must exceed k={k}, got {n}")
    rank, world_size = _dist_info(rank, world_size)
    if device is None:
        param = next(module.parameters(), None) if module is not None else None
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    ext = as_extractor(extractor).to(device)

    if metric is None:
        if real is None:
            raise ValueError("`real` is None but no metric holding real features was given")
        metric = PrecisionRecallEntropy(k=k, prdc=prdc, reset_real_features=False)
    metric = metric.to(device)
    metric.reset()
    ctx = autocast if autocast is not None else contextlib.nullcontext
    was_training = module.training if module is not None else False
    _, count = _share(n, rank, world_size)
    devices = [device] if device.type == "cuda" else []
    try:
        if module is not None:
            module.eval()
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            if real is not None:
                with ctx():
                    for batch in _iter_real(real, batch_size, rank, world_size):
                        metric.update(_encode(ext, batch, device, "real samples"), real=True)
            elif len(metric.real_features) == 0 and world_size == 1:
                raise ValueError("`real` is None but the metric holds no real features: pass the real set")
            torch.manual_seed(seed + rank)
            done = 0
            while done < count:
                b = min(batch_size, count - done)
                with ctx():
                    x = sample_fn(b)
                    if not isinstance(x, Tensor):
                        raise TypeError(f"`sample_fn` must return a tensor, got {type(x).__name__}")
                    if x.ndim == 0 or x.shape[0] != b:
                        raise ValueError(f"`sample_fn({b})` returned shape {tuple(x.shape)}: expected {b} samples")
                    feats = _encode(ext, x, device, "generated samples")
                try:
                    metric.update(feats, real=False)
                except ValueError as err:
                    raise ValueError(
                        f"generated samples of shape {tuple(x.shape)} do not match the real set: {err}"
                    ) from err
                done += b
    finally:
        if module is not None:
            module.train(was_training)
    out = metric.compute()
    return {key: (float(v) if isinstance(v, Tensor) and v.ndim == 0 else v) for key, v in out.items()}


__all__ = ["evaluate_generator"]
