"""What dropping the unread argmax indices of OpenVINO's max pools gives (``drop_pool_indices``, docs/cpu.md).

OpenVINO's PyTorch frontend converts ``max_pool2d`` to ``MaxPool`` v14, which also writes argmax indices; nothing
reads them in GoogLeNet. This compiles one model converted both ways (float at OpenVINO's default precision for
the machine, and NNCF int8 calibrated on random images), times each compiled model in its own block, several
rounds, and prints images/s and the rewrite's ratio per precision, with the CPU named. ``--profile`` then also
prints OpenVINO's own per-node timing of one batch (``PERF_COUNT``) for each: milliseconds per node type, and the
``Reorder`` nodes the engine puts on the pools' index outputs (named ``MaxPool...``):

    python benchmarks/openvino_pools.py [--model googlenet_bn] [--batch 16] [--threads 2] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time

import numpy as np
import torch

from googlenet.cli.argtypes import positive_int
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


def node_times(compiled: object, x: np.ndarray) -> tuple[dict[str, float], int, float]:
    """OpenVINO's timing of one batch (after two warm-up calls): ms per node type, slowest first, and the count
    and ms of the reorders on max pools' outputs (the index stubs ``drop_pool_indices`` removes)."""
    request = compiled.create_infer_request()  # type: ignore[attr-defined]
    for _ in range(3):
        request.infer({0: x})
    by_type: collections.Counter[str] = collections.Counter()
    pool_reorders, pool_ms = 0, 0.0
    for node in request.get_profiling_info():
        ms = node.real_time.total_seconds() * 1e3
        by_type[node.node_type] += ms
        if node.node_type == "Reorder" and "MaxPool" in node.node_name:
            pool_reorders, pool_ms = pool_reorders + 1, pool_ms + ms
    return dict(by_type.most_common()), pool_reorders, pool_ms


def print_profile(models: dict[tuple[str, bool], object], x: np.ndarray, top: int = 8) -> None:
    """Per precision: the ``top`` node types by the plain graph's time, plain against rewritten, and the pool
    reorders."""
    for kind in ("float", "int8"):
        (plain, p_count, p_ms), (rewritten, r_count, r_ms) = (node_times(models[kind, r], x) for r in (False, True))
        print(f"\nOpenVINO's profile, {kind}, one batch (ms; PERF_COUNT):")
        print("| node type | plain | pools without indices |")
        print("|---|---:|---:|")
        for name in list(plain)[:top]:
            print(f"| {name} | {plain[name]:.1f} | {rewritten.get(name, 0.0):.1f} |")
        print(f"| all | {sum(plain.values()):.1f} | {sum(rewritten.values()):.1f} |")
        print(
            f"reorders on max pools' outputs: {p_count} nodes, {p_ms:.1f} ms ({100 * p_ms / sum(plain.values()):.1f} %)"
            f" plain; {r_count} nodes, {r_ms:.1f} ms without indices"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="googlenet_bn")
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--rounds", type=positive_int, default=5)
    parser.add_argument("--repeats", type=positive_int, default=8)
    parser.add_argument("--profile", action="store_true", help="also print OpenVINO's per-node timing of each")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = create_model(args.model).eval()
    contract = default_contract(args.model)
    calibration = torch.randn(32, contract.in_chans, contract.input_size, contract.input_size)
    compiled, profiled = {}, {}
    for rewrite in (False, True):
        ov_model = openvino_engine.convert(model, contract, rewrite=rewrite)
        # a second conversion on purpose: nncf.quantize edits the graph it is given in place (its
        # remove_friendly_name_duplicates renames nodes and marks rt_info), so the float graph stays untouched
        quantized = openvino_engine.quantize(openvino_engine.convert(model, contract, rewrite=rewrite), calibration)
        for kind, graph in (("float", ov_model), ("int8", quantized)):
            compiled[kind, rewrite] = openvino_engine.compile_model(graph, args.threads)
            if args.profile:  # compiled apart: per-node timing is not on while the speeds are measured
                profiled[kind, rewrite] = openvino_engine.compile_model(graph, args.threads, profile=True)
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
    if args.profile:
        print_profile(profiled, x)


if __name__ == "__main__":
    main()
