"""Layer names of the papers (Caffe/BVLC, Table 1, Lucid) -> modules of every registered GoogLeNet variant: each
accepted name is a real module, the channel counts are Table 1's, missing and unknown names are one-line errors,
and the smallest input that reaches a layer is found."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from googlenet.factory import create_model, list_models, model_info
from googlenet.inside.capture import LayerSizeError, activation, activation_and_output, check_size, min_size
from googlenet.inside.layers import CAFFE, LUCID, NAMES, MissingLayerError, UnknownLayerError, available, resolve
from googlenet.probe import meta_model
from googlenet.weights.caffe.nets import GOOGLENET

GOOGLENETS = [n for n in list_models() if model_info(n).family == "googlenet"]
VARIANTS = [(n, {}) for n in GOOGLENETS] + [
    ("googlenet", {"aux_logits": False}),
    ("googlenet", {"lrn": False}),
    ("googlenet", {"num_classes": 0}),
]


def test_the_registry_has_the_googlenet_variants() -> None:
    assert {"googlenet", "googlenet_bn", "googlenet_naive", "googlenet_small"} <= set(GOOGLENETS)


@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=lambda v: str(v))
def test_every_accepted_name_is_a_real_module(name: str, kwargs: dict) -> None:
    model = meta_model(name, **{"num_classes": 10, **kwargs})
    modules = dict(model.named_modules())
    accepted = available(model)
    assert len(accepted) >= 9 * 2  # at least every Inception module by its Caffe and Lucid names
    for layer_name in NAMES:
        if layer_name in accepted:
            for relu in (False, True):
                layer = resolve(model, layer_name, pre_relu=relu)
                assert layer.path in modules and not isinstance(modules[layer.path], nn.Identity)
                assert all(p in modules for p in layer.parts)
        else:
            with pytest.raises(MissingLayerError, match=layer_name.replace("/", ".")):
                resolve(model, layer_name)


@pytest.mark.parametrize(("name", "kwargs"), VARIANTS, ids=lambda v: str(v))
def test_inception_and_stem_names_cover_each_variant(name: str, kwargs: dict) -> None:
    model = meta_model(name, **{"num_classes": 10, **kwargs})
    accepted = set(available(model))
    rows = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")
    assert {f"inception_{r}" for r in rows} | {f"mixed{r}" for r in rows} | {"conv1/7x7_s2", "conv2/3x3"} <= accepted
    if name != "googlenet_naive":  # the naive module has no reductions
        assert {f"inception_{r}/5x5_reduce" for r in rows} <= accepted
    assert ("loss1/classifier" in accepted) == (model.aux1 is not None)
    assert ("loss3/classifier" in accepted) == (kwargs.get("num_classes", 10) > 0)


def test_caffe_convolutions_are_the_modules_that_hold_bvlcs_weights() -> None:
    # the importer's table says where BVLC's blobs go; the layer is the ConvBlock (or Linear) holding them
    model = meta_model("googlenet", num_classes=10)
    keys = set(model.state_dict())
    for caffe, prefix in GOOGLENET.items():
        assert f"{prefix}.weight" in keys
        path = resolve(model, caffe).path
        assert prefix in (path, f"{path}.conv")


def test_lucid_names_agree_with_caffe() -> None:
    assert LUCID["mixed4c"] == CAFFE["inception_4c/output"] == "inception4c"
    assert LUCID["mixed4d_3x3_bottleneck"] == CAFFE["inception_4d/3x3_reduce"] == "inception4d.branch2.0"
    assert LUCID["mixed5b_pool_reduce"] == "inception5b.branch4.1"
    assert LUCID["conv2d2"] == CAFFE["conv2/3x3"] == "conv3"
    assert LUCID["softmax2_pre_activation"] == "fc"


# Table 1 of the paper, full width: channels of each layer's output
@pytest.mark.parametrize(
    ("layer", "channels", "side"),
    [
        ("conv1/7x7_s2", 64, 112),
        ("conv2/3x3", 192, 56),
        ("pool2/3x3_s2", 192, 28),
        ("inception_3a", 256, 28),
        ("inception_4c", 512, 14),
        ("inception_4c/5x5_reduce", 24, 14),
        ("inception_4c/3x3", 256, 14),
        ("inception_4e", 832, 14),
        ("mixed5b", 1024, 7),
        ("mixed4d_pre_relu", 528, 14),
        ("loss3/classifier", 1000, None),
    ],
)
def test_layer_shapes_are_table_1s(layer: str, channels: int, side: int | None) -> None:
    model = meta_model("googlenet")
    shape = check_size(model, resolve(model, layer), 224)
    assert shape[1] == channels
    if side is not None:
        assert tuple(shape[-2:]) == (side, side)


def test_unknown_layer_lists_the_names() -> None:
    model = meta_model("googlenet", num_classes=10)
    with pytest.raises(UnknownLayerError, match=r"unknown layer 'inception_9z'.*inception_4c/5x5_reduce"):
        resolve(model, "inception_9z")
    resnet = meta_model("resnet18", num_classes=10)
    with pytest.raises(MissingLayerError, match=r"'inception_4c' names a GoogLeNet layer.*modules: conv1"):
        resolve(resnet, "inception_4c")
    assert resolve(resnet, "layer3").path == "layer3"  # module paths of any model are accepted
    assert resolve(resnet, "conv1").path == "conv1"
    assert available(resnet) == []


def test_pre_relu_parts_by_hand() -> None:
    model = meta_model("googlenet_bn", num_classes=10)
    layer = resolve(model, "mixed4c_pre_relu")
    assert layer.parts == tuple(f"inception4c.{b}.bn" for b in ("branch1", "branch2.1", "branch3.1", "branch4.1"))
    assert resolve(model, "conv2/3x3", pre_relu=True).parts == ("conv3.bn",)
    assert resolve(model, "pool3/3x3_s2", pre_relu=True).parts == ("maxpool3",)  # no ReLU: the output itself


def test_pre_relu_is_the_relus_input() -> None:
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, width=0.125).eval()
    x = torch.randn(2, 3, 40, 40)
    with torch.no_grad():
        post = activation(model, resolve(model, "inception_4a"), x)
        pre = activation(model, resolve(model, "inception_4a", pre_relu=True), x)
        (parts, logits) = activation_and_output(model, resolve(model, "inception_4a", pre_relu=True), x)
    assert (pre < 0).any() and torch.equal(pre.relu(), post)
    assert torch.equal(torch.cat(parts, 1), pre)
    assert torch.allclose(logits, model(x))  # capturing changes nothing downstream


def test_smallest_input_that_reaches_a_layer() -> None:
    model = meta_model("googlenet", num_classes=10)
    # conv1 (7x7/2, padding 3) runs on 1 px; every later layer sits behind more pools and needs more
    assert min_size(model, resolve(model, "conv1/7x7_s2")) == 1
    smallest = min_size(model, resolve(model, "inception_4c"))
    assert smallest > min_size(model, resolve(model, "inception_3a")) > 1
    check_size(model, resolve(model, "inception_4c"), smallest)
    with pytest.raises(LayerSizeError, match=f"at least {smallest} px"):
        check_size(model, resolve(model, "inception_4c"), smallest - 1)
