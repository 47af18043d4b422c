"""Where eager CPU time goes besides arithmetic: first-touch page faults on freshly allocated large tensors.

glibc serves allocations above 32 MiB with ``mmap`` and returns them with ``munmap``, so every eager op whose
output is that large faults in fresh zeroed pages on every call; ONNX Runtime's arena reuses its buffers.
This times one elementwise op on GoogLeNet's largest LRN input (16 x 192 x 56 x 56, 38.5 MB) three ways,
side by side, and prints the ratios and minor page faults per call:

    python benchmarks/allocation.py [--repeats 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from collections.abc import Callable

import torch

from googlenet.cli.argtypes import positive_int


def measure(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds per call and minor page faults per call."""
    fn()
    times = []
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats
    return statistics.median(times), faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=positive_int, default=20)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--shape", default="16,192,56,56", help="tensor shape, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shape = [int(s) for s in args.shape.split(",")]
    x = torch.rand(shape)
    out = torch.empty_like(x)
    cases = {
        "x * 2 (new output each call)": lambda: x * 2.0,
        "torch.mul(x, 2, out=buffer)": lambda: torch.mul(x, 2.0, out=out),
        "x.mul_(1) (in place)": lambda: x.mul_(1.0),
    }
    results = {name: measure(fn, args.repeats) for name, fn in cases.items()}
    base = results["torch.mul(x, 2, out=buffer)"][0]
    mb = x.numel() * x.element_size() / 1e6
    print(f"tensor {'x'.join(map(str, shape))} ({mb:.1f} MB), {args.threads} threads, median of {args.repeats}")
    print("| op | ms | x out=buffer time | minor page faults per call |")
    print("|---|---:|---:|---:|")
    for name, (seconds, faults) in results.items():
        print(f"| {name} | {seconds * 1e3:.1f} | {seconds / base:.2f} | {faults:.0f} |")


if __name__ == "__main__":
    main()
