"""Random draws of the stochastic families: from a ``torch.Generator`` or from per-sample keys (counter-based).

Two sources of noise, chosen by what the family receives as ``generator``:

* a ``torch.Generator`` (or ``None``): each sample's noise is drawn with its own call, in batch order, so the noise
  of the k-th image depends only on the generator's state and k (cutting a batch into chunks perturbed one after
  another with the same generator gives exactly the noise of the whole batch);
* :class:`SampleSeeds` (what ``perturbation(images, severity, seeds=...)`` passes): sample ``b`` gets the noise of
  its own ``torch.Generator`` on the images' device, seeded with a 64-bit seed derived from its key ``seeds[b]``
  and the draw index by the counter-based generator Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
  as 1, 2, 3", SC 2011; the generator behind cuRAND): ``seed = w₀ + 2³²·w₁`` with ``(w₀, w₁)`` the first two words
  of ``Philox4x32-10(counter=(0, draw, 0, 0), key=seeds[b])`` (:func:`image_seeds`). The noise of a sample is a
  pure function of its key, the draw index and its shape, independent of which other samples share the batch, of
  the batch size, the batch order and the process. This is what makes perturbation sweeps identical for any world
  size and batch size (see :func:`rdmetrics.sweep.sweep_seeds`).

Keyed noise is device-native, so the same key gives different noise on CPU (Mersenne Twister) and on CUDA
(Philox); within one device type and torch version it is reproducible bit for bit. The CPU generator uses the low
32 bits of a seed only (``at::mt19937``), so among ``n`` keys two images share a noise field with probability about
``n²/2³³`` (one pair or so in a 100 000-image sweep condition; harmless for accuracy estimates); CUDA uses all 64.
Documented choice, by measurement: a Python loop of per-image generators costs about what one ``torch.rand`` call
costs, while the earlier fully vectorised Philox stream (int64 tensor ops) cost 10-20x more on the CPU.
Draws are float32 (``Tensor.uniform_`` in ``[0, 1)``, ``Tensor.normal_``), then cast to the images' dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

_MASK32 = 0xFFFFFFFF
# Philox4x32 multipliers and Weyl key increments (Random123)
_PHILOX_M0, _PHILOX_M1 = 0xD2511F53, 0xCD9E8D57
_PHILOX_W0, _PHILOX_W1 = 0x9E3779B9, 0xBB67AE85
# Philox blocks per vectorised step: cache-sized on the CPU, large on accelerators (few kernel launches)
_CPU_CHUNK = 1 << 14
_DEVICE_CHUNK = 1 << 22


def philox4x32(counter: Sequence[Tensor | int], key: Sequence[Tensor | int], rounds: int = 10) -> list[Tensor]:
    """Philox4x32-``rounds`` (Random123): four 32-bit output words from a 4-word counter and a 2-word key.

    Words are held in ``int64`` tensors with values in ``[0, 2³²)``; counter and key words broadcast against each
    other. The 32x32 -> 64-bit products are split into 16-bit halves so that no intermediate value leaves the signed
    64-bit range (exact on every backend, no reliance on integer overflow).

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations._random import philox4x32
        >>> [f"{int(w):08x}" for w in philox4x32([0, 0, 0, 0], [0, 0])]  # Random123 known-answer vector
        ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']
    """
    c0, c1, c2, c3 = (torch.as_tensor(c, dtype=torch.int64) for c in counter)
    k0, k1 = (torch.as_tensor(k, dtype=torch.int64) for k in key)
    for r in range(rounds):
        if r:
            k0 = (k0 + _PHILOX_W0) & _MASK32
            k1 = (k1 + _PHILOX_W1) & _MASK32
        hi0, lo0 = _mulhilo32(c0, _PHILOX_M0)
        hi1, lo1 = _mulhilo32(c2, _PHILOX_M1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return [c0, c1, c2, c3]


def _mulhilo32(a: Tensor, m: int) -> tuple[Tensor, Tensor]:
    """High and low 32-bit words of ``a · m`` for ``a, m < 2³²``, with every intermediate below 2⁴⁹."""
    a_lo = a & 0xFFFF
    a_hi = a >> 16
    p_lo = a_lo * m
    p_hi = a_hi * m
    lo = (p_lo + ((p_hi & 0xFFFF) << 16)) & _MASK32
    hi = (p_hi + (p_lo >> 16)) >> 16
    return hi, lo


class SampleSeeds:
    """Per-sample 64-bit keys handed to a family as its ``generator`` (built by ``Perturbation.__call__(seeds=...)``).

    ``keys`` is an ``int64`` tensor ``[B]`` (the 64 bits of each key, two's complement). Each call of
    :func:`per_sample_rand` uses the next draw index, so a family drawing twice gets independent noise.
    """

    def __init__(self, keys: Tensor) -> None:
        self.keys = keys
        self.draws = 0

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def __repr__(self) -> str:
        return f"SampleSeeds(batch={len(self)}, draws={self.draws})"


def _as_seed_tensor(seeds: object, batch: int) -> Tensor:
    """Validate per-sample seeds: integers ``[B]`` (a tensor, array or sequence); returns ``int64`` on its device."""
    if isinstance(seeds, Tensor):
        t = seeds
    else:
        try:
            t = torch.as_tensor(seeds)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"`seeds` must be integers, one per image, got {type(seeds).__name__}: {err}") from err
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"`seeds` must hold integers (one key per image), got dtype {t.dtype}")
    if t.ndim != 1 or t.shape[0] != batch:
        raise ValueError(f"`seeds` must have shape [B] = [{batch}] (one key per image), got {tuple(t.shape)}")
    return t.to(torch.int64)


def _key_words(keys: Tensor) -> tuple[Tensor, Tensor]:
    return keys & _MASK32, (keys >> 32) & _MASK32


def keyed_words(keys: Tensor, num_words: int, draw: int = 0) -> Tensor:
    """``[B, num_words]`` 32-bit words (as ``int64``): word ``j`` of sample ``b`` is word ``j % 4`` of
    ``Philox4x32-10(counter=(j // 4, draw, 0, 0), key=keys[b])``. Depends on nothing but ``keys[b]``, ``j``, ``draw``.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations._random import keyed_words
        >>> a = keyed_words(torch.tensor([7, 8]), 6)
        >>> bool(torch.equal(a[1], keyed_words(torch.tensor([8]), 6)[0]))  # independent of the other samples
        True
    """
    batch = int(keys.shape[0])
    device = keys.device
    nblocks = -(-num_words // 4)
    out = torch.empty((batch, nblocks * 4), dtype=torch.int64, device=device)
    if batch == 0 or num_words == 0:
        return out[:, :num_words]
    k0, k1 = _key_words(keys.view(-1, 1))
    chunk = _CPU_CHUNK if device.type == "cpu" else _DEVICE_CHUNK
    rows = max(1, chunk // nblocks)
    cols = min(nblocks, chunk)
    zero = torch.zeros((), dtype=torch.int64, device=device)
    draw_word = torch.tensor(draw & _MASK32, dtype=torch.int64, device=device)
    for r0 in range(0, batch, rows):
        r1 = min(batch, r0 + rows)
        for b0 in range(0, nblocks, cols):
            b1 = min(nblocks, b0 + cols)
            block = torch.arange(b0, b1, dtype=torch.int64, device=device).view(1, -1)
            words = philox4x32((block, draw_word, zero, zero), (k0[r0:r1], k1[r0:r1]))
            words = [w.expand(r1 - r0, b1 - b0) for w in words]
            out[r0:r1, 4 * b0 : 4 * b1] = torch.stack(words, dim=-1).reshape(r1 - r0, -1)
    return out[:, :num_words]


def image_seeds(keys: Tensor, draw: int = 0) -> list[int]:
    """The 64-bit generator seed of each key: ``w₀ + 2³²·w₁`` from :func:`keyed_words` (Philox4x32-10).

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations._random import image_seeds
        >>> a = image_seeds(torch.tensor([7, 8]))
        >>> a[1] == image_seeds(torch.tensor([8]))[0], a[0] != image_seeds(torch.tensor([7]), draw=1)[0]
        (True, True)
    """
    words = keyed_words(keys, 2, draw).tolist()
    return [lo | (hi << 32) for lo, hi in words]


def _device_generator(device: torch.device) -> tuple[torch.Generator, torch.device]:
    """A fresh generator on ``device`` (on the CPU where the device has no generator type of its own)."""
    try:
        return torch.Generator(device=device), device
    except RuntimeError:
        return torch.Generator(), torch.device("cpu")


def keyed_rand(keys: Tensor, shape: tuple[int, ...], normal: bool = False, draw: int = 0) -> Tensor:
    """``[B, *shape]`` float32 uniforms in ``[0, 1)`` (or standard normals) on ``keys``' device; sample ``b`` is
    drawn by a generator seeded with ``image_seeds(keys, draw)[b]``, so it depends on ``keys[b]``, ``draw`` and
    ``shape`` only.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations._random import keyed_rand
        >>> u = keyed_rand(torch.arange(3), (2, 2))
        >>> u.shape, bool(((u >= 0) & (u < 1)).all())
        (torch.Size([3, 2, 2]), True)
        >>> bool(torch.equal(u[2], keyed_rand(torch.tensor([2]), (2, 2))[0]))
        True
    """
    batch = int(keys.shape[0])
    out = torch.empty((batch, *shape), dtype=torch.float32, device=keys.device)
    if batch == 0 or out.numel() == 0:
        return out
    generator, gen_device = _device_generator(keys.device)
    target = out if gen_device == out.device else torch.empty_like(out, device=gen_device)
    for b, seed in enumerate(image_seeds(keys, draw)):
        generator.manual_seed(seed)
        if normal:
            target[b].normal_(generator=generator)
        else:
            target[b].uniform_(generator=generator)
    return target if target is out else target.to(out.device)


def per_sample_rand(
    batch: int,
    shape: tuple[int, ...],
    generator: torch.Generator | SampleSeeds | None,
    like: Tensor,
    normal: bool = False,
) -> Tensor:
    """``[batch, *shape]`` uniform ``[0, 1)`` (or standard normal) values, one draw of ``shape`` per sample.

    The one way a family draws noise; it supports both noise sources of the module docstring:

    * ``generator`` a ``torch.Generator`` or ``None``: one call per sample in batch order on ``generator.device``
      (the images' device when ``None``), moved to ``like``'s device, so a CPU generator gives identical noise for
      CPU and CUDA images;
    * ``generator`` a :class:`SampleSeeds`: the keyed draw of :func:`keyed_rand` on ``like``'s device.

    Draws are float32, then cast to ``like.dtype`` (float32 and float64 images get the same noise).

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations._random import SampleSeeds, per_sample_rand
        >>> like = torch.zeros(3, 4)
        >>> a = per_sample_rand(3, (4,), SampleSeeds(torch.tensor([5, 6, 7])), like)
        >>> b = per_sample_rand(1, (4,), SampleSeeds(torch.tensor([6])), like)
        >>> bool(torch.equal(a[1], b[0]))  # a sample's noise depends on its own key only
        True
    """
    if isinstance(generator, SampleSeeds):
        if len(generator) != batch:
            raise ValueError(f"{len(generator)} per-sample seeds given for a batch of {batch} images")
        keys = generator.keys.to(like.device)
        noise = keyed_rand(keys, shape, normal=normal, draw=generator.draws)
        generator.draws += 1
        return noise.to(like.dtype)
    device = generator.device if generator is not None else like.device
    draw = torch.randn if normal else torch.rand
    if batch == 0:
        return torch.empty((0, *shape), dtype=like.dtype, device=like.device)
    noise = torch.stack([draw(shape, generator=generator, device=device, dtype=torch.float32) for _ in range(batch)])
    return noise.to(device=like.device, dtype=like.dtype)


__all__ = ["SampleSeeds", "image_seeds", "keyed_rand", "keyed_words", "per_sample_rand", "philox4x32"]
