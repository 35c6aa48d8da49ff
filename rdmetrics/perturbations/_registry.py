"""The perturbation registry: :class:`Perturbation`, :func:`register_perturbation`, :func:`get_perturbation`,
:func:`list_perturbations`, and the input validation every family shares."""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from rdmetrics.perturbations._random import SampleSeeds, _as_seed_tensor
from rdmetrics.utilities.checks import _check_tensor

#: Tolerance on the [0, 1] input range (values in [-1e-6, 1 + 1e-6] are accepted and clamped).
RANGE_TOLERANCE = 1e-6

_REGISTRY: dict[str, Perturbation] = {}


def _check_images(images: object) -> Tensor:
    """Validate a batch ``[B, C, H, W]`` of floating images in ``[0, 1]`` (C = 1 or 3); clamps in-tolerance values."""
    images = _check_tensor(images, "images")
    if not images.is_floating_point():
        raise TypeError(f"`images` must be a floating tensor with values in [0, 1], got dtype {images.dtype}")
    if images.ndim != 4:
        raise ValueError(f"`images` must have shape [B, C, H, W], got {images.ndim}-D shape {tuple(images.shape)}")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"`images` must have 1 or 3 channels (dim 1), got shape {tuple(images.shape)}")
    if images.numel():
        lo, hi = torch.aminmax(images)
        lo, hi = float(lo), float(hi)
        if math.isnan(lo) or math.isnan(hi) or math.isinf(lo) or math.isinf(hi):
            raise ValueError("`images` contains NaN or inf values")
        if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
            raise ValueError(
                f"`images` must hold values in [0, 1] (tolerance {RANGE_TOLERANCE:g}), got min {lo:.6g} and max"
                f" {hi:.6g}; undo any mean/std normalisation before perturbing"
            )
        if lo < 0.0 or hi > 1.0:
            images = images.clamp(0.0, 1.0)
    return images


def _same_level(a: Any, b: Any) -> bool:
    try:
        return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    except Exception:
        return False


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """A named family of image perturbations with its published preset levels.

    Call it as ``perturbation(images, severity, generator=None)`` on a float batch ``[B, C, H, W]`` in ``[0, 1]``
    (C = 1 or 3) on any device; the result is a new batch of the same dtype and device (same shape except where a
    family documents otherwise), clamped to ``[0, 1]``. Stochastic families draw their noise from ``generator``
    (see :mod:`rdmetrics.perturbations` for the determinism contract).

    Attributes:
        name: registry name, e.g. ``"contrast"``.
        fn: the implementation ``fn(images, severity, generator=None, **options) -> images``.
        levels: the preset severities, ordered by increasing severity (the first is usually ``identity_level``).
        identity_level: the severity at which the family applies no perturbation (see each family's docstring for
            what its base transform, e.g. grayscale conversion, still does at that level).
        description: one-line description (defaults to the first line of ``fn``'s docstring).
        discrete: when ``True`` only the values in ``levels`` are valid severities.
        options: keyword options bound to ``fn`` (see :meth:`with_options`).

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation
        >>> contrast = get_perturbation("contrast")
        >>> contrast.levels[:3], contrast.identity_level
        ((1.0, 0.5, 0.3), 1.0)
        >>> x = torch.full((2, 1, 4, 4), 0.9)
        >>> round(float(contrast(x, 0.5).max()), 4)
        0.7
    """

    name: str
    fn: Callable[..., Tensor]
    levels: tuple
    identity_level: Any
    description: str = ""
    discrete: bool = False
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __call__(
        self,
        images: Tensor,
        severity: Any,
        generator: torch.Generator | None = None,
        *,
        seeds: Tensor | Sequence[int] | None = None,
    ) -> Tensor:
        """Perturb ``images`` at ``severity``; see the family's docstring (``help(perturbation.fn)``).

        Stochastic families draw their noise from ``generator`` (one draw per image in batch order) or, with
        ``seeds`` (integers ``[B]``, one key per image), from a generator seeded per image by its key: then an
        image's noise depends only on its key, whatever else is in the batch (see :mod:`rdmetrics.perturbations`).
        Deterministic families ignore both.
        """
        images = _check_images(images)
        if self.discrete and not any(_same_level(severity, lv) for lv in self.levels):
            raise ValueError(f"perturbation {self.name!r} has discrete levels {self.levels}; got severity {severity!r}")
        if seeds is not None:
            if generator is not None:
                raise ValueError("pass either `generator` or per-image `seeds`, not both")
            generator = SampleSeeds(_as_seed_tensor(seeds, images.shape[0]))  # type: ignore[assignment]
        elif generator is not None and not isinstance(generator, (torch.Generator, SampleSeeds)):
            raise TypeError(f"`generator` must be a torch.Generator or None, got {type(generator).__name__}")
        work_dtype = torch.promote_types(images.dtype, torch.float32)
        try:
            out = self.fn(images.to(work_dtype), severity, generator=generator, **self.options)
        except TypeError as err:
            if isinstance(generator, SampleSeeds) and "generator" in str(err):
                raise TypeError(
                    f"perturbation {self.name!r} does not support per-image `seeds`: it must draw its noise with"
                    f" rdmetrics.perturbations.per_sample_rand(batch, shape, generator, like) ({err})"
                ) from err
            raise
        return out.clamp(0.0, 1.0).to(images.dtype)

    def with_options(self, **options: Any) -> Perturbation:
        """A copy with keyword ``options`` bound to ``fn`` (e.g. ``grayscale=False``); unknown names raise."""
        params = inspect.signature(self.fn).parameters
        accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        allowed = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "generator"]
        unknown = [k for k in options if k not in allowed]
        if unknown and not accepts_any:
            raise TypeError(f"perturbation {self.name!r} has no option(s) {unknown}; its options are {allowed}")
        return dataclasses.replace(self, options={**self.options, **options})

    def __repr__(self) -> str:
        opts = f", options={dict(self.options)}" if self.options else ""
        return f"Perturbation(name={self.name!r}, levels={self.levels}, identity_level={self.identity_level!r}{opts})"


