"""A frozen timm backbone as a feature extractor (needs ``pip install rdmetrics[timm]``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from rdmetrics.extractors.base import FeatureExtractor
from rdmetrics.utilities.imports import _TIMM_AVAILABLE

_LAYERS = ("pre_logits", "features", "logits")


def _offline_advice(name: str, err: BaseException) -> str:
    import os

    offline = os.environ.get("HF_HUB_OFFLINE", "")
    return (
        f"could not load the pretrained weights of timm model {name!r} ({type(err).__name__}: {err}).\n"
        "They come from the Hugging Face hub, which is unreachable here"
        + (f" (HF_HUB_OFFLINE={offline})" if offline else "")
        + ". Either\n"
        f'  * download them once where there is network access: python -c "import timm;'
        f" timm.create_model('{name}', pretrained=True)\" fills the cache (~/.cache/huggingface, or $HF_HOME);"
        " copy it here and run with HF_HUB_OFFLINE=1; or\n"
        f"  * load a local weights file: TimmFeatureExtractor('{name}', pretrained=True,"
        " pretrained_cfg_overlay=dict(file='/path/to/model.safetensors')) (or checkpoint_path=... with"
        " pretrained=False for a checkpoint of this exact architecture)."
    )


class TimmFeatureExtractor(FeatureExtractor):
    r"""Any timm model as a frozen feature extractor with the model's own preprocessing.

    Input: float images in :math:`[0, 1]` (or ``uint8`` in :math:`[0, 255]`), shape ``[B, C, H, W]`` with ``C`` the
    model's input channels. Preprocessing follows ``timm.data.resolve_model_data_config(model)`` and runs in torch
    on the input's device: resize to the model's input size with its interpolation (antialiased when shrinking; the
    whole image is resized, timm's centre-crop ``crop_pct`` is not applied), then
    :math:`(x - \mathrm{mean}) / \mathrm{std}`. Output: ``[B, num_features]``.

    The model is frozen (``requires_grad=False``), always in eval mode, and kept outside the module tree, so it is
    never part of a ``state_dict`` (of this extractor or of a metric / LightningModule holding it), never in
    ``parameters()``, yet follows ``.to(device)``. ``num_features`` is the **true** output width, measured with one
    dummy forward (timm's own ``model.num_features`` is the last-stage width, which differs from the pre-logits width
    for e.g. ``mobilenetv3_small_100``: 576 vs 1024). ``feature_network = "feature"`` lets
    ``torchmetrics.wrappers.FeatureShare`` share it between ``PrecisionRecallEntropy`` and FID.

    Nothing is downloaded unless ``pretrained=True`` (``checkpoint_path`` loads local weights). Without network
    access (or with ``HF_HUB_OFFLINE=1`` and an empty cache) ``pretrained=True`` raises a ``RuntimeError`` that says
    how to get the weights: pre-download them into the Hugging Face cache, or point timm at a local file with
    ``pretrained_cfg_overlay=dict(file="/path/to/weights.safetensors")``.

    Args:
        name: timm model name (``timm.list_models()``), e.g. ``"resnet50"``, ``"vit_base_patch14_dinov2"``.
        pretrained: download the hub weights (needs network).
        checkpoint_path: local weights file passed to ``timm.create_model``.
        layer: ``"pre_logits"`` (pooled pre-logit features, ``num_classes=0``), ``"features"`` (the unpooled
            ``forward_features`` output averaged over space / tokens) or ``"logits"`` (the classifier output).
        input_size: resize target ``(H, W)`` or an int; ``None``: the model's default input size.
        normalize_input: apply the model's mean/std normalisation (``False``: inputs are already normalised; the
            resize still happens).
        timm_kwargs: forwarded to ``timm.create_model`` (e.g. ``img_size``, ``global_pool``).

    Example:
        >>> import torch
        >>> ext = TimmFeatureExtractor("test_resnet")
        >>> ext.num_features, len(ext.state_dict()), ext.training
        (96, 0, False)
        >>> ext(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 96])
    """

    input_ndim = 4
    feature_network = "feature"

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        checkpoint_path: str | None = None,
        layer: str = "pre_logits",
        input_size: int | Sequence[int] | None = None,
        normalize_input: bool = True,
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        if not _TIMM_AVAILABLE:
            raise ModuleNotFoundError("TimmFeatureExtractor needs timm: `pip install rdmetrics[timm]`")
        if layer not in _LAYERS:
            raise ValueError(f"`layer` must be one of {_LAYERS}, got {layer!r}")
        import timm
        from timm.data import resolve_model_data_config

        if layer == "pre_logits":
            timm_kwargs.setdefault("num_classes", 0)
        if checkpoint_path:
            timm_kwargs["checkpoint_path"] = str(checkpoint_path)
        try:
            model = timm.create_model(name, pretrained=pretrained, **timm_kwargs)
        except OSError as err:  # hub / connection / missing-cache errors (all OSError subclasses)
            if not pretrained:
                raise
            raise RuntimeError(_offline_advice(name, err)) from err
        self.name = name
        self.layer = layer
        self.normalize_input = bool(normalize_input)
        cfg = resolve_model_data_config(model)
        self.data_config = dict(cfg)
        self.in_chans = int(cfg["input_size"][0])
        if input_size is None:
            size = tuple(int(s) for s in cfg["input_size"][1:])
        elif isinstance(input_size, int):
            size = (input_size, input_size)
        else:
            size = tuple(int(s) for s in input_size)
            if len(size) == 3:
                size = size[1:]
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"`input_size` must be an int or (H, W), got {input_size!r}")
        self.input_size: tuple[int, int] = size  # type: ignore[assignment]
        self.interpolation = cfg.get("interpolation", "bilinear")
        if self.interpolation not in ("bilinear", "bicubic", "nearest"):
            self.interpolation = "bilinear"
        self.register_buffer("mean", torch.tensor(cfg["mean"], dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg["std"], dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self._set_backbone(model)
        with torch.no_grad():  # the true output width (not timm's `num_features`)
            probe = self(torch.zeros(1, self.in_chans, *self.input_size))
        self.num_features = int(probe.shape[1])

    def preprocess(self, x: Tensor) -> Tensor:
        """Resize to ``input_size`` and normalise with the model's mean/std (``uint8`` is divided by 255 first)."""
        self._check_input(x)
        if x.shape[1] != self.in_chans:
            raise ValueError(f"{self.name} expects {self.in_chans}-channel images [B, C, H, W], got {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        elif not x.is_floating_point():
            raise TypeError(f"images must be float in [0, 1] or uint8, got dtype {x.dtype}")
        param = next(self.backbone.parameters(), None)
        if param is not None and not torch.is_autocast_enabled(x.device.type):
            x = x.to(param.dtype)
        if tuple(x.shape[-2:]) != self.input_size:
            shrink = x.shape[-2] > self.input_size[0] or x.shape[-1] > self.input_size[1]
            kw: dict[str, Any] = {} if self.interpolation == "nearest" else {"align_corners": False}
            x = F.interpolate(
                x,
                size=self.input_size,
                mode=self.interpolation,
                antialias=shrink and self.interpolation != "nearest",
                **kw,
            )
        if self.normalize_input:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Features ``[B, num_features]`` of images ``[B, C, H, W]`` (no gradient)."""
        x = self.preprocess(x)
        model = self.backbone
        with torch.no_grad():
            if self.layer == "features":
                y = model.forward_features(x)
                if isinstance(y, (list, tuple)):
                    y = y[-1]
                y = y.mean(dim=(2, 3)) if y.ndim == 4 else y.mean(dim=1) if y.ndim == 3 else y
            else:
                y = model(x)
        return self._check_output(y)

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, layer={self.layer!r}, input_size={self.input_size}, num_features={self.num_features}"
        )


__all__ = ["TimmFeatureExtractor"]
