"""Separable Gaussian filtering of batched images, matching ``scipy.ndimage.gaussian_filter`` (truncate 4).

Each 1-D pass is one batched matrix product with an ``[n, n]`` filter matrix that already contains the boundary rule
(zero-padding plus a constant term for ``mode="constant"``, edge-clamped indices for ``mode="nearest"``). Its cost does
not depend on ``σ`` and it runs as BLAS/cuBLAS matmuls, several times faster on CPU than a single-channel
``conv2d`` with long kernels (σ = 40 px has 321 taps).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor


def gaussian_kernel1d(sigma: float, truncate: float, dtype: torch.dtype, device: torch.device | str) -> Tensor:
    """Normalised taps ``exp(-x²/2σ²)`` for ``x`` in ``[-r, r]``, ``r = int(truncate·σ + 0.5)`` (scipy's radius)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / float(sigma)) ** 2)
    return (k / k.sum()).to(dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _filter_matrix(
    n: int, sigma: float, truncate: float, mode: str, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """``(K, outside)``: ``y = K @ x + cval·outside`` filters a length-``n`` signal along one axis."""
    k = gaussian_kernel1d(sigma, truncate, torch.float64, "cpu")
    radius = (k.numel() - 1) // 2
    offsets = torch.arange(-radius, radius + 1)
    rows = torch.arange(n)[:, None].expand(n, offsets.numel())
    cols = rows + offsets[None, :]
    weights = k[None, :].expand(n, -1)
    if mode == "nearest":
        cols = cols.clamp(0, n - 1)
    else:  # constant: taps falling outside the signal read cval
        inside = (cols >= 0) & (cols < n)
        weights = weights * inside
        cols = cols.clamp(0, n - 1)
    mat = torch.zeros(n, n, dtype=torch.float64).index_put_(
        (rows.reshape(-1), cols.reshape(-1)), weights.reshape(-1), accumulate=True
    )
    outside = 1.0 - mat.sum(dim=1)
    return mat.to(dtype=dtype, device=device), outside.to(dtype=dtype, device=device)


def gaussian_filter(images: Tensor, sigma: float, *, mode: str, cval: float = 0.0, truncate: float = 4.0) -> Tensor:
    """Gaussian-filter each channel of ``[B, C, H, W]`` with standard deviation ``sigma`` pixels (both axes).

    ``mode="constant"`` pads with ``cval`` (scipy ``mode='constant'``); ``mode="nearest"`` repeats the edge pixel
    (scipy ``mode='nearest'``). ``sigma = 0`` returns the input. Two 1-D passes (along W, then along H), as scipy
    does, so the intermediate result is padded with ``cval`` too.
    """
    if sigma == 0:
        return images
    if mode not in ("constant", "nearest"):
        raise ValueError(f"gaussian_filter: mode must be 'constant' or 'nearest', got {mode!r}")
    h, w = images.shape[-2:]
    args = (float(sigma), float(truncate), mode, images.dtype, images.device)
    kw, out_w = _filter_matrix(w, *args)
    kh, out_h = _filter_matrix(h, *args)
    x = torch.matmul(images, kw.T)
    if mode == "constant" and cval != 0:
        x = x + cval * out_w
    x = torch.matmul(kh, x)
    if mode == "constant" and cval != 0:
        x = x + cval * out_h[:, None]
    return x
