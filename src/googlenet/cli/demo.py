"""``googlenet demo``: train the Fashion-MNIST demo recipe on this machine and say where the results are."""

from __future__ import annotations

import argparse
import time

from ..config import load_recipe, merge, parse_overrides
from ..train.loop import train


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train a small GoogLeNet on Fashion-MNIST (CPU, < 10 minutes)")
    p.add_argument("--out", default="runs/fashion-mnist-demo", help="output folder")
    p.add_argument("--data", help="folder with Fashion-MNIST's IDX .gz files")
    p.add_argument("--download", action="store_true", help="download Fashion-MNIST with torchvision when absent")
    p.add_argument("overrides", nargs="*", metavar="FIELD=VALUE")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags = {"checkpoint": {"out": args.out}, "data": {"download": args.download}}
    if args.data:
        flags["data"]["root"] = args.data
    cfg = load_recipe("fashion-mnist-demo", merge(flags, parse_overrides(args.overrides)))
    t0 = time.perf_counter()
    summary = train(cfg)
    minutes = (time.perf_counter() - t0) / 60
    final = summary["final"]
    print(
        f"\nFashion-MNIST test accuracy: {100 * final['val_acc']:.2f}% ({final['val_count']} images, "
        f"{summary['steps']} steps, {minutes:.1f} min)"
    )
    print(f"checkpoint: {summary['best']}")
    print(f"plot: {summary['curves']}")
    return 0
