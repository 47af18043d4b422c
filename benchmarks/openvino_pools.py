"""What dropping the unread argmax indices of OpenVINO's max pools gives (``drop_pool_indices``, docs/cpu.md).

OpenVINO's PyTorch frontend converts ``max_pool2d`` to ``MaxPool`` v14, which also writes argmax indices; nothing
reads them in GoogLeNet. This compiles one model converted both ways (float at OpenVINO's default precision for
the machine, and NNCF int8 calibrated on random images), times each compiled model in its own block, several
rounds, and prints images/s and the rewrite's ratio per precision, with the CPU named:

    python benchmarks/openvino_pools.py [--model googlenet_bn] [--batch 16] [--threads 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from googlenet.cli._common import positive_int
from googlenet.factory import create_model, default_contract
from googlenet.runtime import openvino_engine
from googlenet.runtime.cpu import cpu_info


def images_per_s(compiled: object, x: np.ndarray, repeats: int) -> float:
    """Median images/s of one synchronous request over ``repeats`` calls after two warm-up calls."""
    request = compiled.create_infer_request()  # type: ignore[attr-defined]
    for _ in range(2):
        request.infer({0: x})
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        request.infer({0: x})
        times.append(time.perf_counter() - start)
    return len(x) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="googlenet_bn")
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--repeats", type=positive_int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = create_model(args.model).eval()
    contract = default_contract(args.model)
    calibration = torch.randn(32, contract.in_chans, contract.input_size, contract.input_size)
    compiled = {}
    for rewrite in (False, True):
        ov_model = openvino_engine.convert(model, contract, rewrite=rewrite)
        compiled["float", rewrite] = openvino_engine.compile_model(ov_model, args.threads)
        quantized = openvino_engine.quantize(openvino_engine.convert(model, contract, rewrite=rewrite), calibration)
        compiled["int8", rewrite] = openvino_engine.compile_model(quantized, args.threads)
    shape = (args.batch, contract.in_chans, contract.input_size, contract.input_size)
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    speeds: dict[tuple[str, bool], list[float]] = {key: [] for key in compiled}
    for _ in range(args.rounds):
        for key, one in compiled.items():
            speeds[key].append(images_per_s(one, x, args.repeats))
            time.sleep(0.5)  # OpenVINO's pool spins a moment after a call
    print(f"CPU: {cpu_info().describe()}; {args.threads} threads, batch {args.batch}, {args.rounds} rounds")
    float_precision = openvino_engine.precision_of(compiled["float", False])
    print("| precision | plain img/s (min-max) | pools without indices img/s (min-max) | ratio |")
    print("|---|---:|---:|---:|")
    for kind, label in (("float", float_precision), ("int8", "int8")):
        plain, rewritten = speeds[kind, False], speeds[kind, True]
        ratio = statistics.median(rewritten) / statistics.median(plain)
        print(
            f"| {label} | {statistics.median(plain):.1f} ({min(plain):.1f}-{max(plain):.1f}) "
            f"| {statistics.median(rewritten):.1f} ({min(rewritten):.1f}-{max(rewritten):.1f}) | {ratio:.2f} |"
        )


if __name__ == "__main__":
    main()
