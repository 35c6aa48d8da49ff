"""Spatial-frequency families: ``low-pass``, ``high-pass``, ``phase-scrambling``, ``power-equalisation``
(Geirhos et al. 2018/2021) and ``gaussian-blur`` (ImageNet-C); plus spectrum helpers."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from rdmetrics.perturbations._checks import _check_severity
from rdmetrics.perturbations._colour import gray_like, maybe_gray
from rdmetrics.perturbations._filtering import gaussian_filter
from rdmetrics.perturbations._random import per_sample_rand
from rdmetrics.perturbations._registry import register_perturbation

#: Mean pixel value over the 2018 stimuli: the papers' padding value for filtering and mean for high-pass images.
BACKGROUND_GREY = 0.4423
LOW_PASS_LEVELS = (0.0, 1.0, 3.0, 5.0, 7.0, 10.0, 15.0, 40.0)
HIGH_PASS_LEVELS = (math.inf, 3.0, 1.5, 1.0, 0.7, 0.55, 0.45, 0.4)
PHASE_SCRAMBLING_LEVELS = (0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0)
GAUSSIAN_BLUR_LEVELS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)


@register_perturbation("low-pass", levels=LOW_PASS_LEVELS, identity_level=0.0)
def low_pass(
    images: Tensor,
    severity: float,
    generator: torch.Generator | None = None,
    *,
    background: float = BACKGROUND_GREY,
    truncate: float = 4.0,
    grayscale: bool = True,
) -> Tensor:
    """Grayscale, then a Gaussian low-pass filter of standard deviation ``σ`` pixels, padding with grey 0.4423.

    Geirhos et al. 2018/2021: ``y = G_σ * Y`` computed like ``scipy.ndimage.gaussian_filter(Y, σ, mode='constant',
    cval=0.4423)`` (kernel radius ``int(4σ + 0.5)``; ``background``/``truncate`` are options). Presets ``σ = 0, 1,
    3, 5, 7, 10, 15, 40`` pixels, defined on the 224 × 224 px stimuli; scale ``σ`` with the image size for other
    resolutions. Identity ``σ = 0`` returns ``Y`` (the input for grayscale input). Deterministic.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.zeros(1, 1, 9, 9); x[..., 4, 4] = 1.0
        >>> y = get_perturbation("low-pass", background=0.0)(x, 1.0)
        >>> round(float(y.sum()), 4), round(float(y.max()), 4)
        (1.0, 0.1592)
    """
    sigma = _check_severity("low-pass", severity, 0.0, 1e4)
    gray = maybe_gray(images, grayscale)
    out = gaussian_filter(gray, sigma, mode="constant", cval=background, truncate=truncate)
    return gray_like(out, images.shape[1])


@register_perturbation("high-pass", levels=HIGH_PASS_LEVELS, identity_level=math.inf)
def high_pass(
    images: Tensor,
    severity: float,
    generator: torch.Generator | None = None,
    *,
    background: float = BACKGROUND_GREY,
    truncate: float = 4.0,
    grayscale: bool = True,
) -> Tensor:
    """Grayscale, then ``Y − G_σ * Y`` shifted to mean 0.4423 (Gaussian high-pass), clipped to [0, 1].

    Geirhos et al. 2018/2021: ``h = Y − G_σ * Y`` (Gaussian filter as in ``low-pass``, padding 0.4423), then
    ``y = h + 0.4423 − mean(h)`` per image. Presets ``σ = inf, 3, 1.5, 1, 0.7, 0.55, 0.45, 0.4`` pixels
    (decreasing σ keeps ever finer detail only). Identity ``σ = inf`` is the unfiltered luminance ``Y`` (the
    published ``inf`` condition; the input itself for grayscale input). ``σ`` must be > 0. Deterministic.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.4
        >>> round(float(get_perturbation("high-pass")(x, 1.0).mean()), 4)
        0.4423
    """
    sigma = _check_severity("high-pass", severity, 1e-6, 1e4, allow_inf=True)
    gray = maybe_gray(images, grayscale)
    if math.isinf(sigma):
        return gray_like(gray, images.shape[1])
    h = gray - gaussian_filter(gray, sigma, mode="constant", cval=background, truncate=truncate)
    h = h + (background - h.mean(dim=(-2, -1), keepdim=True))
    return gray_like(h, images.shape[1])


@register_perturbation("gaussian-blur", levels=GAUSSIAN_BLUR_LEVELS, identity_level=0.0)
def gaussian_blur(
    images: Tensor, severity: float, generator: torch.Generator | None = None, *, truncate: float = 4.0
) -> Tensor:
    """Gaussian blur of every colour channel with ``σ`` pixels, edges repeated (ImageNet-C ``gaussian_blur``).

    Equals ``scipy.ndimage.gaussian_filter`` per channel with ``mode='nearest'`` (skimage's default, used by
    ImageNet-C). Presets ``σ = 0, 1, 2, 3, 4, 6`` (identity 0, then ImageNet-C severities 1–5). Deterministic.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.full((1, 3, 8, 8), 0.25)
        >>> bool(torch.allclose(get_perturbation("gaussian-blur")(x, 2.0), x))  # constant images are fixed points
        True
    """
    sigma = _check_severity("gaussian-blur", severity, 0.0, 1e4)
    return gaussian_filter(images, sigma, mode="nearest", truncate=truncate)


def _conjugate_index_flip(x: Tensor) -> Tensor:
    """``x[..., -k]`` (indices mod H, W): the value at the conjugate-symmetric frequency of every position."""
    return torch.roll(torch.flip(x, dims=(-2, -1)), shifts=(1, 1), dims=(-2, -1))


@register_perturbation("phase-scrambling", levels=PHASE_SCRAMBLING_LEVELS, identity_level=0.0)
def phase_scrambling(
    images: Tensor, severity: float, generator: torch.Generator | None = None, *, grayscale: bool = True
) -> Tensor:
    """Grayscale, then every Fourier phase shifted by an independent uniform angle in ``[−w, w]`` degrees.

    Geirhos et al. 2018/2021 phase-noise experiment. ``F = FFT2(Y)``; a shift ``θ_k ~ U(−w, w)`` is drawn for one
    frequency of every conjugate pair and ``θ_{−k} = −θ_k`` is set for its partner, so ``y = Re IFFT2(F e^{iθ})`` is
    real with exactly the amplitude spectrum ``|F|`` (before clipping to [0, 1]); self-conjugate frequencies (DC,
    Nyquist) keep their phase, so the mean is kept. (The paper shifts one half of the centred spectrum and takes the
    real part; pairing shifts is the exact version of that idea.) Presets ``w = 0, 30, 60, 90, 120, 150, 180``;
    for white-spectrum images the expected correlation with the original is ``sin(w)/w``. Identity ``w = 0``
    returns ``Y``. One ``[1, H, W]`` uniform draw per sample in batch order.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.4
        >>> y = get_perturbation("phase-scrambling")(x, 90.0, generator=torch.Generator().manual_seed(1))
        >>> bool(torch.allclose(torch.fft.fft2(y).abs(), torch.fft.fft2(x).abs(), atol=1e-4))
        True
    """
    w = _check_severity("phase-scrambling", severity, 0.0, 180.0)
    gray = maybe_gray(images, grayscale)
    if w == 0 or gray.shape[0] == 0:
        return gray_like(gray, images.shape[1])
    b, c, h, wd = gray.shape
    u = per_sample_rand(b, (c, h, wd), generator, gray)
    theta = (2.0 * u - 1.0) * math.radians(w)
    idx = torch.arange(h * wd, device=gray.device).view(h, wd)
    idx_conj = _conjugate_index_flip(idx)
    theta = torch.where(idx < idx_conj, theta, -_conjugate_index_flip(theta))
    theta = theta.masked_fill(idx == idx_conj, 0.0)
    spectrum = torch.fft.fft2(gray) * torch.polar(torch.ones_like(theta), theta)
    return gray_like(torch.fft.ifft2(spectrum).real, images.shape[1])


def power_law_amplitude_spectrum(
    height: int,
    width: int,
    *,
    mean: float = BACKGROUND_GREY,
    rms_contrast: float = 0.2,
    exponent: float = 1.0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Amplitude spectrum ``A(f) ∝ |f|^−α`` (FFT layout ``[H, W]``) of an image with given mean and RMS contrast.

    ``|f|`` is the radial frequency in cycles per image; ``A(0) = H·W·mean`` and the scale is set by Parseval so
    that any image with this amplitude spectrum has pixel standard deviation ``rms_contrast``:
    ``c = H·W·rms / sqrt(Σ_{f≠0} |f|^−2α)``. ``α = 1`` is the natural-image ``1/f`` amplitude law.

    Example:
        >>> from rdmetrics.perturbations.frequency import power_law_amplitude_spectrum
        >>> a = power_law_amplitude_spectrum(8, 8, mean=0.5, rms_contrast=0.1)
        >>> round(float(a[0, 0]), 4), round(float((a[1:].pow(2).sum() + a[0, 1:].pow(2).sum()).sqrt() / 64), 4)
        (32.0, 0.1)
    """
    fy = torch.fft.fftfreq(height, d=1.0 / height, dtype=torch.float64)
    fx = torch.fft.fftfreq(width, d=1.0 / width, dtype=torch.float64)
    radius = torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    amp = torch.where(radius > 0, radius.clamp_min(1e-12) ** (-float(exponent)), torch.zeros_like(radius))
    amp = amp * (height * width * float(rms_contrast) / amp.pow(2).sum().sqrt())
    amp[0, 0] = height * width * float(mean)
    return amp.to(device=device, dtype=dtype)


