"""Sample a generator, encode the samples and compute PCE / RCE / RE (+ PRDC): one loop for any training framework.

``evaluate_generator`` is the plain-function core of
``rdmetrics.integrations.lightning.GenerativeCheckpointEvaluator``; call it directly from a Fabric or plain
PyTorch loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rdmetrics.extractors.base import FeatureExtractor, as_extractor
from rdmetrics.utilities.checks import _check_positive_int
from rdmetrics.utilities.loop import _UNSET, _renamed, evaluation_loop


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
    feature_extractor: nn.Module | str | None = None,
    num_samples: int | None = None,
    k: int = 5,
    batch_size: int = 256,
    seed: int = 0,
    device: torch.device | str | None = None,
    *,
    metric: Any = None,
    prdc: bool = True,
    module: nn.Module | None = None,
    autocast: Any = None,
    rank: int | None = None,
    world_size: int | None = None,
    extractor: Any = _UNSET,
    n: Any = _UNSET,
) -> dict[str, Any]:
    r"""Draw ``num_samples`` samples with ``sample_fn``, encode them and the real set, return PCE / RCE / RE (+ PRDC).

    The metric is :class:`rdmetrics.PrecisionRecallEntropy` (``pce`` :math:`=\hat H(G,R)-\hat H(R)`, ``rce``
    :math:`=\hat H(R,G)-\hat H(R)`, ``re`` :math:`=\hat H(G)-\hat H(R)` in nats; lower ``pce``/``rce`` and higher
    ``re`` are better; with ``prdc`` also ``precision, recall, density, coverage`` in :math:`[0, 1]`, density can
    exceed 1). Returned scalars are Python floats (per-sample arrays stay tensors).

    Sampling runs in :func:`rdmetrics.utilities.loop.evaluation_loop` (the loop helper :func:`rdmetrics.sweep.run_sweep`
    shares): ``module`` (if given) in eval mode with its train mode restored afterwards, no autograd, inside the
    ``autocast`` context (e.g. Lightning's ``trainer.precision_plugin.forward_context``). The global RNG is forked:
    this rank seeds it with ``seed + rank`` and the caller's RNG state is left untouched, so repeated evaluations
    of different checkpoints see the same noise.

    Distributed (``torch.distributed`` initialised, or ``rank``/``world_size`` given): each rank draws
    ``num_samples // world_size`` samples (the first ``num_samples % world_size`` ranks one more) and encodes
    its share of the real set (contiguous rows of a tensor, every ``world_size``-th batch of a loader); the metric
    gathers the features, so the result equals one process given the same samples. Every rank must call this
    function.

    Args:
        sample_fn: ``sample_fn(b) -> Tensor`` with ``b`` samples (images for an image extractor, or ``[b, d]``
            features); called with ``b <= batch_size``.
        real: the real set: a tensor / array (images, or ``[N, d]`` features), a ``.npy``/``.pt`` path, an iterable
            of batches (tensors or ``(tensor, ...)`` tuples, e.g. a DataLoader), or ``None`` when ``metric``
            already holds the real features (a metric with ``reset_real_features=False`` from an earlier call:
            the real set is then encoded only once). 2-D real tensors given with an image extractor are taken as
            precomputed features.
        feature_extractor: ``None`` (inputs are features), a registry name (``"timm/resnet50"``) or an
            ``nn.Module`` (see :func:`rdmetrics.extractors.as_extractor`). Deprecated name: ``extractor``.
        num_samples: number of generated samples in total (over all ranks); must exceed ``k``. Deprecated name:
            ``n``.
        k: neighbour order of the kNN estimators.
        batch_size: samples drawn / encoded per step.
        seed: base seed (rank ``r`` uses ``seed + r``).
        device: where samples and features are computed (default: the first parameter of ``module`` or CPU).
        metric: a ``PrecisionRecallEntropy`` to reuse (``reset()`` is called first; with
            ``reset_real_features=False`` it keeps the cached real features). ``None``: a new one with ``k``,
            ``prdc`` and ``reset_real_features=False``.
        prdc: also compute precision, recall, density and coverage (new metric only).
        module: the generator module to put in eval mode while sampling.
        autocast: ``None``, a bool, a ``torch.dtype`` or a zero-argument callable returning a context manager to
            sample and encode under (see :func:`rdmetrics.utilities.loop.autocast_context`).
        rank: this process's rank (default: from ``torch.distributed``).
        world_size: number of processes (default: from ``torch.distributed``).

    Returns:
        ``metric.compute()`` with 0-d tensors turned into floats.

    Raises:
        ValueError: ``num_samples <= k``; ``real`` missing while the metric holds no real features; samples of the wrong
            number, shape or width for the extractor / real features.
        TypeError: ``sample_fn`` not callable, or it returns something other than a tensor.

    Example:
        >>> import torch
        >>> real = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
        >>> out = evaluate_generator(lambda b: 0.5 * torch.randn(b, 2), real, num_samples=500, k=5)
        >>> out["re"] < 0 < out["rce"]  # shrunk generator: less diverse, misses mass
        True
    """
    from rdmetrics.generative import PrecisionRecallEntropy

    feature_extractor = _renamed(feature_extractor, extractor, "feature_extractor", "extractor")
    num_samples = _renamed(num_samples, n, "num_samples", "n")
    if not callable(sample_fn):
        raise TypeError(f"`sample_fn` must be callable (n -> samples), got {type(sample_fn).__name__}")
    if num_samples is None:
        raise TypeError("`num_samples` (the number of generated samples) is required")
    num_samples = _check_positive_int(num_samples, "num_samples")
    k = _check_positive_int(k, "k")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if metric is not None:
        k = int(getattr(metric, "k", k))
    if num_samples <= k:
        raise ValueError(f"`num_samples` (number of generated samples) must exceed k={k}, got {num_samples}")
    if metric is None and real is None:
        raise ValueError("`real` is None but no metric holding real features was given")

    with evaluation_loop(module, device=device, autocast=autocast, rank=rank, world_size=world_size) as loop:
        device = loop.device
        ext = as_extractor(feature_extractor).to(device)
        if metric is None:
            metric = PrecisionRecallEntropy(k=k, prdc=prdc, reset_real_features=False)
        metric = metric.to(device)
        metric.reset()
        _, count = _share(num_samples, loop.rank, loop.world_size)
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if real is not None:
                with loop.forward_context():
                    for batch in _iter_real(real, batch_size, loop.rank, loop.world_size):
                        metric.update(_encode(ext, batch, device, "real samples"), real=True)
            elif len(metric.real_features) == 0 and loop.world_size == 1:
                raise ValueError("`real` is None but the metric holds no real features: pass the real set")
            torch.manual_seed(seed + loop.rank)
            done = 0
            while done < count:
                b = min(batch_size, count - done)
                with loop.forward_context():
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
    out = metric.compute()
    return {key: (float(v) if isinstance(v, Tensor) and v.ndim == 0 else v) for key, v in out.items()}


__all__ = ["evaluate_generator"]
