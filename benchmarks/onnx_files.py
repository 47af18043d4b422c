"""Time exported ONNX files side by side in ONNX Runtime (round-robin, one process) and print their ratios.

    googlenet export --model googlenet -o node.onnx --dynamic-batch
    googlenet export --model googlenet -o conv.onnx --dynamic-batch --lrn-as-conv
    python benchmarks/onnx_files.py node.onnx conv.onnx [--batch 16] [--repeats 10] [--threads 2]

Each file gets the same random batch; the first file is the reference of the ratio column.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from googlenet.cli.argtypes import positive_int
from googlenet.weights import open_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--batch", type=positive_int, default=16)
    parser.add_argument("--repeats", type=positive_int, default=10)
    parser.add_argument("--threads", type=positive_int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    runs = {}
    for path in args.files:
        mf = open_model(path)
        c = mf.feed_contract
        runs[path] = (mf.forward(threads=args.threads), (args.batch, c.in_chans, c.input_size, c.input_size))
    rng = np.random.default_rng(0)
    inputs = {p: torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)) for p, (_, shape) in runs.items()}
    times: dict[str, list[float]] = {p: [] for p in runs}
    for path, (fn, _) in runs.items():
        fn(inputs[path])  # warm-up
    for _ in range(args.repeats):
        for path, (fn, _) in runs.items():
            start = time.perf_counter()
            fn(inputs[path])
            times[path].append(time.perf_counter() - start)
    base = statistics.median(times[args.files[0]])
    print(f"batch {args.batch}, {args.threads} threads, median of {args.repeats} round-robin repeats")
    print(f"| file | ms per batch | images/s | x {args.files[0]} |")
    print("|---|---:|---:|---:|")
    for path, t in times.items():
        median = statistics.median(t)
        print(f"| {path} | {median * 1e3:.1f} | {args.batch / median:.1f} | {base / median:.2f} |")


if __name__ == "__main__":
    main()
