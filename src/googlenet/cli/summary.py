"""``googlenet summary MODEL``: per-layer shapes, parameters and multiply-adds, beside Table 1 for GoogLeNet."""

from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from ..analysis.paper import compare_table1
from ..analysis.profile import ModelProfile, check_input_size, profile_model
from ..registry import create_model, model_info
from ._common import add_model_args, human, parse_model_args

HIDDEN_KINDS = {"ReLU", "Identity"}  # zero-cost rows that only clutter the table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="per-layer shapes, params and multiply-adds (Table 1 for GoogLeNet)")
    p.add_argument("model", help="registered model name (see `googlenet models`)")
    p.add_argument("--input-size", type=int, default=None, help="square input size in px (default: the model's)")
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    add_model_args(p)
    p.set_defaults(func=run)


def _shape(shape: tuple[int, ...] | None) -> str:
    return "x".join(map(str, shape)) if shape else "-"


def _delta(computed: float, paper: float | None) -> str:
    if paper is None:
        return ""
    pct = (computed - paper) / paper * 100
    return "0%" if abs(pct) < 0.5 else f"{pct:+.0f}%"


def is_paper_setting(name: str, args: argparse.Namespace, kwargs: dict) -> bool:
    return name == "googlenet" and args.input_size == 224 and args.num_classes == 1000 and not kwargs


def layer_table(prof: ModelProfile) -> str:
    rows = [
        [r.name, r.kind, _shape(r.output_shape), f"{r.params:,}", human(r.macs) if r.macs else "-"]
        for r in prof.rows
        if r.kind not in HIDDEN_KINDS and r.calls
    ]
    return tabulate(rows, ["layer", "type", "output (CxHxW)", "params", "MACs"], colalign=("left", "left", "right"))


def table1_table(prof: ModelProfile) -> str:
    rows = []
    for c in compare_table1(prof):
        rows.append(
            [
                c.label,
                "x".join(map(str, c.paper_output)),
                "x".join(map(str, c.output)) if c.output else "-",
                human(c.paper_params) if c.paper_params else "",
                human(c.params) if c.params else "",
                _delta(c.params, c.paper_params),
                human(c.paper_ops) if c.paper_ops else "",
                human(c.macs) if c.macs else "",
                _delta(c.macs, c.paper_ops),
            ]
        )
    headers = [
        "Table 1 row",
        "paper out",
        "computed out",
        "paper params",
        "params",
        "diff",
        "paper ops",
        "MACs",
        "diff",
    ]
    return tabulate(rows, headers, colalign=("left",) + ("right",) * 8)


def totals_lines(prof: ModelProfile) -> list[str]:
    lines = [
        f"total params: {prof.total_params:,}  ({human(prof.total_params)})",
        f"total MACs:   {prof.total_macs:,}  ({human(prof.total_macs)})",
    ]
    if prof.aux_params:
        lines += [
            f"inference network (auxiliary heads dropped): params {prof.main_params:,}, MACs {prof.main_macs:,} "
            f"({human(prof.main_macs)})",
            f"auxiliary heads (training only): params {prof.aux_params:,}, MACs {prof.aux_macs:,}",
        ]
    return lines


def run(args: argparse.Namespace) -> int:
    kwargs = parse_model_args(args.model_args)
    info = model_info(args.model)
    args.input_size = args.input_size or info.default_input_size
    check_input_size(args.model, args.input_size, **kwargs)
    model = create_model(args.model, num_classes=args.num_classes, **kwargs)
    prof = profile_model(model, args.input_size)
    paper = is_paper_setting(args.model, args, kwargs)
    if args.json:
        out = {"model": args.model, "num_classes": args.num_classes, "model_args": kwargs, **prof.to_dict()}
        if paper:
            out["table1"] = [c.__dict__ for c in compare_table1(prof)]
        print(json.dumps(out, indent=2))
        return 0
    print(f"{args.model}: {args.input_size}x{args.input_size} input, {args.num_classes} classes")
    print(layer_table(prof))
    print()
    if paper:
        print("Table 1 of the paper beside what the network computes (ops = multiply-adds):")
        print(table1_table(prof))
        print("  'conv 3x3/1' covers conv2 (1x1 reduce to 64) + conv3 (3x3 to 192), as the paper's row does.")
        print()
    print("\n".join(totals_lines(prof)))
    return 0