def mean_amplitude_spectrum(images: Tensor, *, grayscale: bool = True) -> Tensor:
    """Mean over a batch of the FFT amplitude spectra ``|FFT2(Y)|`` as ``[H, W]`` (``[C, H, W]`` if not grayscale).

    Pass the result (accumulated over a data set) as ``amplitude_spectrum`` to ``power-equalisation`` to equalise to
    the data set's mean spectrum, as the papers did with their stimulus set.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations.frequency import mean_amplitude_spectrum
        >>> mean_amplitude_spectrum(torch.full((2, 3, 4, 4), 0.5))[0, 0].item()
        8.0
    """
    gray = maybe_gray(images, grayscale)
    spec = torch.fft.fft2(gray.to(torch.promote_types(gray.dtype, torch.float32))).abs().mean(dim=0)
    return spec[0] if grayscale else spec


@register_perturbation("power-equalisation", levels=(0, 1), identity_level=0, discrete=True)
def power_equalisation(
    images: Tensor,
    severity: int,
    generator: torch.Generator | None = None,
    *,
    amplitude_spectrum: Tensor | None = None,
    mean: float = BACKGROUND_GREY,
    rms_contrast: float = 0.2,
    exponent: float = 1.0,
    grayscale: bool = True,
) -> Tensor:
    """Grayscale, then every image's Fourier amplitudes replaced by one common spectrum, phases kept (level 1).

    Geirhos et al. 2018/2021 power-equalisation experiment (conditions ``0`` = level 0, identity, and ``pow`` =
    level 1): ``y = Re IFFT2(A · e^{i∠FFT2(Y)})``, clipped to [0, 1]. The paper used the mean amplitude spectrum of
    its stimulus set, which is not published; documented default: the ``1/f^α`` spectrum of
    :func:`power_law_amplitude_spectrum` (``exponent = 1``) with mean 0.4423 and RMS contrast 0.2 (``mean``,
    ``rms_contrast``, ``exponent`` options). Pass ``amplitude_spectrum`` (``[H, W]`` in unshifted FFT layout, e.g.
    from :func:`mean_amplitude_spectrum` over your data) to use a data set's mean spectrum instead. Discrete levels
    ``(0, 1)``. Deterministic.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> y = get_perturbation("power-equalisation", rms_contrast=0.05)(x, 1)
        >>> a = torch.fft.fft2(y).abs()
        >>> bool(torch.allclose(a[0], a[1], atol=1e-3))
        True
    """
    gray = maybe_gray(images, grayscale)
    if severity == 0 or gray.shape[0] == 0:
        return gray_like(gray, images.shape[1])
    h, w = gray.shape[-2:]
    if amplitude_spectrum is None:
        target = power_law_amplitude_spectrum(
            h, w, mean=mean, rms_contrast=rms_contrast, exponent=exponent, device=gray.device, dtype=gray.dtype
        )
    else:
        if not isinstance(amplitude_spectrum, Tensor) or amplitude_spectrum.shape[-2:] != (h, w):
            got = tuple(amplitude_spectrum.shape) if isinstance(amplitude_spectrum, Tensor) else amplitude_spectrum
            raise ValueError(
                f"power-equalisation: `amplitude_spectrum` must be a [H, W] = [{h}, {w}] tensor, got {got}"
            )
        target = amplitude_spectrum.to(device=gray.device, dtype=gray.dtype)
    phase = torch.angle(torch.fft.fft2(gray))
    return gray_like(torch.fft.ifft2(torch.polar(target.expand_as(phase), phase)).real, images.shape[1])


__all__ = [
    "BACKGROUND_GREY",
    "GAUSSIAN_BLUR_LEVELS",
    "HIGH_PASS_LEVELS",
    "LOW_PASS_LEVELS",
    "PHASE_SCRAMBLING_LEVELS",
    "gaussian_blur",
    "high_pass",
    "low_pass",
    "mean_amplitude_spectrum",
    "phase_scrambling",
    "power_equalisation",
    "power_law_amplitude_spectrum",
]
