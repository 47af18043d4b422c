"""The runtime's one back-end registry: every back end against a float64 eager reference, one model per family."""

from __future__ import annotations

import copy

import pytest
import torch

from _families import REPRESENTATIVES, build, representatives
from googlenet.deploy.parity import relative_diff
from googlenet.errors import UserError
from googlenet.runtime.backends import BACKENDS, CPU_ONLY, UnknownBackendError, available_backends, make_backend

pytest.importorskip("onnxruntime")

# VGG and AlexNet at their smallest inputs upsample in their adaptive pools, which only the slower dynamo exporter
# writes to ONNX: the onnxruntime back end's fallback, exercised here
FAMILIES = [pytest.param(f, marks=pytest.mark.slow) if f == "vgg" else f for f in sorted(REPRESENTATIVES)]
FLOAT32_BACKENDS = ["eager", "channels_last", "onnxruntime"]  # compile: one family below (it compiles for minutes)


def test_representatives_are_the_smallest() -> None:
    assert representatives() == REPRESENTATIVES


def test_the_registry_holds_the_documented_back_ends() -> None:
    assert available_backends() == [
        "eager", "channels_last", "compile", "compile_bf16", "onnxruntime", "onnxruntime_int8", "bf16", "openvino",
        "openvino_int8",
    ]  # fmt: skip
    assert {"onnxruntime", "onnxruntime_int8", "openvino", "openvino_int8"} == CPU_ONLY
    with pytest.raises(UnknownBackendError, match="'onnxruntime_merged'; available: eager, channels_last"):
        make_backend("onnxruntime_merged", *build("resnet18"))


def float64_reference(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return copy.deepcopy(model).double()(x.double())


@pytest.mark.parametrize("family", FAMILIES)
def test_every_backend_matches_float64_eager(family: str) -> None:
    model, contract = build(REPRESENTATIVES[family])
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, contract.in_chans, contract.input_size, contract.input_size, generator=g)
    forwards = {name: make_backend(name, model, contract, batch_size=2, threads=1) for name in FLOAT32_BACKENDS}
    expected = float64_reference(model, x)
    for name, forward in forwards.items():
        got = forward(x)  # a batch size the back ends were not built for
        assert got.dtype == torch.float32 and got.shape == (3, 10), name
        assert relative_diff(got, expected) < 1e-5, name


@pytest.mark.slow
def test_compile_matches_float64_eager() -> None:
    model, contract = build(REPRESENTATIVES["googlenet_bn"])
    x = torch.randn(2, 3, contract.input_size, contract.input_size, generator=torch.Generator().manual_seed(2))
    forward = make_backend("compile", model, contract, batch_size=2, threads=1)
    assert relative_diff(forward(x), float64_reference(model, x)) < 1e-5


def test_a_compile_that_fails_is_one_line(monkeypatch) -> None:
    def no_compiler(net, **_):
        def run(x):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found in torch._inductor.config.cpp.cxx")

        return run

    monkeypatch.setattr(torch, "compile", no_compiler)
    model, contract = build(REPRESENTATIVES["googlenet_bn"])
    for name in ("compile", "compile_bf16"):
        with pytest.raises(UserError, match=r"torch.compile could not compile .*InvalidCxxCompiler.*without compile"):
            make_backend(name, model, contract)


@pytest.mark.slow
def test_compile_bf16_matches_float64_eager_within_bf16() -> None:
    model, contract = build(REPRESENTATIVES["googlenet_bn"])
    x = torch.randn(2, 3, contract.input_size, contract.input_size, generator=torch.Generator().manual_seed(2))
    forward = make_backend("compile_bf16", model, contract, batch_size=2, threads=1)
    got, expected = forward(x), float64_reference(model, x)
    assert forward.precision == "bf16" and got.dtype == torch.float32
    assert 0 < relative_diff(got, expected) < 5e-2  # bf16: close, not equal (the docs' tolerance for bf16)
    assert torch.equal(got.argmax(1), expected.argmax(1))


def test_int8_is_close_and_cpu_only_backends_refuse_other_devices() -> None:
    model, contract = build(REPRESENTATIVES["resnet"])
    contract = contract.replace(input_size=32)
    g = torch.Generator().manual_seed(3)
    calibration = torch.randn(16, 3, 32, 32, generator=g)
    x = torch.randn(4, 3, 32, 32, generator=g)
    q = make_backend("onnxruntime_int8", model, contract, threads=1, calibration=calibration)
    expected = float64_reference(model, x)
    assert 0 < relative_diff(q(x), expected) < 0.1  # quantised: close, not equal
    for name in sorted(CPU_ONLY):
        with pytest.raises(UserError, match=f"back end '{name}' runs on the CPU only; use --device cpu"):
            make_backend(name, model, contract, device="meta")


def test_back_ends_leave_the_model_alone() -> None:
    model, contract = build(REPRESENTATIVES["googlenet_bn"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for name in ("channels_last", "onnxruntime"):
        make_backend(name, model, contract)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # batch norm was folded into copies
    assert set(BACKENDS) >= {"channels_last", "onnxruntime"}
