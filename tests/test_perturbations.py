"""Tests of rdmetrics.perturbations: registry, validation, and every family against an independent reference
(closed form, numpy/scipy/colorsys float64 re-implementations written here) or an invariant of its definition."""

from __future__ import annotations

import colorsys
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from rdmetrics.perturbations import Perturbation, get_perturbation, list_perturbations, register_perturbation
from rdmetrics.perturbations._registry import _REGISTRY

ALL = [
    "brightness",
    "contrast",
    "false-colour",
    "gaussian-blur",
    "gaussian-noise",
    "grayscale",
    "high-pass",
    "jpeg",
    "low-pass",
    "phase-scrambling",
    "power-equalisation",
    "rotation",
    "uniform-noise",
]
GREY_FAMILIES = [
    "contrast",
    "uniform-noise",
    "low-pass",
    "high-pass",
    "phase-scrambling",
    "power-equalisation",
    "rotation",
]
STOCHASTIC = ["uniform-noise", "gaussian-noise", "phase-scrambling"]
W709 = np.array([0.2125, 0.7154, 0.0721])  # skimage.color.rgb2gray weights


def natural_images(
    b: int, c: int, h: int, w: int, seed: int = 0, mean: float = 0.45, std: float = 0.12
) -> torch.Tensor:
    """1/f-spectrum random images (natural-image-like), mean ``mean``, pixel std ``std``, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    r = np.sqrt(fy**2 + fx**2)
    r[0, 0] = np.inf
    white = rng.standard_normal((b, c, h, w)) + 0.8 * rng.standard_normal((b, 1, h, w))  # correlated channels
    img = np.fft.ifft2(np.fft.fft2(white) / r).real
    img = (img - img.mean(axis=(-2, -1), keepdims=True)) / img.std(axis=(-2, -1), keepdims=True)
    return torch.from_numpy(np.clip(mean + std * img, 0, 1)).float()


def gray_np(x: torch.Tensor) -> np.ndarray:
    a = x.double().numpy()
    return a[:, 0] if a.shape[1] == 1 else np.einsum("c,bchw->bhw", W709, a)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def band_power(gray: np.ndarray, lo: float, hi: float) -> float:
    """Mean power of FFT2 coefficients with radial frequency (cycles/pixel) in (lo, hi]."""
    h, w = gray.shape[-2:]
    r = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
    mask = (r > lo) & (r <= hi)
    return float((np.abs(np.fft.fft2(gray)) ** 2)[..., mask].mean())


# ----------------------------------------------------------------------------------------------------- registry


def test_registry_lists_the_thirteen_families():
    assert set(ALL) <= set(list_perturbations())
    assert list_perturbations("*-noise") == ["gaussian-noise", "uniform-noise"]
    assert list_perturbations(["rot*", "jp?g"]) == ["jpeg", "rotation"]
    assert list_perturbations("nothing*") == []
    for name in ALL:
        p = get_perturbation(name)
        assert isinstance(p, Perturbation) and p.name == name
        assert len(p.levels) >= 2 and p.description
        assert p.levels[0] == p.identity_level


def test_published_levels():
    assert get_perturbation("contrast").levels == (1.0, 0.5, 0.3, 0.15, 0.1, 0.05, 0.03, 0.01)
    assert get_perturbation("uniform-noise").levels == (0.0, 0.03, 0.05, 0.1, 0.2, 0.35, 0.6, 0.9)
    assert get_perturbation("low-pass").levels == (0, 1, 3, 5, 7, 10, 15, 40)
    assert get_perturbation("high-pass").levels == (math.inf, 3, 1.5, 1, 0.7, 0.55, 0.45, 0.4)
    assert get_perturbation("phase-scrambling").levels == (0, 30, 60, 90, 120, 150, 180)
    assert get_perturbation("rotation").levels == (0, 90, 180, 270)
    assert get_perturbation("high-pass").identity_level == math.inf


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="contrast"):
        get_perturbation("contast")
    with pytest.raises(ValueError, match="unknown perturbation"):
        get_perturbation("zzzz")
    with pytest.raises(TypeError):
        get_perturbation(3)


def test_register_user_perturbation_and_options():
    name = "test-invert"
    try:

        @register_perturbation(name, levels=(0.0, 1.0), identity_level=0.0, description="invert")
        def invert(images, severity, generator=None, *, gain: float = 1.0):
            return images + gain * severity * (1 - 2 * images)

        p = get_perturbation(name)
        assert name in list_perturbations("test-*") and p.description == "invert"
        x = torch.tensor([0.2, 0.9]).view(1, 1, 1, 2)
        assert torch.allclose(p(x, 1.0), 1 - x)
        assert torch.allclose(get_perturbation(name, gain=2.0)(x, 1.0), torch.tensor([1.0, 0.0]).view(1, 1, 1, 2))
        with pytest.raises(TypeError, match="option"):
            get_perturbation(name, nope=1)
        with pytest.raises(ValueError, match="already registered"):
            register_perturbation(name, levels=(0,), identity_level=0)(invert)
        register_perturbation(name, levels=(0, 1), identity_level=0, overwrite=True)(invert)
        assert get_perturbation(name).levels == (0, 1)
    finally:
        _REGISTRY.pop(name, None)


# --------------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("images", "err", "match"),
    [
        (torch.rand(3, 8, 8), ValueError, "B, C, H, W"),
        (torch.rand(1, 2, 8, 8), ValueError, "1 or 3 channels"),
        ((torch.rand(1, 3, 8, 8) * 255).to(torch.uint8), TypeError, "floating"),
        (torch.rand(1, 3, 8, 8) + 0.5, ValueError, r"\[0, 1\]"),
        (torch.rand(1, 3, 8, 8) - 0.5, ValueError, r"\[0, 1\]"),
        (torch.full((1, 3, 8, 8), float("nan")), ValueError, "NaN"),
        (np.zeros((1, 3, 8, 8)), TypeError, "torch.Tensor"),
    ],
)
def test_bad_images(images, err, match):
    with pytest.raises(err, match=match):
        get_perturbation("contrast")(images, 0.5)


def test_range_tolerance_accepted_and_clamped():
    x = torch.rand(1, 3, 8, 8)
    x[0, 0, 0, 0] = 1 + 5e-7
    x[0, 0, 0, 1] = -5e-7
    y = get_perturbation("brightness")(x, 0.0)
    assert float(y.max()) <= 1.0 and float(y.min()) >= 0.0


@pytest.mark.parametrize(
    ("name", "severity", "err"),
    [
        ("rotation", 45, ValueError),
        ("grayscale", 0.5, ValueError),
        ("false-colour", 2, ValueError),
        ("power-equalisation", 0.5, ValueError),
        ("contrast", 1.5, ValueError),
        ("contrast", -0.1, ValueError),
        ("contrast", "high", TypeError),
        ("contrast", float("nan"), ValueError),
        ("uniform-noise", -0.1, ValueError),
        ("low-pass", -1.0, ValueError),
        ("high-pass", 0.0, ValueError),
        ("phase-scrambling", 200.0, ValueError),
        ("jpeg", 0, ValueError),
        ("jpeg", 50.5, ValueError),
        ("brightness", 2.0, ValueError),
        ("gaussian-noise", -0.1, ValueError),
    ],
)
def test_bad_severity(name, severity, err):
    with pytest.raises(err, match=name.split("-")[0]):
        get_perturbation(name)(torch.rand(1, 3, 8, 8), severity)


def test_bad_generator_and_spectrum():
    with pytest.raises(TypeError, match="generator"):
        get_perturbation("gaussian-noise")(torch.rand(1, 3, 8, 8), 0.1, generator=0)
    with pytest.raises(ValueError, match="amplitude_spectrum"):
        get_perturbation("power-equalisation", amplitude_spectrum=torch.ones(4, 4))(torch.rand(1, 1, 8, 8), 1)


# ---------------------------------------------------------------------------------------- generic properties


@pytest.mark.parametrize("name", ALL)
def test_identity_level_returns_input(name):
    opts = {"contrast_level": 1.0} if name == "uniform-noise" else {}
    p = get_perturbation(name, **opts)
    grey1 = natural_images(2, 1, 16, 16)
    grey3 = grey1.expand(-1, 3, -1, -1).clone()
    for x in (grey1, grey3):
        torch.testing.assert_close(p(x, p.identity_level, generator=gen()), x, atol=1e-6, rtol=0)
    colour = natural_images(2, 3, 16, 16, seed=1)
    if name in GREY_FAMILIES:
        p = get_perturbation(name, grayscale=False, **opts)
    torch.testing.assert_close(p(colour, p.identity_level, generator=gen()), colour, atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", GREY_FAMILIES)
def test_grey_families_identity_is_luminance(name):
    x = natural_images(2, 3, 16, 16)
    p = get_perturbation(name, **({"contrast_level": 1.0} if name == "uniform-noise" else {}))
    y = p(x, p.identity_level).double().numpy()
    for ch in range(3):
        np.testing.assert_allclose(y[:, ch], gray_np(x), atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_shape_dtype_range_no_inplace_and_batch_chunking(name):
    p = get_perturbation(name)
    x = natural_images(5, 3, 16, 16, std=0.3)
    x_before = x.clone()
    for level in p.levels:
        full = p(x, level, generator=gen(7))
        g = gen(7)
        chunked = torch.cat([p(x[:2], level, generator=g), p(x[2:3], level, generator=g), p(x[3:], level, generator=g)])
        torch.testing.assert_close(chunked, full, atol=1e-6, rtol=0)
        assert full.dtype == x.dtype and full.shape == x.shape
        assert float(full.min()) >= 0.0 and float(full.max()) <= 1.0
    torch.testing.assert_close(x, x_before, atol=0, rtol=0)
    assert p(x[:0], p.levels[-1], generator=gen()).shape == (0, 3, 16, 16)


@pytest.mark.parametrize("name", ALL)
def test_float64_matches_float32(name):
    p = get_perturbation(name)
    x = natural_images(2, 3, 16, 16)
    level = p.levels[min(2, len(p.levels) - 1)]
    y32 = p(x, level, generator=gen(3))
    y64 = p(x.double(), level, generator=gen(3))
    assert y64.dtype == torch.float64
    atol = 2 / 255 if name == "jpeg" else 1e-4  # jpeg: float32/64 may round to different uint8 codes
    torch.testing.assert_close(y64.float(), y32, atol=atol, rtol=0)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_seeded_determinism(name):
    p = get_perturbation(name)
    x = natural_images(3, 3, 16, 16)
    level = p.levels[3]
    torch.testing.assert_close(p(x, level, generator=gen(1)), p(x, level, generator=gen(1)), atol=0, rtol=0)
    assert not torch.equal(p(x, level, generator=gen(1)), p(x, level, generator=gen(2)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
@pytest.mark.parametrize("name", ALL)
def test_cuda_matches_cpu(name):
    p = get_perturbation(name)
    x = natural_images(3, 3, 32, 32, std=0.25)
    for level in p.levels:
        cpu = p(x, level, generator=gen(5))
        cuda = p(x.cuda(), level, generator=gen(5))  # CPU generator -> identical noise on both devices
        assert cuda.device.type == "cuda"
        torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=0)
        if name in STOCHASTIC:  # the device's own generator is deterministic too
            g1 = torch.Generator(device="cuda").manual_seed(0)
            g2 = torch.Generator(device="cuda").manual_seed(0)
            torch.testing.assert_close(p(x.cuda(), level, generator=g1), p(x.cuda(), level, generator=g2))


# ----------------------------------------------------------------------------------------- family references


def test_contrast_formula_and_std():
    x = natural_images(3, 3, 16, 16)
    y_gray = gray_np(x)
    stds = []
    for c in get_perturbation("contrast").levels:
        y = get_perturbation("contrast")(x, c).double().numpy()
        np.testing.assert_allclose(y[:, 1], (1 - c) / 2 + c * y_gray, atol=1e-6)
        np.testing.assert_allclose(y.std(axis=(-2, -1))[:, 0], c * y_gray.std(axis=(-2, -1)), atol=1e-6)
        stds.append(y.std())
    assert all(a > b for a, b in itertools.pairwise(stds))


def test_grayscale_matches_rgb2gray_weights():
    x = natural_images(2, 3, 8, 8, std=0.3)
    y = get_perturbation("grayscale")(x, 1).double().numpy()
    for ch in range(3):
        np.testing.assert_allclose(y[:, ch], gray_np(x), atol=1e-6)
    assert torch.equal(get_perturbation("grayscale")(x[:, :1], 1), x[:, :1])


@pytest.mark.parametrize("sigma", [1.0, 3.0, 40.0])
def test_low_pass_matches_scipy(sigma):
    x = natural_images(2, 3, 24, 20)
    y = get_perturbation("low-pass")(x, sigma).double().numpy()[:, 0]
    ref = np.stack([ndimage.gaussian_filter(g, sigma, mode="constant", cval=0.4423) for g in gray_np(x)])
    np.testing.assert_allclose(y, np.clip(ref, 0, 1), atol=1e-5)


def test_low_pass_lowers_high_frequency_power():
    x = natural_images(4, 3, 48, 48, std=0.2)
    powers = [band_power(gray_np(get_perturbation("low-pass")(x, s)), 0.15, 0.75) for s in (0, 1, 3, 5, 7, 10, 15, 40)]
    assert all(a > b for a, b in itertools.pairwise(powers)), powers


def test_high_pass_matches_scipy_reference():
    x = natural_images(2, 3, 24, 24)
    for sigma in (3.0, 0.7):
        y = get_perturbation("high-pass")(x, sigma).double().numpy()[:, 2]
        for img, out in zip(gray_np(x), y):
            h = img - ndimage.gaussian_filter(img, sigma, mode="constant", cval=0.4423)
            np.testing.assert_allclose(out, np.clip(h + 0.4423 - h.mean(), 0, 1), atol=1e-5)


def test_high_pass_lowers_low_frequency_power():
    x = natural_images(4, 1, 48, 48, std=0.15)
    p = get_perturbation("high-pass")
    powers = [band_power(gray_np(p(x, s)), 0.0, 0.08) for s in p.levels]  # DC excluded (lo = 0 is exclusive)
    assert all(a > b for a, b in itertools.pairwise(powers)), powers


def test_gaussian_blur_matches_scipy_nearest():
    x = natural_images(2, 3, 20, 24, std=0.2)
    for sigma in (1.0, 6.0):
        y = get_perturbation("gaussian-blur")(x, sigma).double().numpy()
        ref = np.stack(
            [[ndimage.gaussian_filter(ch, sigma, mode="nearest") for ch in img] for img in x.double().numpy()]
        )
        np.testing.assert_allclose(y, ref, atol=1e-5)


def test_phase_scrambling_keeps_amplitude_and_decorrelates():
    # low-contrast white-spectrum images: no clipping, and E[corr] = sin(w)/w (w in radians) in closed form
    x = (0.5 + 0.04 * torch.randn(8, 1, 64, 64, generator=gen(0))).clamp(0, 1)
    p = get_perturbation("phase-scrambling")
    amp = np.abs(np.fft.fft2(gray_np(x)))
    corrs = []
    for w in p.levels:
        y = gray_np(p(x, w, generator=gen(1)))
        assert y.min() > 0 and y.max() < 1  # no clipping in this regime
        np.testing.assert_allclose(np.abs(np.fft.fft2(y)), amp, atol=2e-3)
        np.testing.assert_allclose(y.mean(axis=(-2, -1)), gray_np(x).mean(axis=(-2, -1)), atol=1e-6)
        xc = gray_np(x) - gray_np(x).mean(axis=(-2, -1), keepdims=True)
        yc = y - y.mean(axis=(-2, -1), keepdims=True)
        corr = float(
            ((xc * yc).sum(axis=(-2, -1)) / np.sqrt((xc**2).sum(axis=(-2, -1)) * (yc**2).sum(axis=(-2, -1)))).mean()
        )
        expected = 1.0 if w == 0 else math.sin(math.radians(w)) / math.radians(w)
        assert abs(corr - expected) < 0.02, (w, corr, expected)
        corrs.append(corr)
    assert all(a > b for a, b in itertools.pairwise(corrs))


def test_power_equalisation_equalises_spectra():
    x = natural_images(3, 3, 32, 32, std=0.2)
    y = get_perturbation("power-equalisation", rms_contrast=0.05)(x, 1)
    g = gray_np(y)
    assert 0 < g.min() and g.max() < 1  # no clipping at this RMS contrast
    amp = np.abs(np.fft.fft2(g))
    np.testing.assert_allclose(amp, np.broadcast_to(amp[0], amp.shape), atol=1e-3)
    # closed form of the default target: mean 0.4423, pixel std = rms_contrast, amplitude ∝ 1/|f|
    np.testing.assert_allclose(g.mean(axis=(-2, -1)), 0.4423, atol=1e-5)
    np.testing.assert_allclose(g.std(axis=(-2, -1)), 0.05, atol=1e-5)
    r = np.sqrt(np.fft.fftfreq(32)[:, None] ** 2 + np.fft.fftfreq(32)[None, :] ** 2)
    ratio = amp[0][r > 0] * r[r > 0]
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-3)
    # phases are kept where the original has non-negligible amplitude
    f_in = np.fft.fft2(gray_np(x))
    keep = np.abs(f_in) > 1e-3
    dphase = np.angle(np.fft.fft2(g) * np.conj(f_in))
    assert np.abs(dphase[keep]).max() < 1e-3


def test_power_equalisation_to_a_data_set_mean_spectrum():
    from rdmetrics.perturbations.frequency import mean_amplitude_spectrum

    x = natural_images(4, 3, 16, 16, std=0.05)
    target = mean_amplitude_spectrum(x)
    np.testing.assert_allclose(target.numpy(), np.abs(np.fft.fft2(gray_np(x))).mean(axis=0), rtol=1e-4, atol=1e-4)
    y = gray_np(get_perturbation("power-equalisation", amplitude_spectrum=target)(x, 1))
    assert 0 < y.min() and y.max() < 1
    np.testing.assert_allclose(np.abs(np.fft.fft2(y)), np.broadcast_to(target.double().numpy(), y.shape), atol=1e-3)


def test_rotation_matches_numpy_and_four_quarter_turns_are_identity():
    p = get_perturbation("rotation")
    x = natural_images(2, 3, 12, 12)
    for deg in (90, 180, 270):
        ref = np.rot90(gray_np(x), deg // 90, axes=(-2, -1))
        np.testing.assert_allclose(p(x, deg).double().numpy()[:, 0], ref, atol=1e-6)
    y = x[:, :1]
    for _ in range(4):
        y = p(y, 90)
    torch.testing.assert_close(y, x[:, :1], atol=0, rtol=0)
    colour = get_perturbation("rotation", grayscale=False)
    torch.testing.assert_close(colour(colour(x, 90), 270), x, atol=0, rtol=0)
    assert p(torch.rand(1, 1, 4, 6), 90).shape == (1, 1, 6, 4)


def _dkl(lin: np.ndarray) -> np.ndarray:
    """DKL coordinates per pixel of linear RGB [..., 3] (the paper's two matrices, white point linear 0.5)."""
    m = np.array([[0.1619982647, 0.208049264, 0.0389347448], [0.0330275785, 0.2496504557, 0.0618343518],
                  [0.0015524055, 0.0198861001, 0.1890224274]])  # fmt: skip
    n = np.array([[9.27590805, 9.27590805, 0], [7.86421647, -9.33587662, 0], [-3.39709047, -3.39709047, 12.16230246]])
    cones = lin @ m.T
    return (cones - m @ np.full(3, 0.5)) @ n.T


def test_false_colour_negates_chromatic_axes_and_is_an_involution():
    x = natural_images(2, 3, 8, 8, mean=0.7, std=0.03)  # near the white point: no gamut clipping
    p = get_perturbation("false-colour")
    y = p(x, 1)
    dkl_x = _dkl(np.moveaxis(x.double().numpy() ** 2.2, 1, -1))
    dkl_y = _dkl(np.moveaxis(y.double().numpy() ** 2.2, 1, -1))
    np.testing.assert_allclose(dkl_y[..., 0], dkl_x[..., 0], atol=1e-4)
    np.testing.assert_allclose(dkl_y[..., 1:], -dkl_x[..., 1:], atol=1e-4)
    torch.testing.assert_close(p(y, 1), x, atol=1e-5, rtol=0)
    assert float((y - x).abs().max()) > 0.01  # it does change the colours
    assert torch.equal(p(x[:, :1], 1), x[:, :1])


def test_brightness_matches_colorsys_hsv():
    x = natural_images(1, 3, 6, 6, std=0.3)
    x[0, :, 0, 0] = 0.0  # black pixel: hue undefined, becomes grey
    for b in (0.1, 0.5, -0.3):
        y = get_perturbation("brightness")(x, b).double().numpy()[0]
        for i in range(6):
            for j in range(6):
                h, s, v = colorsys.rgb_to_hsv(*x[0, :, i, j].double().tolist())
                ref = colorsys.hsv_to_rgb(h, s, min(max(v + b, 0.0), 1.0))
                np.testing.assert_allclose(y[:, i, j], ref, atol=1e-6)
    means = [float(get_perturbation("brightness")(x, b).mean()) for b in get_perturbation("brightness").levels]
    assert all(a < b for a, b in itertools.pairwise(means))


def test_gaussian_noise_statistics_and_monotone_error():
    x = torch.full((4, 3, 32, 32), 0.5)
    d = (get_perturbation("gaussian-noise")(x, 0.08, generator=gen()) - x).double()
    assert abs(float(d.mean())) < 0.003 and abs(float(d.std()) - 0.08) < 0.003  # n = 12288: SE ≈ 0.0007, 0.0005
    p = get_perturbation("gaussian-noise")
    xs = natural_images(4, 3, 32, 32)
    errs = [float((p(xs, s, generator=gen()) - xs).abs().mean()) for s in p.levels]
    assert errs[0] == 0 and all(a < b for a, b in itertools.pairwise(errs))


def test_uniform_noise_definition_and_monotone_error():
    x = natural_images(4, 3, 32, 32, std=0.1)
    p = get_perturbation("uniform-noise")
    base = 0.35 + 0.3 * gray_np(x)  # (1 - 0.3)/2 + 0.3·Y
    np.testing.assert_allclose(p(x, 0.0).double().numpy()[:, 0], base, atol=1e-6)
    d = p(x, 0.1, generator=gen()).double().numpy()[:, 0] - base
    assert np.abs(d).max() <= 0.1 + 1e-6
    assert abs(d.var() - 0.1**2 / 3) < 0.1**2 / 3 * 0.05  # U(-w, w) variance w²/3 (no clipping here)
    y = p(x, 0.1, generator=gen()).double().numpy()
    np.testing.assert_allclose(y[:, 0], y[:, 2])  # one noise value per pixel, shared by the grey channels
    errs = [float(np.abs(p(x, w, generator=gen()).double().numpy()[:, 0] - base).mean()) for w in p.levels]
    assert all(a < b for a, b in itertools.pairwise(errs))


def test_jpeg_error_grows_as_quality_drops():
    p = get_perturbation("jpeg")
    x = natural_images(2, 3, 32, 32, std=0.2)
    errs = [float((p(x, q) - x).pow(2).mean()) for q in p.levels]
    assert errs[0] == 0 and all(a < b for a, b in itertools.pairwise(errs)), errs
    grey = x[:, :1]  # no chroma subsampling loss: quality 99 is then almost lossless
    assert float((p(grey, 99) - grey).abs().mean()) < 2 / 255
    g = p(x[:, :1], 10)
    assert g.shape == (2, 1, 32, 32) and float((g - x[:, :1]).abs().mean()) > 0


def test_numpy_and_tensor_severities_and_perturbation_objects():
    x = natural_images(1, 3, 8, 8)
    torch.testing.assert_close(get_perturbation("jpeg")(x, np.int64(50)), get_perturbation("jpeg")(x, 50))
    torch.testing.assert_close(get_perturbation("low-pass")(x, torch.tensor(3.0)), get_perturbation("low-pass")(x, 3))
    torch.testing.assert_close(get_perturbation("rotation")(x, np.int64(90)), get_perturbation("rotation")(x, 90))
    p = get_perturbation("contrast", grayscale=False)
    assert get_perturbation(p) is p and p.options == {"grayscale": False}
    assert "grayscale" in repr(p)


# ---------------------------------------------- keyed noise (per-image seeds: Philox-derived generator seeds)

M32 = 0xFFFFFFFF


def philox_reference(ctr, key, rounds=10):
    """Philox4x32-R written from the published algorithm (Salmon et al. 2011) with Python integers."""
    ctr, (k0, k1) = list(ctr), key
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
        p0, p1 = 0xD2511F53 * ctr[0], 0xCD9E8D57 * ctr[2]
        ctr = [(p1 >> 32) ^ ctr[1] ^ k0, p1 & M32, (p0 >> 32) ^ ctr[3] ^ k1, p0 & M32]
    return ctr


# Random123's known-answer vectors (kat_vectors): counter[4], key[2] -> output[4]
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32, M32, M32, M32), (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("ctr, key, expected", PHILOX_KAT)
def test_philox_known_answers(ctr, key, expected):
    from rdmetrics.perturbations._random import philox4x32

    assert tuple(philox_reference(ctr, key)) == expected
    assert tuple(int(w) for w in philox4x32(ctr, key)) == expected


def test_keyed_words_match_pure_python_reference():
    from rdmetrics.perturbations._random import keyed_words

    keys = torch.tensor([0, 1, -1, 2**63 - 1, -(2**63), 123456789012345])
    words = keyed_words(keys, 11, draw=3)
    for b, key in enumerate(keys.tolist()):
        u = key & (2**64 - 1)
        ref = [philox_reference((j // 4, 3, 0, 0), (u & M32, u >> 32))[j % 4] for j in range(11)]
        assert words[b].tolist() == ref


def test_keyed_uniforms_and_normals_pass_scipy_tests():
    """Fixed keys, so the p-values are fixed numbers: uniformity and normality (KS), no correlation between
    neighbouring values or between samples with neighbouring keys, uniform pairs (chi-square on a 16x16 grid)."""
    from scipy import stats

    from rdmetrics.perturbations._random import keyed_rand

    keys = torch.arange(64) * 7919
    u = keyed_rand(keys, (4096,)).double().numpy()
    z = keyed_rand(keys, (4095,), normal=True).double().numpy()
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-3
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    n = u.size
    for a, b in ((u[:, :-1], u[:, 1:]), (u[:-1], u[1:]), (z[:, :-1], z[:, 1:]), (z[:-1], z[1:])):
        assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / math.sqrt(n)
    pairs = u.reshape(-1, 2)
    counts = np.histogram2d(pairs[:, 0], pairs[:, 1], bins=16, range=[[0, 1], [0, 1]])[0].ravel()
    assert stats.chisquare(counts).pvalue > 1e-3
    # the draw index gives fresh noise for a second draw with the same keys
    assert not np.isclose(keyed_rand(keys[:2], (8,), draw=1).numpy(), u[:2, :8]).any()


@pytest.mark.parametrize("name", STOCHASTIC)
def test_seeds_make_noise_independent_of_batch_composition(name):
    p = get_perturbation(name)
    x = natural_images(6, 3, 16, 16)
    seeds = torch.tensor([11, 12, 13, 14, 15, 16])
    level = p.levels[3]
    full = p(x, level, seeds=seeds)
    perm = torch.tensor([4, 2, 0, 5, 1, 3])
    torch.testing.assert_close(p(x[perm], level, seeds=seeds[perm]), full[perm], atol=0, rtol=0)
    torch.testing.assert_close(p(x[3:4], level, seeds=seeds[3:4]), full[3:4], atol=0, rtol=0)
    torch.testing.assert_close(p(x.double(), level, seeds=seeds).float(), full, atol=1e-5, rtol=0)
    assert not torch.equal(p(x, level, seeds=seeds + 100), full)
    assert p(x[:0], level, seeds=seeds[:0]).shape == (0, 3, 16, 16)


def test_seeds_for_deterministic_families_and_bad_seeds():
    x = natural_images(2, 3, 8, 8)
    contrast = get_perturbation("contrast")
    torch.testing.assert_close(contrast(x, 0.3, seeds=[1, 2]), contrast(x, 0.3))
    noise = get_perturbation("uniform-noise")
    with pytest.raises(ValueError, match="not both"):
        noise(x, 0.2, generator=gen(), seeds=[1, 2])
    with pytest.raises(ValueError, match=r"shape \[B\] = \[2\]"):
        noise(x, 0.2, seeds=[1, 2, 3])
    with pytest.raises(TypeError, match="integers"):
        noise(x, 0.2, seeds=torch.tensor([1.0, 2.0]))


def test_keyed_uniform_noise_follows_its_definition():
    """uniform-noise with seeds: y - base is U(-w, w) (KS against scipy's uniform on [-w, w])."""
    from scipy import stats

    p = get_perturbation("uniform-noise")
    x = torch.full((8, 1, 32, 32), 0.5)
    w = 0.2
    d = (p(x, w, seeds=torch.arange(8)).double() - 0.5).numpy().ravel()  # base = 0.5 at any contrast
    assert np.abs(d).max() <= w + 1e-6
    assert stats.kstest(d, "uniform", args=(-w, 2 * w)).pvalue > 1e-3


def test_keyed_rand_follows_its_definition():
    """Image b's noise is a CPU torch.Generator seeded with w0 + 2**32 * w1 of Philox4x32-10((0, draw, 0, 0), key),
    the Philox words from the pure-Python reference above; uniforms and normals, second draw index."""
    from rdmetrics.perturbations._random import keyed_rand

    keys = torch.tensor([0, 5, -1, 2**63 - 1, -(2**63), 987654321987])
    for draw, normal in ((0, False), (0, True), (2, False), (3, True)):
        got = keyed_rand(keys, (2, 5, 7), normal=normal, draw=draw)
        assert got.dtype == torch.float32 and got.shape == (6, 2, 5, 7)
        for b, key in enumerate(keys.tolist()):
            u = key & (2**64 - 1)
            w = philox_reference((0, draw, 0, 0), (u & M32, u >> 32))
            g = torch.Generator().manual_seed(w[0] | (w[1] << 32))
            ref = torch.randn(2, 5, 7, generator=g) if normal else torch.rand(2, 5, 7, generator=g)
            torch.testing.assert_close(got[b], ref, atol=0, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_keyed_noise_on_cuda():
    """Keyed noise is drawn on the images' device (CUDA's own generator, so not CPU's numbers) and keeps its
    contract there: a function of the image's key only (batch order and size), uniform / normal (KS tests)."""
    from scipy import stats

    from rdmetrics.perturbations._random import keyed_rand

    keys = torch.arange(40) * 104729 - 7
    for normal, dist in ((False, "uniform"), (True, "norm")):
        full = keyed_rand(keys.cuda(), (3, 33, 33), normal=normal)
        assert full.device.type == "cuda"
        perm = torch.randperm(40, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(keyed_rand(keys[perm].cuda(), (3, 33, 33), normal=normal), full[perm.cuda()])
        torch.testing.assert_close(keyed_rand(keys[7:9].cuda(), (3, 33, 33), normal=normal), full[7:9])
        assert stats.kstest(full.double().cpu().numpy().ravel(), dist).pvalue > 1e-3
        assert not torch.equal(full.cpu(), keyed_rand(keys, (3, 33, 33), normal=normal))
    x = natural_images(5, 3, 32, 32).cuda()
    seeds = torch.arange(5).cuda() - 2
    for name in STOCHASTIC:
        p = get_perturbation(name)
        y = p(x, p.levels[3], seeds=seeds)
        assert y.device.type == "cuda"
        torch.testing.assert_close(p(x[2:4], p.levels[3], seeds=seeds[2:4]), y[2:4], atol=0, rtol=0)


def test_custom_family_without_per_sample_rand_gets_a_clear_error_with_seeds():
    @register_perturbation("raw-noise-example", levels=(0.0, 0.1), identity_level=0.0, overwrite=True)
    def raw_noise(images, severity, generator=None):
        return images + severity * torch.rand(images.shape, generator=generator)

    @register_perturbation("keyed-noise-example", levels=(0.0, 0.1), identity_level=0.0, overwrite=True)
    def keyed_noise(images, severity, generator=None):
        from rdmetrics.perturbations import per_sample_rand

        return images + severity * per_sample_rand(images.shape[0], tuple(images.shape[1:]), generator, images)

    try:
        x = torch.full((2, 1, 4, 4), 0.5)
        with pytest.raises(TypeError, match="per_sample_rand"):
            get_perturbation("raw-noise-example")(x, 0.1, seeds=[1, 2])
        y = get_perturbation("keyed-noise-example")(x, 0.1, seeds=[1, 2])
        torch.testing.assert_close(get_perturbation("keyed-noise-example")(x[1:], 0.1, seeds=[2]), y[1:])
    finally:
        _REGISTRY.pop("raw-noise-example", None)
        _REGISTRY.pop("keyed-noise-example", None)
