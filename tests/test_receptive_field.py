"""Receptive fields against hand arithmetic and an independent gradient probe; depth against the papers."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from googlenet import create_model
from googlenet.analysis.profile import profile_model
from googlenet.analysis.receptive import ReceptiveField


def meta_profile(model_fn, size: int):
    with torch.device("meta"):
        model = model_fn()
    return profile_model(model, size, memory=False)


def test_vgg16_fields_by_hand():
    prof = meta_profile(torchvision.models.vgg16, 224)
    # by hand: a 3x3/1 conv adds 2 * jump, a 2x2/2 pool adds 1 * jump and doubles the jump
    # block 1 (jump 1): 3, 5, pool 6 -> jump 2; block 2: 10, 14, pool 16 -> 4; block 3: 24, 32, 40, pool 44 -> 8;
    # block 4: 60, 76, 92, pool 100 -> 16; block 5: 132, 164, 196, pool 212 -> 32
    expected = [3, 5, 6, 10, 14, 16, 24, 32, 40, 44, 60, 76, 92, 100, 132, 164, 196, 212]
    jumps = [1, 1, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 32]
    rows = [r for r in prof.rows if r.name.startswith("features.") and r.kind in ("Conv2d", "MaxPool2d")]
    assert [r.rf.size for r in rows] == [(e, e) for e in expected]
    assert [r.rf.jump for r in rows] == [(j, j) for j in jumps]
    # pool 2x2/2 without padding: first unit centred between pixels 0 and 1, then between 0..3, ...
    assert rows[2].rf.start == (0.5, 0.5) and rows[-1].rf.start == (15.5, 15.5)
    # the classifier sees the whole 7x7 map: 212 + 6 * 32
    assert prof.final_rf.size == (404, 404) and prof.final_rf.is_global


def test_googlenet_stem_and_trunk_by_hand():
    prof = meta_profile(lambda: create_model("googlenet"), 224)
    rf = {r.name: r.rf for r in prof.rows}
    # conv1 7x7/2 pad 3: r = 1 + 6 = 7, j = 2, start = 0 + (3 - 3) * 1 = 0
    assert (rf["conv1"].size, rf["conv1"].jump, rf["conv1"].start) == ((7, 7), (2, 2), (0, 0))
    # maxpool1 3x3/2: r = 7 + 2 * 2 = 11, j = 4, start = 0 + (1 - 0) * 2 = 2
    assert (rf["maxpool1"].size, rf["maxpool1"].jump, rf["maxpool1"].start) == ((11, 11), (4, 4), (2, 2))
    assert rf["lrn1"].size == (11, 11) and rf["conv2"].size == (11, 11)  # LRN and 1x1 conv: unchanged
    # conv3 3x3/1 pad 1: r = 11 + 2 * 4 = 19, jump stays 4, start = 2 + (1 - 1) * 4 = 2
    assert (rf["conv3"].size, rf["conv3"].jump, rf["conv3"].start) == ((19, 19), (4, 4), (2, 2))
    # maxpool2 3x3/2: r = 19 + 2 * 4 = 27, j = 8, start = 2 + 1 * 4 = 6
    assert (rf["maxpool2"].size, rf["maxpool2"].jump, rf["maxpool2"].start) == ((27, 27), (8, 8), (6, 6))
    # an Inception module's widest branch is the 5x5 (1x1 -> 5x5): r += 4 * jump
    assert rf["inception3a"].size == (27 + 4 * 8,) * 2  # 59
    assert rf["inception3b"].size == (59 + 32,) * 2  # 91
    assert rf["maxpool3"].size == (91 + 2 * 8,) * 2 and rf["maxpool3"].jump == (16, 16)  # 107
    sizes_4 = [107 + 64 * i for i in range(1, 6)]  # 4a..4e: + 4 * 16 each
    assert [rf[f"inception4{c}"].size[0] for c in "abcde"] == sizes_4  # 171, 235, 299, 363, 427
    assert rf["maxpool4"].size == (427 + 2 * 16,) * 2 and rf["maxpool4"].jump == (32, 32)  # 459
    assert rf["inception5a"].size[0] == 459 + 128 and rf["inception5b"].size[0] == 587 + 128  # 587, 715
    assert prof.final_rf.size == (715 + 6 * 32,) * 2  # global 7x7 pool: 907


@pytest.mark.parametrize(
    ("builder", "depth"),
    [
        (lambda: create_model("googlenet"), 22),  # "22 layers deep when counting only layers with parameters"
        (torchvision.models.vgg16, 16),
        (torchvision.models.alexnet, 8),
        (torchvision.models.resnet18, 18),
    ],
)
def test_depth_is_the_papers_layer_count(builder, depth):
    assert meta_profile(builder, 224).depth == depth


class _Stop(Exception):
    pass


def _probe_extent(model: nn.Module, layer: str, size: int) -> int:
    """Independent reference: the input rows a central output unit's gradient reaches (positive weights, max pools
    made average pools so that gradients reach every position of their windows)."""
    for m in list(model.modules()):
        for child_name, child in list(m.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(m, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    with torch.no_grad():
        for p in model.parameters():
            p.abs_().add_(1e-3)
    model = model.double().eval()
    feats = {}

    def stop(_m, _i, out):
        feats["y"] = out
        raise _Stop  # the probe needs nothing after this layer

    dict(model.named_modules())[layer].register_forward_hook(stop)
    x = torch.rand(1, 3, size, size, dtype=torch.float64) + 0.5
    x.requires_grad_(True)
    with pytest.raises(_Stop):
        model(x)
    y = feats["y"]
    h = y.shape[-1] // 2
    y[0, :, h, h].sum().backward()
    rows = torch.nonzero(x.grad[0].abs().sum((0, 2)))
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(
    ("name", "layer", "size"),
    [("googlenet", "inception3a", 112), ("googlenet", "inception3b", 128)],
)
def test_tracer_matches_gradient_probe_googlenet(name, layer, size):
    def model():
        return create_model(name, aux_logits=False, num_classes=10, width=0.25)  # fields do not depend on width

    traced = meta_profile(model, size).row(layer).rf.size[0]
    assert _probe_extent(model(), layer, size) == traced


def test_tracer_matches_gradient_probe_resnet_shortcuts():
    from torchvision.models.resnet import BasicBlock, ResNet

    def model():
        return ResNet(BasicBlock, [2, 2, 1, 1], num_classes=10)  # ResNet-18's first two stages, shortcuts included

    traced = meta_profile(model, 128).row("layer2.1").rf.size[0]  # 99 px: fits in 128 around the centre
    assert _probe_extent(model(), "layer2.1", 128) == traced


def test_union_dilation_same_padding_and_adaptive():
    # dilation 2 makes a 3x3 conv span 5 pixels
    assert ReceptiveField().window(3, 1, 2, 2).size == (5, 5)
    # branches with different centres: [-1, 1] and [0, 4] -> union [-1, 4], 6 px wide, centre 1.5
    u = ReceptiveField.union([ReceptiveField((3, 3)), ReceptiveField((5, 5), start=(2, 2))])
    assert u.size == (6, 6) and u.start == (1.5, 1.5)
    # adaptive pool 7 -> 3: bins [0,3), [2,5), [4,7): widest 3 units, first centred on unit 1
    a = ReceptiveField().adaptive((7, 7), (3, 3))
    assert a.size == (3, 3) and a.start == (1, 1)

    class Same(nn.Module):
        def forward(self, x):
            w = torch.ones(1, 1, 5, 5, device=x.device)
            return F.conv2d(F.conv2d(x, w, padding="same"), w, padding="valid")

    prof = profile_model(Same(), 16, 1, memory=False)
    assert prof.final_rf.size == (9, 9) and prof.final_rf.start == (2, 2) and prof.depth == 2


def test_unknown_op_gives_unknown_field():
    class Up(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 3)

        def forward(self, x):
            return F.interpolate(self.conv(x), scale_factor=2)

    prof = profile_model(Up(), 8, 1, memory=False)
    assert prof.row("conv").rf.size == (3, 3) and prof.final_rf is None
