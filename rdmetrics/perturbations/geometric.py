"""Geometric families: ``rotation`` (Geirhos et al. 2018/2021)."""

from __future__ import annotations

import torch
from torch import Tensor

from rdmetrics.perturbations._colour import gray_like, maybe_gray
from rdmetrics.perturbations._registry import register_perturbation


@register_perturbation("rotation", levels=(0, 90, 180, 270), identity_level=0, discrete=True)
def rotation(
    images: Tensor, severity: int, generator: torch.Generator | None = None, *, grayscale: bool = True
) -> Tensor:
    """Grayscale, then rotation counter-clockwise by 0, 90, 180 or 270 degrees (``torch.rot90`` = ``np.rot90``).

    Geirhos et al. 2018/2021 rotation experiment (grey stimuli; their ``rotate90`` is ``np.rot90(Y, 1)``).
    Discrete levels ``(0, 90, 180, 270)`` in the published order; human accuracy is not monotone in the angle
    (180° is hardest), so "severity" is only an index here. Non-square images come back as ``[B, C, W, H]`` at 90°
    and 270°. Identity 0 returns the luminance ``Y`` (the input for grayscale input); ``grayscale=False`` rotates
    colour images.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.tensor([[0.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
        >>> get_perturbation("rotation")(x, 90).view(2, 2).tolist()
        [[1.0, 0.0], [0.0, 0.0]]
    """
    k = int(severity) // 90
    base = maybe_gray(images, grayscale)
    if k % 4:
        base = torch.rot90(base, k, dims=(-2, -1))
    return gray_like(base, images.shape[1])


__all__ = ["rotation"]
