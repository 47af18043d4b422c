"""Fused Inception 1x1 convolutions: the same function as the unfused model (float64), two fewer convs per module,
ONNX export and the back ends, the bench rows."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from _families import randomize_bn
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.deploy.export import export_model
from googlenet.factory import create_model
from googlenet.models.inception import Inception
from googlenet.preprocess import normalizer
from googlenet.runtime.backends import make_backend
from googlenet.runtime.fuse_1x1 import FusedInception, fuse_inception_1x1

CASES = {  # id -> (registered name, options)
    "googlenet": ("googlenet", {}),
    "googlenet_bn": ("googlenet_bn", {}),
    "googlenet_width0.5": ("googlenet", {"width": 0.5}),
    "googlenet_bn_width0.5": ("googlenet_bn", {"width": 0.5}),
}


def build(name: str, seed: int = 0, **options) -> nn.Module:
    """Random weights, non-trivial batch-norm statistics, and conv biases away from zero (Caffe's init sets 0.2
    everywhere, which would hide a bias stacked in the wrong order)."""
    torch.manual_seed(seed)
    model = randomize_bn(create_model(name, num_classes=10, aux_logits=False, **options), seed)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.4 - 0.2)
    return model.eval()


def convs(model: nn.Module) -> int:
    return sum(isinstance(m, nn.Conv2d) for m in model.modules())


@pytest.mark.parametrize("size", [224, 40])
@pytest.mark.parametrize("case", list(CASES))
def test_fused_equals_unfused_in_float64(case, size):
    name, options = CASES[case]
    model = build(name, **options).double()
    x = torch.randn(2, 3, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = model(x)  # the original graph: batch norm and three separate 1x1 convs per module
        got = fuse_inception_1x1(model)(x)
    assert expected.std() > 1e-3  # non-degenerate logits, so the comparison can fail
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)


def test_a_permuted_stacked_conv_is_caught():
    # the comparison above can fail: the #1x1 output channels of the stacked conv permuted
    model = build("googlenet").double()
    fused = fuse_inception_1x1(model)
    block = fused.inception3a
    assert isinstance(block, FusedInception) and block.splits == [64, 96, 16]
    with torch.no_grad():
        w = block.conv1x1.weight
        w[:64] = w[:64].flip(0)
        x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
        assert (fused(x) - model(x)).abs().max() > 1e-6


@pytest.mark.parametrize("case", list(CASES))
def test_two_fewer_convs_per_inception_module(case):
    name, options = CASES[case]
    model = build(name, **options)
    fused = fuse_inception_1x1(model)
    assert sum(isinstance(m, Inception) for m in model.modules()) == 9  # the input is untouched
    assert sum(isinstance(m, FusedInception) for m in fused.modules()) == 9
    assert not any(isinstance(m, (Inception, nn.BatchNorm2d)) for m in fused.modules())
    assert convs(model) - convs(fused) == 18
    # the stacked conv's width is the three branches' (Table 1, 3a: 64 + 96 + 16, scaled)
    expected = sum(max(1, int(n * options.get("width", 1.0) + 0.5)) for n in (64, 96, 16))
    assert fused.inception3a.conv1x1.out_channels == expected


def test_naive_module_is_left_as_it_is():
    model = build("googlenet_naive", width=0.25)
    fused = fuse_inception_1x1(model)
    assert convs(fused) == convs(model) and not any(isinstance(m, FusedInception) for m in fused.modules())


def test_onnx_export_of_the_fused_graph_matches_eager(tmp_path):
    model = build("googlenet_bn", width=0.5)
    contract = ModelContract("googlenet_bn", 10, input_size=64)
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    fused = fuse_inception_1x1(model)
    out = tmp_path / "fused.onnx"
    result = export_model(fused, out, "onnx", images=images, contract=contract, dynamic_batch=True)
    assert result.max_abs_diff <= 1e-4
    graph = onnx.load(str(out)).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("Split") == 9
    unfused = export_model(model, tmp_path / "plain.onnx", "onnx", images=images, contract=contract)
    plain_ops = [n.op_type for n in onnx.load(str(unfused.path)).graph.node]
    assert plain_ops.count("Conv") - ops.count("Conv") == 18
    # ONNX Runtime on the file against the UNFUSED eager model, on the normalised images
    x = normalizer(contract)(images)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    with torch.no_grad():
        expected = model(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(("backend", "atol"), [("channels_last", 1e-4), ("onnxruntime", 1e-4), ("openvino", 1e-3)])
def test_back_ends_run_the_fused_graph(backend, atol):
    model = build("googlenet", width=0.5)  # LRN, no batch norm
    contract = ModelContract("googlenet", 10, input_size=64)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    forward = make_backend(backend, fuse_inception_1x1(model), contract, batch_size=2, threads=1)
    with torch.no_grad():
        expected = model(x)
    got = forward(x).float()
    torch.testing.assert_close(got, expected, atol=atol, rtol=atol)


def test_bench_times_fused_rows_beside_unfused(capsys):
    argv = ["bench", "googlenet_small", "--fuse-1x1", "--paths", "eager,onnxruntime", "--input-size", "32"]
    argv += ["--batch", "2", "--repeats", "1", "--warmup", "0", "--threads", "1", "--reference", "none"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "1x1 convolutions fused vs unfused, per path: eager " in out and ", onnxruntime " in out
    assert main([*argv, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["path"] for r in rows] == ["eager", "eager+fuse1x1", "onnxruntime", "onnxruntime+fuse1x1"]
    assert all(r["max_rel_diff"] < 1e-4 for r in rows)


def test_bench_fuse_on_a_model_without_reductions_is_one_line(capsys):
    argv = ["bench", "googlenet_naive", "--set", "width=0.25", "--fuse-1x1", "--paths", "eager", "--batch", "1"]
    assert main([*argv, "--input-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("googlenet bench: error:") and "--fuse-1x1" in err and "\n" not in err
