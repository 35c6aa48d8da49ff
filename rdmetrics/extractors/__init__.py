"""Feature extractors for generative metrics, and a small registry to build them by name.

* :class:`~rdmetrics.extractors.timm.TimmFeatureExtractor` (also ``from rdmetrics.extractors import
  TimmFeatureExtractor``; needs timm): any timm model, frozen, with its own preprocessing;
* :class:`~rdmetrics.extractors.base.IdentityExtractor`: precomputed features;
* :class:`~rdmetrics.extractors.base.ModuleExtractor`: any ``nn.Module``;
* :func:`as_extractor`: ``None`` / name / module -> extractor.

Every extractor keeps its network outside the module tree (never in a ``state_dict``), frozen and in eval mode.

Registry: ``get_extractor("identity")``, ``get_extractor("timm", name="resnet50")`` or the shorthand
``get_extractor("timm/resnet50", pretrained=True)``; add your own with ``@register_extractor("my_net")`` on a
factory (or class) taking keyword arguments.

``get_extractor("dinov2_vitl14")`` is the feature space of the PCE/RCE/RE paper and of dgm-eval (Stein et al.
2023): DINOv2 ViT-L/14 (timm ``vit_large_patch14_dinov2.lvd142m``), images resized to 224 x 224 (bicubic) and
normalised with the ImageNet mean/std, the 1024-d CLS embedding. ``pretrained=False`` (default) builds it with
random weights; ``pretrained=True`` needs the weights (see :class:`TimmFeatureExtractor` for offline use).

Example:
    >>> from rdmetrics.extractors import get_extractor, list_extractors
    >>> "timm" in list_extractors()
    True
    >>> get_extractor("timm/test_vit").num_features
    64
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from torch import nn

from rdmetrics.extractors.base import FeatureExtractor, IdentityExtractor, ModuleExtractor, as_extractor
from rdmetrics.utilities.lazy import lazy_exports

if TYPE_CHECKING:  # resolved lazily at run time (timm is optional)
    from rdmetrics.extractors.timm import TimmFeatureExtractor

_EXPORTS: dict[str, str] = {"TimmFeatureExtractor": "rdmetrics.extractors.timm"}
if not TYPE_CHECKING:  # hidden from type checkers, so that a name missing above is an error, not Any
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

#: timm name of the DINOv2 ViT-L/14 backbone registered as ``"dinov2_vitl14"``
DINOV2_VITL14 = "vit_large_patch14_dinov2.lvd142m"

F = TypeVar("F", bound=Callable[..., nn.Module])

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_extractor(name: str) -> Callable[[F], F]:
    """Decorator registering a factory (or class) under ``name`` for :func:`get_extractor`.

    Example:
        >>> import torch
        >>> @register_extractor("flatten_demo")
        ... def _flatten(**kw):
        ...     return ModuleExtractor(torch.nn.Flatten(), **kw)
        >>> get_extractor("flatten_demo", input_shape=(2, 3)).num_features
        6
        >>> unregister = _REGISTRY.pop("flatten_demo")
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"extractor name must be a non-empty string without '/', got {name!r}")

    def decorator(factory: F) -> F:
        if name in _REGISTRY:
            raise ValueError(f"an extractor named {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return decorator


def list_extractors() -> list[str]:
    """Sorted names accepted by :func:`get_extractor` (``"timm/<model>"`` works for every timm model too)."""
    return sorted(_REGISTRY)


def get_extractor(name: str, **kwargs: Any) -> FeatureExtractor:
    """Build a registered extractor: ``name`` is a registered name or ``"timm/<timm model name>"``.

    Raises:
        ValueError: the name is unknown.
    """
    if not isinstance(name, str):
        raise TypeError(f"extractor name must be a string, got {type(name).__name__}")
    if name.startswith("timm/"):
        kwargs["name"] = name.split("/", 1)[1]
        name = "timm"
    factory = _REGISTRY.get(name)
    if factory is None:
        raise ValueError(f"unknown extractor {name!r}; registered: {list_extractors()} (or 'timm/<model name>')")
    extractor = factory(**kwargs)
    return as_extractor(extractor)


@register_extractor("timm")
def _timm_factory(name: str, **kwargs: Any) -> FeatureExtractor:
    from rdmetrics.extractors.timm import TimmFeatureExtractor

    return TimmFeatureExtractor(name, **kwargs)


@register_extractor("dinov2_vitl14")
def _dinov2_vitl14_factory(**kwargs: Any) -> FeatureExtractor:
    """DINOv2 ViT-L/14 CLS features at 224 x 224 (the PCE/RCE/RE paper's and dgm-eval's encoder set-up)."""
    from rdmetrics.extractors.timm import TimmFeatureExtractor

    kwargs.setdefault("input_size", 224)
    kwargs.setdefault("img_size", 224)  # timm's default for these weights is 518; positions are resampled on load
    return TimmFeatureExtractor(DINOV2_VITL14, **kwargs)


register_extractor("identity")(IdentityExtractor)
register_extractor("module")(ModuleExtractor)

__all__ = [
    "DINOV2_VITL14",
    "FeatureExtractor",
    "IdentityExtractor",
    "ModuleExtractor",
    "TimmFeatureExtractor",
    "as_extractor",
    "get_extractor",
    "list_extractors",
    "register_extractor",
]
