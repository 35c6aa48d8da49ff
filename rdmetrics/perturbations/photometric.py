"""Photometric families: ``contrast``, ``grayscale``, ``false-colour`` (Geirhos et al. 2018/2021) and
``brightness`` (ImageNet-C, Hendrycks & Dietterich 2019)."""

from __future__ import annotations

import torch
from torch import Tensor

from rdmetrics.perturbations._checks import _check_severity
from rdmetrics.perturbations._colour import gray_like, maybe_gray, opponent_colour_swap, to_gray
from rdmetrics.perturbations._registry import register_perturbation

CONTRAST_LEVELS = (1.0, 0.5, 0.3, 0.15, 0.1, 0.05, 0.03, 0.01)


def _adjust_contrast(gray: Tensor, level: float) -> Tensor:
    return (1.0 - level) / 2.0 + level * gray


@register_perturbation("contrast", levels=CONTRAST_LEVELS, identity_level=1.0)
def contrast(
    images: Tensor, severity: float, generator: torch.Generator | None = None, *, grayscale: bool = True
) -> Tensor:
    """Grayscale conversion, then contrast scaled towards mid-grey: ``y = (1 − c)/2 + c·Y``.

    Geirhos et al. 2018/2021 contrast experiment. ``Y`` is the luminance ``0.2125 R + 0.7154 G + 0.0721 B``
    (skimage ``rgb2gray``) replicated to every channel; ``severity = c`` in ``[0, 1]`` is the nominal contrast
    (1 = unchanged). Presets, increasing severity: ``1.0, 0.5, 0.3, 0.15, 0.1, 0.05, 0.03, 0.01`` (the published
    ``c100 … c01`` conditions). Identity ``c = 1``: returns ``Y`` (the input itself for grayscale input). Option
    ``grayscale=False`` applies the same formula to every colour channel (identity then returns the input).
    Deterministic; ``generator`` is unused.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
        >>> get_perturbation("contrast")(x, 0.1).flatten().tolist()
        [0.44999998807907104, 0.550000011920929]
    """
    c = _check_severity("contrast", severity, 0.0, 1.0)
    return gray_like(_adjust_contrast(maybe_gray(images, grayscale), c), images.shape[1])


@register_perturbation("grayscale", levels=(0, 1), identity_level=0, discrete=True)
def grayscale(images: Tensor, severity: int, generator: torch.Generator | None = None) -> Tensor:
    """Colour → grayscale: level 1 replaces every channel by ``Y = 0.2125 R + 0.7154 G + 0.0721 B``.

    Geirhos et al. 2018/2021 colour experiment (conditions ``cr`` = level 0, the identity, and ``bw`` = level 1);
    ``Y`` is skimage's ``rgb2gray`` luminance. Discrete levels ``(0, 1)``. Single-channel input is returned as is.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
        >>> [round(v, 4) for v in get_perturbation("grayscale")(x, 1).flatten().tolist()]
        [0.2125, 0.2125, 0.2125]
    """
    if severity == 0:
        return images
    return gray_like(to_gray(images), images.shape[1])


@register_perturbation("false-colour", levels=(0, 1), identity_level=0, discrete=True)
def false_colour(
    images: Tensor, severity: int, generator: torch.Generator | None = None, *, gamma: float = 2.2
) -> Tensor:
    """Opponent colours: both chromatic axes of DKL colour space are negated, luminance is kept (level 1).

    Geirhos et al. 2018/2021 false-colour experiment (conditions ``true`` = level 0, identity, and ``false`` =
    level 1). Per pixel: linearise ``x_lin = x^γ`` (documented choice: a power-law display with ``gamma = 2.2``;
    the paper used its measured monitor curve, not published as a formula; ``gamma=1`` skips it), convert to cone
    activations ``LMS = M x_lin`` and DKL ``N (LMS − LMS_white)`` with the paper's matrices ``M`` (monitor primaries →
    cones) and ``N`` (Brainard 1996; white point = linear grey 0.5), flip the signs of the ``L−M`` and ``S−(L+M)``
    coordinates, map back, clip to ``[0, 1]`` and re-apply the display curve ``x = x_lin^(1/γ)``. Out-of-gamut
    colours are clipped. Discrete levels ``(0, 1)``; single-channel input is returned unchanged (grey has no
    chromatic component).

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.full((1, 3, 2, 2), 0.5) ** (1 / 2.2)  # the white point maps to itself
        >>> bool(torch.allclose(get_perturbation("false-colour")(x, 1), x, atol=1e-5))
        True
    """
    if severity == 0 or images.shape[1] == 1:
        return images
    g = _check_severity("false-colour gamma", gamma, 1e-3, 100.0)
    lin = images.pow(g) if g != 1.0 else images
    out = opponent_colour_swap(lin).clamp_(0.0, 1.0)
    return out.pow(1.0 / g) if g != 1.0 else out


@register_perturbation("brightness", levels=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5), identity_level=0.0)
def brightness(images: Tensor, severity: float, generator: torch.Generator | None = None) -> Tensor:
    """Brightness shift in HSV: ``V ← clip(V + b, 0, 1)`` with hue and saturation kept (ImageNet-C).

    ``V = max(R, G, B)``; since RGB scales linearly with ``V`` at fixed hue and saturation, the result is
    ``x · V'/V`` (``V' = clip(V + b, 0, 1)``), and black pixels (``V = 0``) become grey ``V'`` as in HSV → RGB with
    ``S = 0``. Presets ``0, 0.1, 0.2, 0.3, 0.4, 0.5`` (identity 0, then ImageNet-C severities 1–5);
    ``severity = b`` in ``[-1, 1]`` (negative darkens). Deterministic.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.tensor([0.4, 0.2, 0.0]).view(1, 3, 1, 1)
        >>> [round(v, 4) for v in get_perturbation("brightness")(x, 0.2).flatten().tolist()]
        [0.6, 0.3, 0.0]
    """
    b = _check_severity("brightness", severity, -1.0, 1.0)
    if b == 0.0:
        return images
    v = images.amax(dim=1, keepdim=True)
    v_new = (v + b).clamp(0.0, 1.0)
    scaled = images * (v_new / v.clamp_min(torch.finfo(images.dtype).tiny))
    return torch.where(v > 0, scaled, v_new.expand_as(images))


__all__ = ["CONTRAST_LEVELS", "brightness", "contrast", "false_colour", "grayscale"]
