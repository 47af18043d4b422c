"""The paper's GoogLeNet against Table 1, hand arithmetic and independent counters."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from googlenet import create_model
from googlenet.errors import InputSizeError
from googlenet.models.inception import Inception, InceptionNaive

# Table 1, typed in again here so the test does not read the code's own copy:
# (in_channels, #1x1, #3x3red, #3x3, #5x5red, #5x5, pool proj)
INCEPTION_ROWS = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}
SPATIAL = {"3a": 28, "3b": 28, "4a": 14, "4b": 14, "4c": 14, "4d": 14, "4e": 14, "5a": 7, "5b": 7}


def conv_params(cin: int, cout: int, k: int) -> int:
    return k * k * cin * cout + cout  # weights + bias


def inception_params(cin, c1, c3r, c3, c5r, c5, pp) -> int:
    return (
        conv_params(cin, c1, 1)
        + conv_params(cin, c3r, 1)
        + conv_params(c3r, c3, 3)
        + conv_params(cin, c5r, 1)
        + conv_params(c5r, c5, 5)
        + conv_params(cin, pp, 1)
    )


def inception_macs(hw, cin, c1, c3r, c3, c5r, c5, pp) -> int:
    return hw * hw * (cin * c1 + cin * c3r + 9 * c3r * c3 + cin * c5r + 25 * c5r * c5 + cin * pp)


def hand_params(num_classes: int = 1000, aux: bool = True) -> int:
    stem = conv_params(3, 64, 7) + conv_params(64, 64, 1) + conv_params(64, 192, 3)
    trunk = sum(inception_params(*row) for row in INCEPTION_ROWS.values())
    fc = 1024 * num_classes + num_classes
    total = stem + trunk + fc
    if aux:
        for cin in (512, 528):
            total += conv_params(cin, 128, 1) + (2048 * 1024 + 1024) + (1024 * num_classes + num_classes)
    return total


def hand_macs(num_classes: int = 1000) -> int:
    stem = 112 * 112 * 7 * 7 * 3 * 64 + 56 * 56 * 64 * 64 + 56 * 56 * 9 * 64 * 192
    trunk = sum(inception_macs(SPATIAL[k], *row) for k, row in INCEPTION_ROWS.items())
    return stem + trunk + 1024 * num_classes


def test_hand_arithmetic_matches_the_known_totals():
    assert hand_params(aux=False) == 6_998_552
    assert hand_params(aux=True) == 13_378_280


@pytest.mark.parametrize("aux", [False, True])
def test_parameter_count_equals_hand_computation(aux):
    model = create_model("googlenet", aux_logits=aux)
    assert sum(p.numel() for p in model.parameters()) == hand_params(aux=aux)


def test_parameter_count_other_num_classes():
    model = create_model("googlenet", num_classes=10)
    assert sum(p.numel() for p in model.parameters()) == hand_params(num_classes=10)


def test_per_layer_shapes_equal_table1():
    model = create_model("googlenet").eval()
    expected = {  # Table 1 (C, H, W)
        "conv1": (64, 112, 112),
        "maxpool1": (64, 56, 56),
        "conv3": (192, 56, 56),
        "maxpool2": (192, 28, 28),
        "inception3a": (256, 28, 28),
        "inception3b": (480, 28, 28),
        "maxpool3": (480, 14, 14),
        "inception4a": (512, 14, 14),
        "inception4b": (512, 14, 14),
        "inception4c": (512, 14, 14),
        "inception4d": (528, 14, 14),
        "inception4e": (832, 14, 14),
        "maxpool4": (832, 7, 7),
        "inception5a": (832, 7, 7),
        "inception5b": (1024, 7, 7),
        "avgpool": (1024, 1, 1),
    }
    seen = {}
    for name in expected:
        getattr(model, name).register_forward_hook(lambda m, i, o, n=name: seen.__setitem__(n, tuple(o.shape[1:])))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 224, 224))
    assert seen == expected
    assert out.shape == (1, 1000)


def test_paper_structure():
    model = create_model("googlenet")
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert pools and all(p.ceil_mode for p in pools)
    lrns = [m for m in model.modules() if isinstance(m, nn.LocalResponseNorm)]
    assert [(m.size, m.alpha, m.beta, m.k) for m in lrns] == [(5, 1e-4, 0.75, 1.0)] * 2
    incs = [m for m in model.modules() if isinstance(m, Inception)]
    assert len(incs) == 9
    assert all(m.branch3[1].conv.kernel_size == (5, 5) for m in incs)
    assert all(m.bias is not None for m in model.modules() if isinstance(m, nn.Conv2d))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.dropout.p == 0.4 and model.aux1.dropout.p == 0.7 and model.aux2.dropout.p == 0.7
    assert model.aux1.fc1.in_features == 128 * 4 * 4 and model.aux1.fc1.out_features == 1024
    assert model.conv1.conv.kernel_size == (7, 7) and model.conv1.conv.stride == (2, 2)


def test_lrn_matches_caffe_formula_in_float64():
    model = create_model("googlenet")
    x = torch.rand(2, 12, 5, 5, dtype=torch.float64) * 20
    ours = model.lrn1(x)
    # Caffe ACROSS_CHANNELS: b_c = a_c / (k + alpha/n * sum_{c' in window(c)} a_c'^2)^beta, zero-padded window
    n, alpha, beta, k = 5, 1e-4, 0.75, 1.0
    sq = torch.nn.functional.pad(x**2, (0, 0, 0, 0, n // 2, n // 2))
    window = torch.stack([sq[:, c : c + n].sum(1) for c in range(x.shape[1])], 1)
    ref = x / (k + alpha / n * window) ** beta
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_caffe_init():
    model = create_model("googlenet")
    conv = model.inception4c.branch3[1].conv  # 5x5 conv, fan_in = 24 * 25
    bound = (3.0 / (24 * 25)) ** 0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.std().item() == pytest.approx(bound / 3**0.5, rel=0.05)
    assert torch.all(conv.bias == 0.2)
    assert torch.all(model.fc.bias == 0)


def test_forward_returns_logits_in_train_and_eval():
    model = create_model("googlenet", num_classes=7)
    x = torch.randn(2, 3, 96, 96)
    for mode in (True, False):
        model.train(mode)
        out = model(x)
        assert isinstance(out, torch.Tensor) and out.shape == (2, 7)


def test_return_aux_order_is_4a_then_4d():
    model = create_model("googlenet", num_classes=5).eval()
    x = torch.randn(2, 3, 128, 128)
    feats = {}
    model.inception4a.register_forward_hook(lambda m, i, o: feats.__setitem__("4a", o))
    model.inception4d.register_forward_hook(lambda m, i, o: feats.__setitem__("4d", o))
    with torch.no_grad():
        logits, aux = model(x, return_aux=True)
        assert isinstance(aux, tuple) and len(aux) == 2
        torch.testing.assert_close(aux[0], model.aux1(feats["4a"]))
        torch.testing.assert_close(aux[1], model.aux2(feats["4d"]))
        torch.testing.assert_close(logits, model(x))


def test_aux_logits_false_has_no_heads():
    model = create_model("googlenet", aux_logits=False).eval()
    logits, aux = model(torch.randn(1, 3, 64, 64), return_aux=True)
    assert aux == () and logits.shape == (1, 1000)
    assert model.aux1 is None and model.aux2 is None


def test_torchscript_matches_eager():
    model = create_model("googlenet", num_classes=10).eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))
        s_logits, s_aux = scripted(x, True)
        e_logits, e_aux = model(x, return_aux=True)
    torch.testing.assert_close(s_logits, e_logits)
    assert len(s_aux) == 2
    for s, e in zip(s_aux, e_aux, strict=True):
        torch.testing.assert_close(s, e)


def test_onnx_export_matches_eager(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = create_model("googlenet", num_classes=10).eval()
    x = torch.randn(2, 3, 67, 67)  # odd size exercises ceil-mode pooling
    path = tmp_path / "g.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=["x"], output_names=["logits"])
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"x": x.numpy()})
    with torch.no_grad():
        ref = model(x).numpy()
    assert abs(out - ref).max() <= 1e-4


def test_macs_match_flop_counter_and_hand_arithmetic():
    from googlenet.analysis.profile import profile_model

    model = create_model("googlenet", aux_logits=False).eval()
    prof = profile_model(model, 224)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    assert prof.total_macs == pytest.approx(counter.get_total_flops() / 2, rel=0.01)
    assert prof.total_macs == hand_macs()
    assert 1.57e9 < prof.total_macs < 1.59e9


@pytest.mark.parametrize(
    ("name", "kwargs", "size"),
    [
        ("googlenet", {}, 224),
        ("googlenet_small", {"width": 0.25}, 32),
        ("googlenet_naive", {"width": 0.25}, 64),
        ("googlenet", {"width": 0.5, "lrn": False}, 97),
    ],
)
def test_profile_macs_match_flop_counter_with_aux(name, kwargs, size):
    from googlenet.analysis.profile import profile_model

    model = create_model(name, num_classes=10, **kwargs).eval()
    prof = profile_model(model, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size), return_aux=True)
    assert prof.total_macs == pytest.approx(counter.get_total_flops() / 2, rel=0.01)
    assert prof.total_params == sum(p.numel() for p in model.parameters())


def test_width_multiplier_rounding():
    model = create_model("googlenet", width=0.5)
    # 3a at width 0.5: 32 + 64 + 16 + 16
    assert model.inception3a.out_channels == 128
    assert model.conv1.conv.out_channels == 32
    odd = create_model("googlenet", width=0.3)
    # floor(n * 0.3 + 0.5): 64 -> 19, 96 -> 29, 128 -> 38, 16 -> 5, 32 -> 10
    assert odd.conv1.conv.out_channels == 19
    assert odd.inception3a.out_channels == 19 + 38 + 10 + 10
    assert odd.inception3a.branch2[0].conv.out_channels == 29
    tiny = create_model("googlenet", width=0.01)
    assert tiny.inception3a.branch3[0].conv.out_channels == 1  # never zero


@pytest.mark.parametrize(("size", "final"), [(32, 8), (28, 7)])
def test_small_input_keeps_resolution(size, final):
    model = create_model("googlenet_small", num_classes=10, width=0.25).eval()
    shapes = {}
    for name in ("inception3a", "inception5b"):
        getattr(model, name).register_forward_hook(lambda m, i, o, n=name: shapes.__setitem__(n, o.shape[-1]))
    with torch.no_grad():
        logits, aux = model(torch.randn(2, 3, size, size), return_aux=True)
    assert shapes == {"inception3a": size, "inception5b": final}
    assert logits.shape == (2, 10) and len(aux) == 2


def test_greyscale_input():
    model = create_model("googlenet_small", num_classes=10, width=0.25, in_chans=1).eval()
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_naive_channels_grow_with_input():
    with torch.device("meta"):
        model = create_model("googlenet_naive")
    mods = [m for m in model.modules() if isinstance(m, InceptionNaive)]
    assert len(mods) == 9
    # Figure 2a: out = #1x1 + #3x3 + #5x5 + in_channels
    assert mods[0].out_channels == 64 + 128 + 32 + 192
    assert mods[1].out_channels == 128 + 192 + 96 + mods[0].out_channels
    with torch.device("meta"):  # counting only: no memory, no init arithmetic
        reduced = sum(p.numel() for p in create_model("googlenet", aux_logits=False).parameters())
        naive = sum(p.numel() for p in create_model("googlenet_naive", aux_logits=False).parameters())
    assert naive > 5 * reduced


def test_lrn_false_and_dropout_option():
    model = create_model("googlenet", lrn=False, dropout=0.25)
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in model.modules())
    assert model.dropout.p == 0.25


def test_reset_classifier():
    model = create_model("googlenet", num_classes=1000)
    model.reset_classifier(3)
    logits, aux = model.eval()(torch.randn(1, 3, 64, 64), return_aux=True)
    assert logits.shape == (1, 3) and all(a.shape == (1, 3) for a in aux)


@pytest.mark.parametrize("shape", [(3, 224, 224), (1, 1, 224, 224), (1, 4, 64, 64)])
def test_wrong_input_shape_is_a_clear_error(shape):
    model = create_model("googlenet")
    with pytest.raises(InputSizeError, match="expected a batch of shape N x 3 x H x W"):
        model(torch.randn(*shape))


def test_min_input_size_is_the_real_boundary():
    from googlenet.probe import check_input_size, min_input_size

    smallest = min_input_size("googlenet")
    model = create_model("googlenet").eval()
    with torch.no_grad():
        model(torch.randn(1, 3, smallest, smallest))
        with pytest.raises(RuntimeError):
            model(torch.randn(1, 3, smallest - 1, smallest - 1))
    with pytest.raises(InputSizeError, match=f"smallest it accepts is {smallest} px"):
        check_input_size("googlenet", smallest - 1)
