"""Separable Gaussian filtering of batched images, matching ``scipy.ndimage.gaussian_filter`` (truncate 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kernel1d(sigma: float, truncate: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Normalised taps ``exp(-x²/2σ²)`` for ``x`` in ``[-r, r]``, ``r = int(truncate·σ + 0.5)`` (scipy's radius)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / float(sigma)) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


def gaussian_filter(images: Tensor, sigma: float, *, mode: str, cval: float = 0.0, truncate: float = 4.0) -> Tensor:
    """Gaussian-filter each channel of ``[B, C, H, W]`` with standard deviation ``sigma`` pixels (both axes).

    ``mode="constant"`` pads with ``cval`` (scipy ``mode='constant'``); ``mode="nearest"`` repeats the edge pixel
    (scipy ``mode='nearest'``). ``sigma = 0`` returns the input. Two 1-D passes (rows, then columns), as scipy does.
    """
    if sigma == 0:
        return images
    b, c, h, w = images.shape
    k = gaussian_kernel1d(sigma, truncate, images.dtype, images.device)
    r = (k.numel() - 1) // 2
    pad_mode = {"constant": "constant", "nearest": "replicate"}[mode]
    x = images.reshape(b * c, 1, h, w)
    kw = {"value": float(cval)} if pad_mode == "constant" else {}
    # Along W. Edge padding larger than the image is fine for both modes (replicate repeats the edge pixel).
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode=pad_mode, **kw), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode=pad_mode, **kw), k.view(1, 1, -1, 1))
    return x.reshape(b, c, h, w)
