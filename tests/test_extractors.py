"""Feature extractors: true width, frozen/eval, own preprocessing, outside every state_dict, FeatureShare with FID."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rdmetrics.extractors import (
    IdentityExtractor,
    ModuleExtractor,
    as_extractor,
    get_extractor,
    list_extractors,
    register_extractor,
)

timm = pytest.importorskip("timm")
from rdmetrics.extractors.timm import TimmFeatureExtractor  # noqa: E402


@pytest.fixture(scope="module")
def resnet() -> TimmFeatureExtractor:
    return TimmFeatureExtractor("test_resnet")


def test_mobilenet_true_width_differs_from_timm_num_features():
    ext = TimmFeatureExtractor("mobilenetv3_small_100")
    raw = timm.create_model("mobilenetv3_small_100", pretrained=False, num_classes=0).eval()
    with torch.no_grad():
        width = raw(torch.zeros(1, 3, 224, 224)).shape[1]
    assert raw.num_features != width  # the timm pitfall this class guards against
    assert ext.num_features == width
    assert ext(torch.rand(2, 3, 64, 64)).shape == (2, width)


@pytest.mark.parametrize("name", ["test_resnet", "test_vit"])
def test_preprocessing_matches_manual_resize_and_normalisation(name):
    torch.manual_seed(0)
    ext = TimmFeatureExtractor(name)
    model = ext.backbone
    cfg = timm.data.resolve_model_data_config(model)
    x = torch.rand(3, 3, 200, 180)
    # independent pipeline: the model's config read here, resize + mean/std by hand, then the bare model
    size = cfg["input_size"][1:]
    y = F.interpolate(x, size=size, mode=cfg["interpolation"], align_corners=False, antialias=True)
    y = (y - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = model(y)
    torch.testing.assert_close(ext(x), expected, rtol=1e-5, atol=1e-5)
    assert ext.num_features == expected.shape[1]
    # uint8 input is scaled by 1/255
    xb = (x * 255).round().to(torch.uint8)
    torch.testing.assert_close(ext(xb), ext(xb.float() / 255), rtol=1e-6, atol=1e-6)


def test_frozen_eval_and_outside_state_dict(resnet):
    assert resnet.training is False and resnet.backbone.training is False
    resnet.train()
    assert resnet.training is False and resnet.backbone.training is False
    assert all(not p.requires_grad for p in resnet.backbone.parameters())
    assert list(resnet.parameters()) == [] and resnet.state_dict() == {}

    class Holder(nn.Module):
        def __init__(self, ext):
            super().__init__()
            self.ext = ext
            self.head = nn.Linear(2, 2)

    holder = Holder(resnet)
    assert set(holder.state_dict()) == {"head.weight", "head.bias"}
    assert len(list(holder.parameters())) == 2
    holder.double()  # dtype / device moves reach the hidden backbone
    assert next(resnet.backbone.parameters()).dtype == torch.float64
    assert resnet(torch.rand(1, 3, 16, 16, dtype=torch.float64)).dtype == torch.float64
    holder.float()


def test_not_in_metric_state_dict(resnet):
    from rdmetrics import PrecisionRecallEntropy

    metric = PrecisionRecallEntropy(k=2, feature_extractor=resnet)
    assert not any("backbone" in key or "conv" in key for key in metric.state_dict())
    metric.update(torch.rand(6, 3, 32, 32), real=True)
    assert int(metric.num_features) == resnet.num_features


def test_input_validation(resnet):
    with pytest.raises(ValueError, match="4-D"):
        resnet(torch.rand(4, 96))
    with pytest.raises(ValueError, match="3-channel"):
        resnet(torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError, match="dtype"):
        resnet(torch.ones(2, 3, 8, 8, dtype=torch.long))
    with pytest.raises(ValueError, match="layer"):
        TimmFeatureExtractor("test_resnet", layer="nope")


def test_layers_and_input_size():
    ext = TimmFeatureExtractor("test_resnet", layer="features", input_size=64)
    assert ext.input_size == (64, 64)
    x = torch.rand(2, 3, 64, 64)
    y = (x - 0.5) / 0.5  # test_resnet normalises with mean = std = 0.5
    with torch.no_grad():
        expected = ext.backbone.forward_features(y).mean(dim=(2, 3))
    torch.testing.assert_close(ext(x), expected)
    logits = TimmFeatureExtractor("test_vit", layer="logits")
    assert logits.num_features == logits.backbone.num_classes


def test_registry_and_as_extractor():
    assert {"identity", "module", "timm"} <= set(list_extractors())
    ext = get_extractor("timm/test_vit")
    assert isinstance(ext, TimmFeatureExtractor) and ext.num_features == 64
    with pytest.raises(ValueError, match="unknown extractor"):
        get_extractor("no_such_extractor")

    @register_extractor("test_linear_extractor")
    def _factory(width: int = 3) -> nn.Module:
        return nn.Linear(4, width)  # plain modules are wrapped by get_extractor

    try:
        lin = get_extractor("test_linear_extractor", width=5)
        assert isinstance(lin, ModuleExtractor) and lin(torch.rand(2, 4)).shape == (2, 5)
        assert lin.num_features == 5 and list(lin.parameters()) == []
        with pytest.raises(ValueError, match="already registered"):
            register_extractor("test_linear_extractor")(_factory)
    finally:
        from rdmetrics.extractors import _REGISTRY

        _REGISTRY.pop("test_linear_extractor", None)

    ident = as_extractor(None)
    assert isinstance(ident, IdentityExtractor)
    feats = torch.randn(3, 7)
    assert ident(feats) is feats and ident.num_features == 7
    with pytest.raises(ValueError, match="width"):
        ident(torch.randn(2, 6))
    with pytest.raises(TypeError):
        as_extractor(42)
    lin = nn.Linear(3, 2)
    wrapped = as_extractor(lin, input_shape=(3,))
    assert wrapped.num_features == 2 and not lin.weight.requires_grad and not lin.training
    torch.testing.assert_close(wrapped(torch.ones(1, 3)), lin(torch.ones(1, 3)))


def test_feature_share_with_fid(resnet):
    fid_mod = pytest.importorskip("torchmetrics.image.fid")
    from torchmetrics.wrappers import FeatureShare

    from rdmetrics import PrecisionRecallEntropy

    calls = {"n": 0}
    counting = TimmFeatureExtractor("test_resnet")
    orig_forward = counting.forward

    def forward(x):
        calls["n"] += 1
        return orig_forward(x)

    counting.forward = forward
    shared = FeatureShare(
        {
            "pre": PrecisionRecallEntropy(k=3, feature_extractor=counting),
            "fid": fid_mod.FrechetInceptionDistance(feature=counting),
        }
    )
    g = torch.Generator().manual_seed(0)
    real, fake = torch.rand(24, 3, 32, 32, generator=g), 0.5 * torch.rand(24, 3, 32, 32, generator=g)
    shared.update(real, real=True)
    shared.update(fake, real=False)
    out = shared.compute()
    assert calls["n"] == 2  # one backbone pass per batch, shared by both metrics
    # the same values as each metric fed the features computed once, directly, by the same network
    with torch.no_grad():
        f_real, f_fake = orig_forward(real), orig_forward(fake)
    alone = PrecisionRecallEntropy(k=3)
    fid = fid_mod.FrechetInceptionDistance(feature=IdentityExtractor(num_features=counting.num_features))
    for m in (alone, fid):
        m.update(f_real, real=True)
        m.update(f_fake, real=False)
    ref = alone.compute()
    for key in ("pce", "rce", "re", "precision", "coverage"):
        torch.testing.assert_close(out[key], ref[key])
    torch.testing.assert_close(out["fid"], fid.compute())
    assert not any("conv" in key for key in shared.state_dict())


# ---------------------------------------------------------------------------------------------------------------------
# package-level import, the PCE/RCE/RE paper's feature space, offline pretrained weights


def test_timm_extractor_importable_from_package():
    import rdmetrics
    import rdmetrics.extractors as extractors

    assert extractors.TimmFeatureExtractor is TimmFeatureExtractor
    assert rdmetrics.TimmFeatureExtractor is TimmFeatureExtractor
    assert "TimmFeatureExtractor" in dir(extractors)


def test_dinov2_vitl14_registered_as_the_paper_encoder(monkeypatch):
    """``dinov2_vitl14`` builds timm's ``vit_large_patch14_dinov2.lvd142m`` at 224 x 224 with its bicubic resize and
    ImageNet mean/std, and returns the CLS embedding. ViT-L itself is built on the meta device (no memory, no
    time); the forward path is checked on the same architecture shrunk to one narrow block."""
    from rdmetrics.extractors import DINOV2_VITL14

    assert DINOV2_VITL14 == "vit_large_patch14_dinov2.lvd142m" and "dinov2_vitl14" in list_extractors()
    with torch.device("meta"):
        full = timm.create_model(DINOV2_VITL14, pretrained=False, num_classes=0, img_size=224)
    assert full.num_features == 1024 and full.global_pool == "token" and full.patch_embed.img_size == (224, 224)

    calls = []
    real_create = timm.create_model

    def tiny_create(name, **kwargs):
        calls.append((name, dict(kwargs)))
        return real_create(name, **kwargs, depth=1, embed_dim=32, num_heads=2)

    monkeypatch.setattr(timm, "create_model", tiny_create)
    ext = get_extractor("dinov2_vitl14")
    assert calls[0][0] == DINOV2_VITL14 and calls[0][1]["pretrained"] is False and calls[0][1]["img_size"] == 224
    assert ext.input_size == (224, 224) and ext.interpolation == "bicubic"
    torch.testing.assert_close(ext.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    torch.testing.assert_close(ext.std.flatten(), torch.tensor([0.229, 0.224, 0.225]))
    x = torch.rand(2, 3, 100, 120)
    # independent pipeline: bicubic resize to 224, ImageNet normalisation, CLS token of the normed tokens
    y = F.interpolate(x, size=(224, 224), mode="bicubic", align_corners=False, antialias=False)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    y = (y - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        cls = ext.backbone.forward_features(y)[:, 0]
    torch.testing.assert_close(ext(x), cls, rtol=1e-5, atol=1e-5)


def test_pretrained_offline_says_what_to_do(monkeypatch, tmp_path):
    """Offline, ``pretrained=True`` used to end in a raw hub error; now it names the remedies, and the local-file
    remedy it suggests works."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # nothing cached
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True, raising=False)
    with pytest.raises(RuntimeError, match=r"(?s)HF_HUB_OFFLINE.*pretrained_cfg_overlay=dict\(file=") as info:
        TimmFeatureExtractor("test_resnet", pretrained=True)
    assert "test_resnet" in str(info.value) and isinstance(info.value.__cause__, OSError)
    # the suggested local-file route: weights saved by a model of the same architecture load without any network
    src = timm.create_model("test_resnet", pretrained=False)
    path = tmp_path / "test_resnet.pth"
    torch.save(src.state_dict(), path)
    ext = TimmFeatureExtractor("test_resnet", pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    torch.testing.assert_close(ext.backbone.conv1[0].weight, src.conv1[0].weight)
