"""Image perturbations by name: the parametric families of model-vs-human (Geirhos et al. 2018/2021) and common
corruptions (ImageNet-C), as batched, device-native, seedable tensor functions.

Every family is a :class:`Perturbation` called as ``perturbation(images, severity, generator=None)`` on a float batch
``[B, C, H, W]`` in ``[0, 1]`` (C = 1 or 3) on any device; it returns a new batch clamped to ``[0, 1]`` with the same
dtype and device. ``levels`` holds the published presets in order of increasing severity, ``identity_level`` the
severity that applies no perturbation.

================== ========================================== =================== ============================
name               levels (increasing severity)               identity            source
================== ========================================== =================== ============================
contrast           1.0 .5 .3 .15 .1 .05 .03 .01 (contrast c)  1.0                 Geirhos 2018/2021, grey
uniform-noise      0 .03 .05 .1 .2 .35 .6 .9 (width w)        0.0 (at 30 % c.)    Geirhos 2018/2021, grey
low-pass           0 1 3 5 7 10 15 40 (Gaussian σ, px)        0.0                 Geirhos 2018/2021, grey
high-pass          inf 3 1.5 1 .7 .55 .45 .4 (σ, px)          inf                 Geirhos 2018/2021, grey
phase-scrambling   0 30 60 90 120 150 180 (degrees)           0.0                 Geirhos 2018/2021, grey
power-equalisation 0 1 (discrete)                             0                   Geirhos 2018/2021, grey
rotation           0 90 180 270 (discrete, degrees ccw)       0                   Geirhos 2018/2021, grey
grayscale          0 1 (discrete)                             0                   Geirhos 2018/2021 colour
false-colour       0 1 (discrete)                             0                   Geirhos 2018/2021
gaussian-noise     0 .08 .12 .18 .26 .38 (σ)                  0.0                 ImageNet-C
gaussian-blur      0 1 2 3 4 6 (σ, px)                        0.0                 ImageNet-C
brightness         0 .1 .2 .3 .4 .5 (HSV V shift)             0.0                 ImageNet-C
jpeg               100 25 18 15 10 7 (quality)                100                 ImageNet-C
================== ========================================== =================== ============================

"grey" families convert to luminance first, as in the papers, so their identity level returns the luminance image
(the input itself for grayscale input); pass ``grayscale=False`` to :func:`get_perturbation` to perturb colour
channels instead. Each family's docstring states its exact definition and options.

Determinism: stochastic families (``uniform-noise``, ``gaussian-noise``, ``phase-scrambling``) draw their noise in
one of two ways; the others are deterministic.

* ``perturbation(images, severity, generator=g)`` (``g`` a ``torch.Generator``; the device's default generator if
  ``None``): one draw per image in batch order, so perturbing a batch in chunks, one call after the other with the
  same generator, gives exactly the result of one call on the whole batch, and the same seed gives the same result.
  Draws happen on the generator's device, so a CPU generator gives identical noise for CPU and CUDA images.
* ``perturbation(images, severity, seeds=s)`` (``s`` integers ``[B]``, one key per image): image ``b`` gets the
  noise of its own ``torch.Generator`` on the images' device, seeded from ``s[b]`` through the counter-based
  Philox4x32-10. An image's noise then depends only on its key, never on the other images in the batch, the batch
  size or the process: :func:`rdmetrics.sweep.run_sweep` keys each image by (seed, family, level, global sample
  index), which makes sweeps identical for any world size and batch size. Keyed noise is device-native: the same
  key gives different (equally distributed) noise on CPU and CUDA; see :mod:`rdmetrics.perturbations._random`.

A family registered with :func:`register_perturbation` supports both when it draws with :func:`per_sample_rand`.

Example:
    >>> import torch
    >>> from rdmetrics.perturbations import get_perturbation, list_perturbations
    >>> len(list_perturbations())
    13
    >>> p = get_perturbation("low-pass")
    >>> p.levels[-1], p.identity_level
    (40.0, 0.0)
    >>> x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> p(x, 3.0).shape
    torch.Size([4, 3, 32, 32])
"""

# Importing the family modules registers them (order = registration order).
from rdmetrics.perturbations import compression, frequency, geometric, noise, photometric
from rdmetrics.perturbations._random import per_sample_rand
from rdmetrics.perturbations._registry import Perturbation, get_perturbation, list_perturbations, register_perturbation

__all__ = [
    "Perturbation",
    "compression",
    "frequency",
    "geometric",
    "get_perturbation",
    "list_perturbations",
    "noise",
    "per_sample_rand",
    "photometric",
    "register_perturbation",
]
