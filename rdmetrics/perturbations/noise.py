"""Additive noise families: ``uniform-noise`` (Geirhos et al. 2018/2021) and ``gaussian-noise`` (ImageNet-C)."""

from __future__ import annotations

import torch
from torch import Tensor

from rdmetrics.perturbations._checks import _check_severity
from rdmetrics.perturbations._colour import gray_like, maybe_gray
from rdmetrics.perturbations._random import per_sample_rand
from rdmetrics.perturbations._registry import register_perturbation

UNIFORM_NOISE_LEVELS = (0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9)
GAUSSIAN_NOISE_LEVELS = (0.0, 0.08, 0.12, 0.18, 0.26, 0.38)


@register_perturbation("uniform-noise", levels=UNIFORM_NOISE_LEVELS, identity_level=0.0)
def uniform_noise(
    images: Tensor,
    severity: float,
    generator: torch.Generator | None = None,
    *,
    contrast_level: float = 0.3,
    grayscale: bool = True,
) -> Tensor:
    """Grayscale, contrast reduced to 30 %, plus i.i.d. uniform noise in ``[−w, w]`` per pixel, clipped to [0, 1].

    Geirhos et al. 2018/2021 noise experiment: ``y = clip((1 − c)/2 + c·Y + U(−w, w))`` with ``c = contrast_level
    = 0.3`` (as published) and ``Y`` the ``rgb2gray`` luminance; one noise value per pixel, shared by the replicated
    grey channels. Presets ``w = 0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9``. Identity ``w = 0``: no noise is drawn,
    but the result is still the 30 %-contrast grey image, as in the published ``0.00`` condition; pass
    ``contrast_level=1.0`` (and grayscale input or ``grayscale=False``) for a true identity. Noise is drawn per
    sample in batch order (see :mod:`rdmetrics.perturbations`).

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.full((2, 3, 32, 32), 0.5)
        >>> y = get_perturbation("uniform-noise")(x, 0.2, generator=torch.Generator().manual_seed(0))
        >>> round(float((y - 0.5).abs().max()), 1)  # |noise| <= w
        0.2
    """
    w = _check_severity("uniform-noise", severity, 0.0, 1.0)
    c = _check_severity("uniform-noise contrast_level", contrast_level, 0.0, 1.0)
    base = (1.0 - c) / 2.0 + c * maybe_gray(images, grayscale)
    if w > 0:
        noise = per_sample_rand(base.shape[0], tuple(base.shape[1:]), generator, base)
        base = base + (2.0 * noise - 1.0) * w
    return gray_like(base, images.shape[1])


@register_perturbation("gaussian-noise", levels=GAUSSIAN_NOISE_LEVELS, identity_level=0.0)
def gaussian_noise(images: Tensor, severity: float, generator: torch.Generator | None = None) -> Tensor:
    """Additive i.i.d. Gaussian noise ``N(0, σ²)`` per pixel and channel, clipped to [0, 1] (ImageNet-C).

    ``y = clip(x + σ·ε)``, ``ε ~ N(0, 1)`` drawn per sample in batch order. Presets ``σ = 0, 0.08, 0.12, 0.18,
    0.26, 0.38`` (identity 0, then ImageNet-C severities 1–5). Colour is kept.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.full((4, 3, 64, 64), 0.5)
        >>> y = get_perturbation("gaussian-noise")(x, 0.08, generator=torch.Generator().manual_seed(0))
        >>> round(float((y - x).std()), 2)
        0.08
    """
    sigma = _check_severity("gaussian-noise", severity, 0.0, 10.0)
    if sigma == 0:
        return images
    return images + sigma * per_sample_rand(images.shape[0], tuple(images.shape[1:]), generator, images, normal=True)


__all__ = ["GAUSSIAN_NOISE_LEVELS", "UNIFORM_NOISE_LEVELS", "gaussian_noise", "uniform_noise"]
