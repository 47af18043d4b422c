"""``googlenet summary MODEL``: per-layer shapes, params, MACs, receptive fields and activation memory.

Beside Table 1 for GoogLeNet; ``--naive-vs-reduced`` compares every Inception module with the naive Figure 2a
module. The model is built on the meta device: everything printed is counted, nothing is computed. The tables
themselves are :mod:`googlenet.analysis.tables`.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from ..analysis.naive import naive_vs_reduced
from ..analysis.paper import compare_table1
from ..analysis.profile import profile_model
from ..analysis.stages import stage_table
from ..analysis.tables import (
    LAYER_LEGEND,
    NAIVE_LEGEND,
    layer_table,
    naive_table,
    stages_table,
    table1_table,
    totals_lines,
)
from ..factory import model_info
from ..probe import check_input_size, meta_model
from ._common import add_model_args, parse_model_args, print_json
from .argtypes import non_negative_int, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="per-layer shapes, params and multiply-adds (Table 1 for GoogLeNet)")
    p.add_argument("model", help="registered model name (see `googlenet models`)")
    p.add_argument(
        "--input-size", type=positive_int, default=None, help="square input size in px (default: the model's)"
    )
    p.add_argument(
        "--num-classes", type=non_negative_int, default=1000, help="classifier outputs (0: features only; default 1000)"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    p.add_argument(
        "--naive-vs-reduced",
        action="store_true",
        help="per Inception module: naive Figure 2a vs Figure 2b with 1x1 reductions (GoogLeNet models)",
    )
    add_model_args(p)
    p.set_defaults(func=run)


def is_paper_setting(name: str, args: argparse.Namespace, kwargs: dict) -> bool:
    return name == "googlenet" and args.input_size == 224 and args.num_classes == 1000 and not kwargs


def run_naive(args: argparse.Namespace, kwargs: dict) -> int:
    rows = naive_vs_reduced(args.model, args.input_size, num_classes=args.num_classes, **kwargs)
    if args.json:
        out = [
            {
                "module": r.name,
                **{k: asdict(getattr(r, k)) for k in ("reduced", "naive_same_input", "naive_cumulative")},
            }
            for r in rows
        ]
        print_json({"model": args.model, "input_size": args.input_size, "modules": out})
        return 0
    print(f"{args.model}: Figure 2a (naive) vs Figure 2b (reductions), {args.input_size}x{args.input_size} input")
    print(naive_table(rows))
    print()
    print(NAIVE_LEGEND)
    return 0


def run(args: argparse.Namespace) -> int:
    kwargs = parse_model_args(args.model_args)
    info = model_info(args.model)
    args.input_size = args.input_size or info.default_input_size
    check_input_size(args.model, args.input_size, **kwargs)
    if args.naive_vs_reduced:
        return run_naive(args, kwargs)
    model = meta_model(args.model, args.num_classes, **kwargs)  # counting only: no memory, no arithmetic
    prof = profile_model(model, args.input_size)
    paper = is_paper_setting(args.model, args, kwargs)
    if args.json:
        out = {"model": args.model, "num_classes": args.num_classes, "model_args": kwargs, **prof.to_dict()}
        out["stages"] = [asdict(st) for st in stage_table(prof)]
        if paper:
            out["table1"] = [c.__dict__ for c in compare_table1(prof)]
        print_json(out)
        return 0
    print(f"{args.model}: {args.input_size}x{args.input_size} input, {args.num_classes} classes")
    print(layer_table(prof))
    print(LAYER_LEGEND)
    print()
    print("Parameters and multiply-adds per stage (inference network):")
    print(stages_table(prof))
    print()
    if paper:
        print("Table 1 of the paper beside what the network computes (ops = multiply-adds):")
        print(table1_table(prof))
        print("  'conv 3x3/1' covers conv2 (1x1 reduce to 64) + conv3 (3x3 to 192), as the paper's row does.")
        print()
    print("\n".join(totals_lines(prof)))
    return 0
