"""The evaluation-loop helper shared by :func:`rdmetrics.sweep.run_sweep` and :func:`rdmetrics.evaluate_generator`.

One place decides the rank and world size, the device, the eval/train mode of the model (restored afterwards, also
on error), gradient and inference mode, and the autocast context of every forward pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

ForwardContext = Callable[[], contextlib.AbstractContextManager]

#: Marks a deprecated keyword that was not passed (see :func:`_renamed`).
_UNSET: Any = object()


def _renamed(new_value: Any, old_value: Any, new: str, old: str, default: Any = None) -> Any:
    """One vocabulary for the loops and callbacks (``feature_extractor``, ``num_samples``, ``plot``): accept the
    deprecated keyword ``old`` for ``new`` with a ``DeprecationWarning``; passing both is an error."""
    if old_value is _UNSET:
        return new_value
    if new_value is not default:
        raise TypeError(f"pass `{new}` only (`{old}` is its deprecated name), not both")
    warnings.warn(f"`{old}` is deprecated, use `{new}`", DeprecationWarning, stacklevel=3)
    return old_value


def dist_info(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)``: the given values, else ``torch.distributed``'s when initialised, else ``(0, 1)``.

    Example:
        >>> from rdmetrics.utilities.loop import dist_info
        >>> dist_info(), dist_info(1, 3)
        ((0, 1), (1, 3))
    """
    initialised = torch.distributed.is_available() and torch.distributed.is_initialized()
    if rank is None:
        rank = torch.distributed.get_rank() if initialised else 0
    if world_size is None:
        world_size = torch.distributed.get_world_size() if initialised else 1
    rank, world_size = int(rank), int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
    return rank, world_size


def module_device(module: Any, default: torch.device | str = "cpu") -> torch.device:
    """The device of ``module``'s first parameter (or buffer); ``default`` for other callables or empty modules.

    Example:
        >>> from torch import nn
        >>> from rdmetrics.utilities.loop import module_device
        >>> module_device(nn.Linear(2, 2)), module_device(lambda x: x)
        (device(type='cpu'), device(type='cpu'))
    """
    if isinstance(module, nn.Module):
        for tensor in module.parameters():
            return tensor.device
        for tensor in module.buffers():
            return tensor.device
    return torch.device(default)


def autocast_context(autocast: Any, device: torch.device) -> ForwardContext:
    """A zero-argument factory of the forward context for ``autocast``.

    ``autocast``: ``None`` / ``False`` (no autocast), ``True`` (``torch.autocast`` on ``device``), a ``torch.dtype``
    (autocast to it), or a zero-argument callable returning a context manager (e.g. Lightning's
    ``trainer.precision_plugin.forward_context``).

    Example:
        >>> import torch
        >>> from rdmetrics.utilities.loop import autocast_context
        >>> with autocast_context(torch.bfloat16, torch.device("cpu"))():
        ...     torch.is_autocast_enabled("cpu")
        True
    """
    if autocast is None or autocast is False:
        return contextlib.nullcontext
    if autocast is True:
        return lambda: torch.autocast(device_type=device.type)
    if isinstance(autocast, torch.dtype):
        return lambda: torch.autocast(device_type=device.type, dtype=autocast)
    if callable(autocast):
        return autocast
    raise TypeError(
        "`autocast` must be None, a bool, a torch.dtype or a zero-argument callable returning a context manager"
        f" (e.g. `trainer.precision_plugin.forward_context`), got {autocast!r}"
    )


@dataclasses.dataclass(frozen=True)
class EvalLoop:
    """What :func:`evaluation_loop` resolved: where to compute, which shard, and the forward context."""

    device: torch.device
    rank: int
    world_size: int
    forward_context: ForwardContext


@contextlib.contextmanager
def evaluation_loop(
    module: Any,
    *,
    device: torch.device | str | None = None,
    autocast: Any = None,
    rank: int | None = None,
    world_size: int | None = None,
) -> Iterator[EvalLoop]:
    """Run an evaluation loop over ``module``: eval mode, no autograd, the train mode restored on exit.

    Inside, ``module`` (an ``nn.Module``; other callables are left alone) is in eval mode, gradients are off
    (``torch.no_grad``) and inference mode is off (``torch.inference_mode(False)``: Lightning's validation runs under
    inference mode, and metric states updated there would become inference tensors that later in-place updates
    refuse). The module's previous train/eval mode is restored on exit, also when the loop raises.

    Args:
        module: the model (or generator) being evaluated.
        device: where to compute; default: the device of ``module``'s first parameter (CPU if none).
        autocast: see :func:`autocast_context`; wrap each forward pass in ``loop.forward_context()``.
        rank: this process's shard index; default from ``torch.distributed`` (0 if not initialised).
        world_size: number of processes; default from ``torch.distributed`` (1 if not initialised).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from rdmetrics.utilities.loop import evaluation_loop
        >>> net = nn.Dropout(0.5).train()
        >>> with evaluation_loop(net) as loop:
        ...     print(net.training, torch.is_grad_enabled(), loop.device, loop.rank, loop.world_size)
        False False cpu 0 1
        >>> net.training
        True
    """
    resolved = module_device(module) if device is None else torch.device(device)
    rank, world_size = dist_info(rank, world_size)
    loop = EvalLoop(resolved, rank, world_size, autocast_context(autocast, resolved))
    was_training = module.training if isinstance(module, nn.Module) else None
    try:
        if isinstance(module, nn.Module):
            module.eval()
        with torch.inference_mode(False), torch.no_grad():
            yield loop
    finally:
        if was_training is not None:
            module.train(was_training)


__all__ = ["EvalLoop", "autocast_context", "dist_info", "evaluation_loop", "module_device"]
