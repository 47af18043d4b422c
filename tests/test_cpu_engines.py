"""The CPU's matrix units (issue 26): the bf16 and OpenVINO back ends against a float64 eager reference, with a
tolerance per precision; the CPU facts read at run time; and ``amp=auto``'s choice for given flags."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from _families import REPRESENTATIVES, build
from _runs import env
from googlenet.deploy.parity import relative_diff
from googlenet.runtime.backends import make_backend
from googlenet.runtime.cpu import auto_amp, cpu_info, parse_cpuinfo, per_cycle

# bf16 keeps 8 bits of mantissa: about 0.4 % per rounding, a few percent through a network's depth
TOLERANCE = {"f32": 1e-4, "bf16": 5e-2}

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
cpu MHz\t\t: 2000.000
flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512_vnni amx_bf16 amx_tile amx_int8
"""


def float64_reference(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return copy.deepcopy(model).double()(x.double())


def _input(contract, n: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, contract.in_chans, contract.input_size, contract.input_size, generator=g)


@pytest.mark.parametrize("family", ["googlenet_bn", "resnet"])
def test_bf16_back_end_is_close_to_float64(family: str) -> None:
    model, contract = build(REPRESENTATIVES[family])
    x = _input(contract)
    forward = make_backend("bf16", model, contract, threads=1)
    got = forward(x)
    assert got.dtype == torch.float32 and got.shape == (3, 10) and forward.precision == "bf16"
    assert relative_diff(got, float64_reference(model, x)) < TOLERANCE["bf16"]


def test_openvino_back_ends_are_close_to_float64() -> None:
    """In its own process (tests/_openvino_check.py): OpenVINO's threads must not live in the pytest process."""
    pytest.importorskip("openvino")
    script = Path(__file__).with_name("_openvino_check.py")
    r = subprocess.run([sys.executable, str(script)], env=env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["shape"] == [3, 10] and got["precision"] in TOLERANCE, got
    assert got["diff"] < TOLERANCE[got["precision"]]
    # OpenVINO picks bf16 exactly where the CPU has bf16 instructions, as amp=auto does
    assert (got["precision"] == "bf16") == got["bf16_native"] == cpu_info().bf16_native
    assert 0 < got["int8_diff"] < 0.2  # quantised: close, not equal
    assert 0 < got["int8_all_cores_diff"] < 0.2
    # every max pool converted without the argmax indices nobody reads, except where opset1's rounding would
    # change the output's shape
    assert got["pool_outputs"] == [1] * got["torch_pools"] and got["torch_pools"] == 13
    assert got["edge_pool_outputs"] == [2]
    # and that pool's values are PyTorch's: 5 px padded by 1, windows of 2 at stride 2 -> 3, not opset1's 4
    assert got["edge_shape"] == [2, 4, 3, 3] and got["edge_diff"] < TOLERANCE[got["precision"]]
    assert got["engine_default_pool_outputs"] == [2] * 13  # bench's peer rows: OpenVINO's converter as it is


def test_cpu_facts_are_read_from_cpuinfo() -> None:
    info = parse_cpuinfo(CPUINFO, cores=2)
    assert info.model == "Intel(R) Xeon(R) Platinum 8480+" and info.bf16_native and info.mhz == 2000.0
    # AMX: 1,024 bf16 FLOP a cycle a core; AVX-512 FMA: 2 units x 16 lanes x 2 = 64 fp32
    assert info.peak_flops("bf16") == 1024 * 2000e6 * 2 and info.peak_flops("fp32") == 64 * 2000e6 * 2
    assert per_cycle({"avx2", "fma"}) == 32 and per_cycle({"avx2", "fma"}, "bf16") == 32
    assert per_cycle({"avx512f", "avx512_bf16"}, "bf16") == 128
    assert parse_cpuinfo("", cores=1).flags == frozenset()


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "fma"}, "none"),  # AMD EPYC with AVX2 only: fp32
        ({"avx512f", "avx512_vnni"}, "none"),  # AVX-512 without bf16
        ({"avx512f", "avx512_bf16"}, "bf16"),
        ({"amx_bf16", "amx_tile", "avx512_bf16"}, "bf16"),
    ],
)
def test_amp_auto_picks_bf16_only_with_bf16_instructions(flags: set[str], expected: str) -> None:
    assert auto_amp("cpu", flags) == expected


def test_amp_auto_on_cuda_follows_the_gpu() -> None:
    assert auto_amp("cuda", cuda_bf16=True) == "bf16" and auto_amp("cuda", cuda_bf16=False) == "none"
