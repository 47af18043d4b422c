"""AlexNet, VGG, ResNet, DenseNet and GoogLeNet-BN against independent numbers: torchvision's metadata,
hand arithmetic from the papers' tables, and torchvision's own GoogLeNet."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from googlenet import create_model
from googlenet.analysis.profile import profile_model
from googlenet.errors import UserError
from googlenet.probe import meta_model, shapes_only_batchnorm


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def conv(cin: int, cout: int, k: int, groups: int = 1) -> int:
    return k * k * (cin // groups) * cout + cout  # weights + bias


def fc(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


# ---------------------------------------------------------------- parameter counts
# Numbers published with torchvision's ImageNet weights (typed in, not read from torchvision).
TORCHVISION_PUBLISHED = {
    "alexnet_tv": 61_100_840,
    "vgg16": 138_357_544,
    "resnet50": 25_557_032,
    "densenet121": 7_978_856,
    "googlenet_bn": 6_624_904,  # torchvision's googlenet drops its auxiliary heads after loading
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_PUBLISHED))
def test_params_equal_torchvision_published(name):
    kwargs = {"aux_logits": False} if name == "googlenet_bn" else {}
    assert n_params(meta_model(name, **kwargs)) == TORCHVISION_PUBLISHED[name]


TV_WEIGHTS = {
    "alexnet_tv": tvm.AlexNet_Weights,
    **{n: getattr(tvm, f"VGG{n[3:].upper()}_Weights") for n in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn")},
    **{n: getattr(tvm, f"VGG{n[3:].upper()}_Weights") for n in ("vgg16", "vgg16_bn", "vgg19", "vgg19_bn")},
    **{f"resnet{d}": getattr(tvm, f"ResNet{d}_Weights") for d in (18, 34, 50, 101, 152)},
    **{f"densenet{d}": getattr(tvm, f"DenseNet{d}_Weights") for d in (121, 161, 169, 201)},
}


@pytest.mark.parametrize("name", sorted(TV_WEIGHTS))
def test_params_equal_torchvision_weights_metadata(name):
    assert n_params(meta_model(name)) == TV_WEIGHTS[name].IMAGENET1K_V1.meta["num_params"]


def alexnet_hand(groups: int) -> int:
    return (
        conv(3, 96, 11)
        + conv(96, 256, 5, groups)
        + conv(256, 384, 3)
        + conv(384, 384, 3, groups)
        + conv(384, 256, 3, groups)
        + fc(256 * 6 * 6, 4096)
        + fc(4096, 4096)
        + fc(4096, 1000)
    )


def test_alexnet_params_hand_arithmetic():
    assert n_params(meta_model("alexnet")) == alexnet_hand(groups=1) == 62_378_344
    # the two-GPU form: conv2/4/5 kernels see half the maps (depths 48, 192, 192)
    assert n_params(meta_model("alexnet_grouped")) == alexnet_hand(groups=2) == 60_965_224
    assert round(alexnet_hand(groups=2) / 1e6) == 61  # the paper: "60 million parameters"


# VGG Table 1, typed in: (kernel, channels) per conv layer. C ends blocks 3-5 with a 1x1 conv.
VGG_TABLE = {
    "A": [(3, 64), (3, 128), (3, 256), (3, 256), (3, 512), (3, 512), (3, 512), (3, 512)],
    "B": [(3, 64)] * 2 + [(3, 128)] * 2 + [(3, 256)] * 2 + [(3, 512)] * 4,
    "C": [(3, 64)] * 2 + [(3, 128)] * 2 + [(3, 256), (3, 256), (1, 256)] + [(3, 512), (3, 512), (1, 512)] * 2,
    "D": [(3, 64)] * 2 + [(3, 128)] * 2 + [(3, 256)] * 3 + [(3, 512)] * 6,
    "E": [(3, 64)] * 2 + [(3, 128)] * 2 + [(3, 256)] * 4 + [(3, 512)] * 8,
}
VGG_PAPER_MILLIONS = {"A": 133, "B": 133, "C": 134, "D": 138, "E": 144}  # Table 2 of the paper
VGG_NAMES = {"A": "vgg11", "A-LRN": "vgg11_lrn", "B": "vgg13", "C": "vgg16_c", "D": "vgg16", "E": "vgg19"}


def vgg_hand(config: str, batch_norm: bool) -> int:
    total, cin = 0, 3
    for k, cout in VGG_TABLE[config]:
        total += conv(cin, cout, k) + (2 * cout if batch_norm else 0)
        cin = cout
    return total + fc(512 * 7 * 7, 4096) + fc(4096, 4096) + fc(4096, 1000)


@pytest.mark.parametrize("config", sorted(VGG_NAMES))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_vgg_params_hand_arithmetic(config, batch_norm):
    table = "A" if config == "A-LRN" else config  # LRN has no parameters
    name = VGG_NAMES[config] + ("_bn" if batch_norm else "")
    assert n_params(meta_model(name)) == vgg_hand(table, batch_norm)
    assert round(vgg_hand(table, False) / 1e6) == VGG_PAPER_MILLIONS[table]


# ---------------------------------------------------------------- AlexNet structure
def test_alexnet_paper_structure():
    model = meta_model("alexnet")
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (96, 11, 4),
        (256, 5, 1),
        (384, 3, 1),
        (384, 3, 1),
        (256, 3, 1),
    ]
    kinds = [type(m).__name__ for m in model.features]
    # LRN follows the ReLU of conv1 and conv2; overlapping 3x3/2 pools after conv1, conv2 and conv5
    assert kinds[:8] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"] * 2
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3
    assert [m.p for m in model.classifier if isinstance(m, nn.Dropout)] == [0.5, 0.5]
    grouped = meta_model("alexnet_grouped")
    assert [c.groups for c in grouped.features if isinstance(c, nn.Conv2d)] == [1, 2, 1, 2, 2]
    assert [c.weight.shape[1] for c in grouped.features if isinstance(c, nn.Conv2d)] == [3, 48, 256, 192, 192]
    assert model.forward_features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 256, 6, 6)


def test_alexnet_lrn_is_the_papers_formula_in_float64():
    lrn = next(m for m in create_model("alexnet").features if isinstance(m, nn.LocalResponseNorm))
    a = torch.randn(2, 12, 3, 3, dtype=torch.float64) * 30
    c = a.shape[1]
    expected = torch.empty_like(a)
    for i in range(c):  # b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta, k=2, n=5, alpha=1e-4, beta=0.75
        window = a[:, max(0, i - 2) : min(c, i + 3)]
        expected[:, i] = a[:, i] / (2 + 1e-4 * (window**2).sum(1)) ** 0.75
    torch.testing.assert_close(lrn(a), expected, rtol=1e-12, atol=0)


def test_alexnet_paper_init():
    torch.manual_seed(0)
    model = create_model("alexnet")
    layers = dict(model.named_modules())
    for name in ("features.4", "features.10", "features.12", "classifier.0", "classifier.3"):
        assert torch.all(layers[name].bias == 1), name
    for name in ("features.0", "features.8", "classifier.6"):
        assert torch.all(layers[name].bias == 0), name
    assert abs(layers["classifier.0"].weight.std().item() - 0.01) < 1e-4


# ---------------------------------------------------------------- VGG structure
def test_vgg_configurations_layout():
    def layout(name: str) -> list:
        return [
            m.kernel_size[0] if isinstance(m, nn.Conv2d) else "LRN" if isinstance(m, nn.LocalResponseNorm) else "M"
            for m in meta_model(name).features
            if isinstance(m, (nn.Conv2d, nn.LocalResponseNorm, nn.MaxPool2d))
        ]

    assert layout("vgg16_c") == [3, 3, "M", 3, 3, "M", 3, 3, 1, "M", 3, 3, 1, "M", 3, 3, 1, "M"]
    assert layout("vgg11_lrn") == [3, "LRN", "M", 3, "M", 3, 3, "M", 3, 3, "M", 3, 3, "M"]
    weight_layers = {
        n: sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in meta_model(n).modules()) for n in VGG_NAMES.values()
    }
    assert weight_layers == {"vgg11": 11, "vgg11_lrn": 11, "vgg13": 13, "vgg16_c": 16, "vgg16": 16, "vgg19": 19}
    bn = meta_model("vgg16_c_bn").features
    assert [type(m).__name__ for m in bn[:3]] == ["Conv2d", "BatchNorm2d", "ReLU"]


# ---------------------------------------------------------------- ResNet v1 (stride in the 1x1)
def test_resnet_v1_moves_the_stride_to_the_first_1x1():
    v15 = meta_model("resnet50")
    v1 = meta_model("resnet50", stride_in_1x1=True)
    assert n_params(v1) == n_params(v15)
    first_blocks = [(f"layer{i}.0", v1.get_submodule(f"layer{i}.0")) for i in (1, 2, 3, 4)]
    strided_v1 = [(n, m.conv1.stride, m.conv2.stride) for n, m in first_blocks]
    assert strided_v1 == [
        ("layer1.0", (1, 1), (1, 1)),
        ("layer2.0", (2, 2), (1, 1)),
        ("layer3.0", (2, 2), (1, 1)),
        ("layer4.0", (2, 2), (1, 1)),
    ]
    assert v15.layer2[0].conv2.stride == (2, 2) and v15.layer2[0].conv1.stride == (1, 1)
    with shapes_only_batchnorm(v1), shapes_only_batchnorm(v15):
        macs_v1, macs_v15 = profile_model(v1, 224).total_macs, profile_model(v15, 224).total_macs
    assert 3.8e9 < macs_v1 < 3.9e9  # the paper: 3.8 x 10^9 multiply-adds for the 50-layer net
    assert round(macs_v15 / 1e6) == 4089  # torchvision's published 4.089 GFLOPS (multiply-adds)


def test_resnet_v1_same_weights_different_function():
    torch.manual_seed(0)
    v15 = create_model("resnet50", num_classes=5).eval()
    v1 = create_model("resnet50", num_classes=5, stride_in_1x1=True).eval()
    v1.load_state_dict(v15.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = v15(x), v1(x)
    assert a.shape == b.shape == (1, 5) and not torch.allclose(a, b)


def test_resnet_v1_flag_rejected_for_basic_blocks():
    with pytest.raises(UserError, match=r"cannot be built with .*stride_in_1x1=True: stride_in_1x1 applies to bottl"):
        create_model("resnet18", stride_in_1x1=True)


# ---------------------------------------------------------------- greyscale first conv (in_chans=1)
def _fan_in(w: torch.Tensor) -> int:
    return w[0].numel()  # in_channels * kh * kw


def _fan_out(w: torch.Tensor) -> int:
    return w.shape[0] * w[0, 0].numel()  # out_channels * kh * kw


# The first conv rebuilt for one channel is initialised by the family's own rule (torchvision's _init code):
# name -> (first conv, expected weight std from its shape)
GREY_STEM_STD = {
    "alexnet_tv": ("features.0", lambda w: (3 * _fan_in(w)) ** -0.5),  # PyTorch default: U(+-1/sqrt(fan_in))
    "vgg11": ("features.0", lambda w: (2 / _fan_out(w)) ** 0.5),  # kaiming_normal_, fan_out, relu; bias 0
    "resnet18": ("conv1", lambda w: (2 / _fan_out(w)) ** 0.5),  # kaiming_normal_, fan_out, relu
    "densenet121": ("features.conv0", lambda w: (2 / _fan_in(w)) ** 0.5),  # kaiming_normal_ (fan_in)
}


@pytest.mark.parametrize("name", sorted(GREY_STEM_STD))
def test_greyscale_first_conv_initialised_as_the_family(name):
    path, expected_std = GREY_STEM_STD[name]
    torch.manual_seed(0)
    stem = create_model(name, num_classes=10, in_chans=1).get_submodule(path)
    w = stem.weight
    assert w.shape[1] == 1
    assert abs(w.std().item() / expected_std(w) - 1) < 0.15  # >= 576 weights: the sample std is within ~4%
    if name == "vgg11":
        assert torch.all(stem.bias == 0)


# ---------------------------------------------------------------- GoogLeNet-BN against torchvision
def randomise_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Weights with O(1) activations and non-trivial batch-norm statistics, so that differences show."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model


def tv_googlenet(**kwargs) -> nn.Module:
    return tvm.googlenet(weights=None, aux_logits=True, init_weights=True, **kwargs)


@pytest.fixture(scope="module")
def googlenet_pair() -> tuple[nn.Module, nn.Module]:
    theirs = randomise_(tv_googlenet(num_classes=10))
    ours = create_model("googlenet_bn", num_classes=10)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def test_googlenet_bn_state_dict_keys_are_torchvisions():
    ours, theirs = meta_model("googlenet_bn").state_dict(), tv_googlenet().state_dict()
    assert list(ours) == list(theirs)  # same names in the same order (our ConvBlock's ReLU holds no state)
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    assert not any(".relu" in k for k in ours)


def test_googlenet_bn_params_with_aux_equal_torchvision():
    # each auxiliary head: 1x1 conv to 128 without bias, batch norm (2 x 128), FC 2048 -> 1024, FC 1024 -> 1000
    aux = sum(cin * 128 + 2 * 128 + fc(2048, 1024) + fc(1024, 1000) for cin in (512, 528))
    assert n_params(meta_model("googlenet_bn")) == n_params(tv_googlenet()) == 6_624_904 + aux


def test_googlenet_bn_eval_logits_equal_torchvision(googlenet_pair):
    ours, theirs = googlenet_pair
    ours.eval()
    theirs.eval()
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(x)
        logits, aux = ours(x, return_aux=True)
    assert expected.abs().max() > 0.1  # not a vanishing signal that would hide differences
    assert (logits - expected).abs().max() <= 1e-5
    assert len(aux) == 2


def test_googlenet_bn_aux_heads_and_order_equal_torchvision(googlenet_pair):
    """torchvision returns GoogLeNetOutputs(logits, aux_logits2, aux_logits1) in training mode; ours (4a, 4d)."""
    ours, theirs = googlenet_pair
    for model in (ours, theirs):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.eval()  # deterministic; batch norm still uses batch statistics
    x = torch.randn(4, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out = theirs(x)
        logits, (aux_4a, aux_4d) = ours(x, return_aux=True)
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert (logits - out.logits).abs().max() <= 1e-5
    assert (aux_4a - out.aux_logits1).abs().max() <= 1e-5 and (aux_4a - out[2]).abs().max() <= 1e-5
    assert (aux_4d - out.aux_logits2).abs().max() <= 1e-5 and (aux_4d - out[1]).abs().max() <= 1e-5
    assert not torch.allclose(aux_4a, aux_4d)


def test_googlenet_bn_transform_input_equals_torchvision(googlenet_pair):
    _, theirs = googlenet_pair
    tv_t = tv_googlenet(num_classes=10, transform_input=True).eval()
    tv_t.load_state_dict(theirs.state_dict())
    ours_t = create_model("googlenet_bn", num_classes=10, transform_input=True).eval()
    ours_t.load_state_dict(theirs.state_dict())
    theirs.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = tv_t(x)
        got = ours_t(x)
        plain = theirs(x)
    assert (got - expected).abs().max() <= 1e-5
    assert (got - plain).abs().max() > 1e-3  # the transform changes the result
