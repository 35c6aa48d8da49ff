"""Compression families: ``jpeg`` (ImageNet-C quality levels, torchvision's libjpeg codec)."""

from __future__ import annotations

import torch
from torch import Tensor

from rdmetrics.perturbations._checks import _check_int_severity
from rdmetrics.perturbations._registry import register_perturbation

JPEG_LEVELS = (100, 25, 18, 15, 10, 7)


@register_perturbation("jpeg", levels=JPEG_LEVELS, identity_level=100)
def jpeg(images: Tensor, severity: int, generator: torch.Generator | None = None) -> Tensor:
    """JPEG round trip at quality ``q``: quantise to uint8, ``torchvision.io.encode_jpeg``, ``decode_jpeg``.

    Presets ``q = 100, 25, 18, 15, 10, 7`` (ImageNet-C severities 1–5 after the identity). Documented choice:
    ``q = 100`` is the identity and returns the input unchanged without encoding (a real quality-100 round trip
    still quantises and subsamples chroma; use 99 for the mildest actual encoding). ``q`` must be an integer in
    ``[1, 100]``. torchvision's codec takes a *list* of ``[C, H, W]`` uint8 images (one C++ call encodes the whole
    list; no Python loop per image here); the round trip always runs on the CPU codec, so CPU and CUDA inputs give
    identical results (CUDA batches are copied to the host and back). Deterministic.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> y = get_perturbation("jpeg")(x, 10)
        >>> y.shape, bool(0 < float((y - x).abs().mean()) < 0.5)
        (torch.Size([2, 3, 32, 32]), True)
    """
    q = _check_int_severity("jpeg quality", severity, 1, 100)
    if q == 100 or images.shape[0] == 0:
        return images
    from torchvision.io import decode_jpeg, encode_jpeg

    as_uint8 = (images.detach() * 255.0).round_().clamp_(0, 255).to(device="cpu", dtype=torch.uint8)
    encoded = encode_jpeg(list(as_uint8), quality=q)
    decoded = decode_jpeg(encoded)
    out = torch.stack(decoded).to(device=images.device, dtype=images.dtype)
    return out / 255.0


__all__ = ["JPEG_LEVELS", "jpeg"]
