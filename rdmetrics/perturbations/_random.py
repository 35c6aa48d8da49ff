"""Per-sample random draws: the determinism and batch-size-independence contract of the stochastic families."""

from __future__ import annotations

import torch
from torch import Tensor


def per_sample_rand(
    batch: int, shape: tuple[int, ...], generator: torch.Generator | None, like: Tensor, normal: bool = False
) -> Tensor:
    """``[batch, *shape]`` uniform ``[0, 1)`` (or standard normal) values, one draw of ``shape`` per sample, in order.

    Drawing each sample's noise with its own call, in batch order, makes the noise of the k-th image depend only on the
    generator's state and k: cutting a batch into chunks perturbed one after another with the same generator gives
    exactly the noise of the whole batch. Draws happen on ``generator.device`` (the images' device when ``generator``
    is ``None``) and are then moved to ``like``'s device, so a CPU generator gives identical noise for CPU and CUDA
    images. Draws are always float32 (then cast to ``like.dtype``), so float32 and float64 images get the same noise.
    Only the draws loop over samples; the image arithmetic stays batched.
    """
    device = generator.device if generator is not None else like.device
    draw = torch.randn if normal else torch.rand
    if batch == 0:
        return torch.empty((0, *shape), dtype=like.dtype, device=like.device)
    noise = torch.stack([draw(shape, generator=generator, device=device, dtype=torch.float32) for _ in range(batch)])
    return noise.to(device=like.device, dtype=like.dtype)
