"""The OpenVINO back ends against a float64 eager reference, run as its own process by test_cpu_engines.py.

OpenVINO's thread pool, once loaded into the pytest process, crashed later tests that fork DataLoader workers and
then start torchrun (a segmentation fault in the parent), so the check runs apart and prints its figures as JSON.
"""

from __future__ import annotations

import copy
import json

import torch

from _families import REPRESENTATIVES, build
from googlenet.deploy.parity import relative_diff
from googlenet.runtime.backends import make_backend
from googlenet.runtime.cpu import cpu_info
from googlenet.runtime.openvino_engine import convert


def pool_outputs(model: torch.nn.Module, contract, rewrite: bool = True) -> list[int]:
    """How many outputs each MaxPool of the converted model has (2: it also computes argmax indices)."""
    ov_model = convert(model, contract, rewrite)
    return [len(op.outputs()) for op in ov_model.get_ordered_ops() if op.get_type_name() == "MaxPool"]


def main() -> None:
    model, contract = build(REPRESENTATIVES["googlenet_bn"])
    # 64 px: at the smallest size PyTorch accepts (15), pool 3 meets a 2 x 2 map, which OpenVINO refuses
    contract = contract.replace(input_size=64)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 3, 64, 64, generator=g)
    with torch.no_grad():
        expected = copy.deepcopy(model).double()(x.double())
    forward = make_backend("openvino", model, contract, threads=1)
    got = forward(x)  # a batch of 3: the converted model's batch dimension is dynamic
    calibration = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    q = make_backend("openvino_int8", model, contract, threads=1, calibration=calibration)
    # the default thread count (every core): with 2 throughput streams OpenVINO 2026.4 returned wrong int8 batches
    q_all = make_backend("openvino_int8", model, contract, calibration=calibration)
    # PyTorch's ceil_mode drops this pool's last window (it starts in the padding); opset1's ceil would keep it
    edge = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.MaxPool2d(2, 2, padding=1, ceil_mode=True))
    edge_x = torch.randn(2, 3, 5, 5, generator=g)
    with torch.no_grad():
        edge_expected = copy.deepcopy(edge).double()(edge_x.double())
    edge_got = make_backend("openvino", edge, contract.replace(input_size=5), threads=1)(edge_x)
    print(
        json.dumps(
            {
                "torch_pools": sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()),
                "pool_outputs": pool_outputs(model, contract),
                "engine_default_pool_outputs": pool_outputs(model, contract, rewrite=False),
                "edge_pool_outputs": pool_outputs(edge, contract.replace(input_size=5)),
                "edge_shape": list(edge_got.shape),
                "edge_diff": relative_diff(edge_got, edge_expected),
                "shape": list(got.shape),
                "precision": forward.precision,
                "diff": relative_diff(got, expected),
                "int8_diff": relative_diff(q(x), expected),
                "int8_all_cores_diff": relative_diff(q_all(x), expected),
                "bf16_native": cpu_info().bf16_native,
            }
        )
    )


if __name__ == "__main__":
    main()