def register_perturbation(
    name: str,
    *,
    levels: Iterable[Any],
    identity_level: Any,
    description: str | None = None,
    discrete: bool = False,
    overwrite: bool = False,
) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """Decorator registering ``fn(images, severity, generator=None, **options) -> images`` under ``name``.

    ``fn`` receives validated images (float ``[B, C, H, W]`` in ``[0, 1]``, at least float32) and must return a
    batch on the same device; the registry clamps the result to ``[0, 1]`` and casts it back to the input dtype.
    A stochastic ``fn`` must draw its noise with :func:`rdmetrics.perturbations.per_sample_rand` (``generator`` may
    be a ``torch.Generator``, ``None`` or the per-image keys built from ``seeds=``), so that both noise sources work.
    Keyword-only parameters of ``fn`` become options settable via ``get_perturbation(name, **options)``.

    Args:
        name: registry name; must be new unless ``overwrite=True``.
        levels: preset severities ordered by increasing severity.
        identity_level: the severity that applies no perturbation.
        description: one line; defaults to the first line of ``fn.__doc__``.
        discrete: only the preset ``levels`` are valid severities.
        overwrite: replace an existing registration of ``name``.

    Returns:
        The decorator; it returns ``fn`` unchanged.

    Example:
        >>> import torch
        >>> from rdmetrics.perturbations import get_perturbation, register_perturbation
        >>> @register_perturbation("invert-example", levels=(0.0, 0.5, 1.0), identity_level=0.0, overwrite=True)
        ... def invert(images, severity, generator=None):
        ...     '''Blend the image with its negative.'''
        ...     return (1 - severity) * images + severity * (1 - images)
        >>> p = get_perturbation("invert-example")
        >>> p.description
        'Blend the image with its negative.'
        >>> round(float(p(torch.zeros(1, 1, 2, 2), 1.0).mean()), 4)
        1.0
        >>> from rdmetrics.perturbations._registry import _REGISTRY
        >>> _ = _REGISTRY.pop("invert-example")  # keep the doctest from leaving it registered
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"perturbation `name` must be a non-empty string, got {name!r}")
    levels = tuple(levels)
    if not levels:
        raise ValueError(f"perturbation {name!r} needs at least one preset level")

    def decorator(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
        if not callable(fn):
            raise TypeError(f"register_perturbation({name!r}) must decorate a callable, got {fn!r}")
        if name in _REGISTRY and not overwrite:
            raise ValueError(f"perturbation {name!r} is already registered; pass overwrite=True to replace it")
        desc = description
        if desc is None:
            doc = inspect.getdoc(fn) or ""
            desc = doc.strip().splitlines()[0] if doc.strip() else ""
        _REGISTRY[name] = Perturbation(
            name=name, fn=fn, levels=levels, identity_level=identity_level, description=desc, discrete=discrete
        )
        return fn

    return decorator


def get_perturbation(name: str, **options: Any) -> Perturbation:
    """The registered :class:`Perturbation` called ``name``, with keyword ``options`` bound (e.g. ``grayscale=False``).

    Raises:
        ValueError: unknown ``name`` (the message lists close matches).
        TypeError: an option the family does not accept.

    Example:
        >>> from rdmetrics.perturbations import get_perturbation
        >>> get_perturbation("rotation").levels
        (0, 90, 180, 270)
        >>> get_perturbation("contrast", grayscale=False).options
        {'grayscale': False}
    """
    if isinstance(name, Perturbation):
        return name.with_options(**options) if options else name
    if not isinstance(name, str):
        raise TypeError(f"perturbation name must be a string, got {type(name).__name__}")
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"unknown perturbation {name!r}{hint} Registered: {', '.join(sorted(_REGISTRY))}")
    pert = _REGISTRY[name]
    return pert.with_options(**options) if options else pert


def list_perturbations(filter: str | Iterable[str] = "*") -> list[str]:
    """Sorted names of the registered perturbations matching the fnmatch pattern(s) ``filter`` (like timm).

    Example:
        >>> from rdmetrics.perturbations import list_perturbations
        >>> list_perturbations("*-noise")
        ['gaussian-noise', 'uniform-noise']
    """
    patterns = [filter] if isinstance(filter, str) else list(filter)
    return sorted(n for n in _REGISTRY if any(fnmatch.fnmatchcase(n, p) for p in patterns))


__all__ = ["Perturbation", "get_perturbation", "list_perturbations", "register_perturbation"]
