"""Every registered model exposes its intermediate feature maps by stage name (``googlenet.models.stages``), checked
against independent references: torchvision's FX feature extractor, hand-run module sequences, ``forward_features``."""

from __future__ import annotations

import pytest
import torch
from torchvision.models.feature_extraction import create_feature_extractor

from googlenet.factory import create_model, list_models, model_info
from googlenet.models.stages import StageError, StageFeatures, feature_info, stage_modules
from googlenet.probe import meta_model


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_ordered_stages(name: str) -> None:
    size = model_info(name).default_input_size
    info = feature_info(meta_model(name, num_classes=10), input_size=size)
    assert len(info) >= 3 and [i["stage"] for i in info] == list(stage_modules(meta_model(name)))
    reductions = [i["reduction"] for i in info]
    assert reductions == sorted(reductions) and reductions[-1] > reductions[0]  # coarser stage by stage
    assert all(i["channels"] > 0 for i in info)


def test_resnet18_stages_equal_torchvision_feature_extraction() -> None:
    torch.manual_seed(0)
    model = create_model("resnet18", num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = StageFeatures(model)(x)
        reference = create_feature_extractor(model, return_nodes={n: n for n in ours})(x)
    assert list(ours) == ["relu", "layer1", "layer2", "layer3", "layer4"]
    for name, t in ours.items():
        torch.testing.assert_close(t, reference[name], rtol=0, atol=0)
    assert ours["layer4"].shape == (2, 512, 2, 2)  # 64 px / 32


def test_googlenet_stages_equal_the_modules_run_by_hand() -> None:
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, width=0.25).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        stages = StageFeatures(model, ["inception3b", "inception5b"])(x)
        h = x
        for name in ("conv1", "maxpool1", "lrn1", "conv2", "conv3", "lrn2", "maxpool2", "inception3a", "inception3b"):
            h = getattr(model, name)(h)
        torch.testing.assert_close(stages["inception3b"], h, rtol=0, atol=0)
        torch.testing.assert_close(stages["inception5b"], model.forward_features(x), rtol=0, atol=0)
    assert list(stages) == ["inception3b", "inception5b"] and stages["inception3b"].shape[-1] == 96 // 8


def test_vgg_and_densenet_last_stages_are_their_trunks() -> None:
    torch.manual_seed(0)
    vgg = create_model("vgg11", num_classes=10).eval()
    dense = create_model("densenet121", num_classes=10).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(StageFeatures(vgg, ["stage5"])(x)["stage5"], vgg.features[:20](x))  # before pool 5
        torch.testing.assert_close(StageFeatures(dense, ["denseblock4"])(x)["denseblock4"], dense.features(x))


def test_the_forward_pass_stops_after_the_last_stage_asked_for() -> None:
    model = create_model("googlenet", num_classes=10, width=0.25).eval()
    ran = []
    model.inception4a.register_forward_hook(lambda *_: ran.append("4a"))
    with torch.no_grad():
        StageFeatures(model, ["inception3b"])(torch.randn(1, 3, 64, 64))
    assert ran == []


def test_an_unknown_stage_is_one_line() -> None:
    with pytest.raises(StageError, match="inception9z") as err:
        StageFeatures(create_model("googlenet_small", num_classes=3, width=0.125), ["inception9z"])
    assert "inception5b" in str(err.value) and "\n" not in str(err.value)
