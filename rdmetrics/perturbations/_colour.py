"""Colour helpers: luminance (grayscale) conversion and the opponent-colour (false-colour) transform."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: Luminance weights of ``skimage.color.rgb2gray`` (ITU-R BT.709 primaries), used by Geirhos et al. 2018/2021.
GRAY_WEIGHTS = (0.2125, 0.7154, 0.0721)


def to_gray(images: Tensor) -> Tensor:
    """Luminance ``Y = 0.2125 R + 0.7154 G + 0.0721 B`` as a ``[B, 1, H, W]`` batch (C = 1 passes through)."""
    if images.shape[1] == 1:
        return images
    w = torch.tensor(GRAY_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * w).sum(dim=1, keepdim=True)


def gray_like(gray: Tensor, channels: int) -> Tensor:
    """Replicate a ``[B, 1, H, W]`` batch to ``channels`` channels (the papers' stacked grey RGB images)."""
    return gray if channels == 1 else gray.expand(-1, channels, -1, -1)


def maybe_gray(images: Tensor, grayscale: bool) -> Tensor:
    """``to_gray(images)`` when ``grayscale`` else ``images`` (the parametric families' base transform)."""
    return to_gray(images) if grayscale else images


# Cone fundamentals of the 2018 experiment's monitor primaries (rows: L, M, S cone activation per unit linear R, G, B)
# and the Brainard (1996) cone-contrast -> DKL opponent matrix (rows: luminance, L-M, S-(L+M)). Published constants of
# Geirhos et al. 2018 (generalisation-humans-DNNs, image_manipulation.py); the white point is linear grey 0.5.
_RGB_TO_LMS = np.array(
    [
        [0.1619982647, 0.208049264, 0.0389347448],
        [0.0330275785, 0.2496504557, 0.0618343518],
        [0.0015524055, 0.0198861001, 0.1890224274],
    ]
)
_LMS_TO_DKL = np.array(
    [
        [9.27590805, 9.27590805, 0.0],
        [7.86421647, -9.33587662, 0.0],
        [-3.39709047, -3.39709047, 12.16230246],
    ]
)
# Negating both chromatic DKL axes about the white point is one linear map in linear RGB: T = A^-1 D A, A = N M.
_A = _LMS_TO_DKL @ _RGB_TO_LMS
FALSE_COLOUR_MATRIX = np.linalg.solve(_A, np.diag([1.0, -1.0, -1.0]) @ _A)
WHITE_POINT_LINEAR = 0.5


def opponent_colour_swap(linear_rgb: Tensor) -> Tensor:
    """Apply ``x -> w + T (x - w)`` per pixel to linear RGB ``[B, 3, H, W]`` (``T = FALSE_COLOUR_MATRIX``)."""
    t = torch.as_tensor(FALSE_COLOUR_MATRIX, dtype=linear_rgb.dtype, device=linear_rgb.device)
    centred = linear_rgb - WHITE_POINT_LINEAR
    return torch.einsum("ij,bjhw->bihw", t, centred) + WHITE_POINT_LINEAR
