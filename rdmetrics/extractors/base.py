"""Frozen feature extractors: the backbone is held *outside* ``nn.Module`` bookkeeping.

A metric that holds an extractor (``PrecisionRecallEntropy(feature_extractor=...)``, torchmetrics' FID, a
LightningModule attribute) must not save the backbone's weights in its ``state_dict``, hand them to an optimizer,
or have them flagged by DDP as unused parameters. :class:`FeatureExtractor` therefore keeps the wrapped network in a
plain attribute (not in ``_modules``): ``state_dict()``, ``parameters()`` and ``named_modules()`` never see it, while
``.to(device)`` / ``.double()`` / ``.cuda()`` still move it (``_apply`` is forwarded). It is always in eval mode
(``train()`` is a no-op) and all its parameters have ``requires_grad=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rdmetrics.utilities.checks import _check_tensor


class FeatureExtractor(nn.Module):
    """Base class: a frozen, always-eval network mapping a batch of inputs to ``[B, num_features]`` features.

    Subclasses set the backbone with :meth:`_set_backbone` and implement :meth:`forward`.

    Attributes:
        num_features: the true width of the output features (``None`` while unknown: a generic module whose input
            shape was not given learns it at its first forward).
        input_ndim: the number of dimensions the input must have (``4`` for images ``[B, C, H, W]``, ``2`` for
            features ``[B, d]``), or ``None`` when any shape is accepted.
        feature_network: ``"feature"``, the name under which ``PrecisionRecallEntropy`` stores the extractor.
    """

    num_features: int | None
    input_ndim: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.num_features = None
        super().train(False)

    # --- backbone kept outside _modules ---------------------------------------------------------------------------
    def _set_backbone(self, module: nn.Module | None) -> None:
        if module is not None:
            module.eval()
            module.requires_grad_(False)
        self.__dict__["_backbone"] = module

    @property
    def backbone(self) -> nn.Module | None:
        """The wrapped network (frozen, eval); not a registered submodule."""
        return self.__dict__.get("_backbone")

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> nn.Module:
        super()._apply(fn, recurse)
        backbone = self.backbone
        if backbone is not None:
            backbone._apply(fn)
        return self

    def train(self, mode: bool = True) -> FeatureExtractor:
        """Stay in eval mode whatever ``mode`` is (the extractor is frozen)."""
        super().train(False)
        if self.backbone is not None:
            self.backbone.eval()
        return self

    def _check_input(self, x: Tensor) -> None:
        _check_tensor(x, "input")
        if self.input_ndim is not None and x.ndim != self.input_ndim:
            raise ValueError(
                f"{type(self).__name__} expects a {self.input_ndim}-D input, got shape {tuple(x.shape)}"
                + (" (images [B, C, H, W])" if self.input_ndim == 4 else " ([B, d] features)")
            )

    def _check_output(self, y: Any) -> Tensor:
        if not isinstance(y, Tensor):
            raise TypeError(f"the feature network must return a tensor, got {type(y).__name__}")
        if y.ndim != 2:
            y = y.flatten(1) if y.ndim > 2 else y
        if y.ndim != 2:
            raise ValueError(f"the feature network must return [B, d] features, got shape {tuple(y.shape)}")
        if self.num_features is None:
            self.num_features = int(y.shape[1])
        return y


class IdentityExtractor(FeatureExtractor):
    """Precomputed features: checks that the input is ``[B, d]`` floating point and returns it unchanged.

    Args:
        num_features: expected width ``d`` (``None``: taken from the first batch, then enforced).

    Example:
        >>> import torch
        >>> ext = IdentityExtractor()
        >>> ext(torch.ones(3, 4)).shape, ext.num_features
        (torch.Size([3, 4]), 4)
    """

    input_ndim = 2

    def __init__(self, num_features: int | None = None) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        """Return the ``[B, d]`` features unchanged (validated)."""
        self._check_input(x)
        if not x.is_floating_point():
            raise TypeError(f"precomputed features must be floating point, got dtype {x.dtype}")
        if self.num_features is not None and x.shape[1] != self.num_features:
            raise ValueError(f"features have width {x.shape[1]}, expected {self.num_features}")
        return self._check_output(x)


class ModuleExtractor(FeatureExtractor):
    """Wrap any ``nn.Module`` as a frozen extractor (outputs with more than 2 dims are flattened to ``[B, -1]``).

    Args:
        module: the network (frozen and put in eval mode in place).
        input_shape: optional per-sample input shape (e.g. ``(3, 32, 32)``); when given, the true output width is
            probed once with a zero input, otherwise ``num_features`` is set by the first forward.

    Example:
        >>> import torch
        >>> ext = ModuleExtractor(torch.nn.Linear(5, 3), input_shape=(5,))
        >>> ext.num_features, len(list(ext.parameters()))
        (3, 0)
    """

    def __init__(self, module: nn.Module, input_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"`module` must be an nn.Module, got {type(module).__name__}")
        self._set_backbone(module)
        if input_shape is not None:
            self.input_ndim = len(input_shape) + 1
            param = next(module.parameters(), None)
            dtype = param.dtype if param is not None else torch.float32
            device = param.device if param is not None else None
            with torch.no_grad():
                self(torch.zeros(1, *input_shape, dtype=dtype, device=device))

    def forward(self, x: Tensor) -> Tensor:
        """Features ``[B, d]`` of the wrapped module (no gradient)."""
        self._check_input(x)
        with torch.no_grad():
            return self._check_output(self.backbone(x))


def as_extractor(obj: Any = None, **kwargs: Any) -> FeatureExtractor:
    """Turn ``None`` / a registry name / an ``nn.Module`` into a :class:`FeatureExtractor`.

    * ``None`` -> :class:`IdentityExtractor` (inputs are precomputed ``[B, d]`` features);
    * a :class:`FeatureExtractor` -> returned unchanged;
    * a ``str`` -> :func:`rdmetrics.extractors.get_extractor` (``"timm/<model>"`` or a registered name), ``kwargs``
      forwarded;
    * any other ``nn.Module`` -> :class:`ModuleExtractor` (``kwargs`` forwarded, e.g. ``input_shape``).

    Example:
        >>> import torch
        >>> type(as_extractor(None)).__name__, type(as_extractor(torch.nn.Flatten())).__name__
        ('IdentityExtractor', 'ModuleExtractor')
    """
    if obj is None:
        return IdentityExtractor(**kwargs)
    if isinstance(obj, FeatureExtractor):
        return obj
    if isinstance(obj, str):
        from rdmetrics.extractors import get_extractor

        return get_extractor(obj, **kwargs)
    if isinstance(obj, nn.Module):
        return ModuleExtractor(obj, **kwargs)
    raise TypeError(f"cannot use a {type(obj).__name__} as a feature extractor: pass None, a name or an nn.Module")


__all__ = ["FeatureExtractor", "IdentityExtractor", "ModuleExtractor", "as_extractor"]
