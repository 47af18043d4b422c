"""``googlenet summary MODEL``: per-layer shapes, params, MACs, receptive fields and activation memory.

Beside Table 1 for GoogLeNet; ``--naive-vs-reduced`` compares every Inception module with the naive Figure 2a
module. The model is built on the meta device: everything printed is counted, nothing is computed.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict

from tabulate import tabulate

from ..analysis.meta import meta_model
from ..analysis.naive import NaiveVsReduced, naive_vs_reduced
from ..analysis.paper import compare_table1
from ..analysis.profile import ModelProfile, check_input_size, profile_model
from ..analysis.receptive import format_pair
from ..analysis.stages import stage_table
from ..factory import model_info
from ._common import add_model_args, human, parse_model_args, print_json

HIDDEN_KINDS = {"ReLU", "Identity"}  # zero-cost rows that only clutter the table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("summary", help="per-layer shapes, params and multiply-adds (Table 1 for GoogLeNet)")
    p.add_argument("model", help="registered model name (see `googlenet models`)")
    p.add_argument("--input-size", type=int, default=None, help="square input size in px (default: the model's)")
    p.add_argument("--num-classes", type=int, default=1000)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON instead of tables")
    p.add_argument(
        "--naive-vs-reduced",
        action="store_true",
        help="per Inception module: naive Figure 2a vs Figure 2b with 1x1 reductions (GoogLeNet models)",
    )
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


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f}" if n else "-"


def layer_table(prof: ModelProfile) -> str:
    rows = []
    for r in prof.rows:
        if r.kind in HIDDEN_KINDS or not r.calls:
            continue
        rf = [r.rf.describe(), format_pair(r.rf.jump), format_pair(r.rf.start)] if r.rf else ["?", "?", "?"]
        if r.rf is not None and r.rf.is_global:
            rf[1:] = ["all", "all"]
        rows.append(
            [
                r.name,
                r.kind,
                _shape(r.output_shape),
                f"{r.params:,}",
                human(r.macs) if r.macs else "-",
                *rf,
                r.depth,
                _kib(r.out_bytes),
                _kib(r.saved_bytes),
            ]
        )
    headers = [
        "layer",
        "type",
        "output (CxHxW)",
        "params",
        "MACs",
        "RF",
        "jump",
        "start",
        "depth",
        "out KiB",
        "saved KiB",
    ]
    return tabulate(rows, headers, colalign=("left", "left") + ("right",) * 9)


LAYER_LEGEND = (
    "RF/jump/start: receptive field of one output unit, distance between adjacent units' fields and centre of the\n"
    "first unit's field, in input pixels ('all': a global unit). depth: conv/linear layers on the longest path\n"
    "from the input. out: output size; saved: activations this layer keeps for backward in training (one image)."
)


def stages_table(prof: ModelProfile) -> str:
    rows = [
        [st.name, len(st.rows), human(st.params), f"{st.params_share:.1%}", human(st.macs), f"{st.macs_share:.1%}"]
        for st in stage_table(prof)
    ]
    return tabulate(rows, ["stage", "layers", "params", "share", "MACs", "share"], colalign=("left",) + ("right",) * 5)


def naive_table(rows: list[NaiveVsReduced]) -> str:
    out = []
    for r in rows:
        red, same, cum = r.reduced, r.naive_same_input, r.naive_cumulative
        out.append(
            [
                r.name,
                f"{red.size}x{red.size}",
                f"{red.in_channels}->{red.out_channels}",
                human(red.params),
                human(red.macs),
                f"{same.in_channels}->{same.out_channels}",
                human(same.params),
                human(same.macs),
                f"{r.ratio_same_input:.1f}x",
                f"{cum.in_channels}->{cum.out_channels}",
                human(cum.params),
                human(cum.macs),
                f"{r.ratio_cumulative:.1f}x",
            ]
        )
    tot = [
        sum(getattr(getattr(r, k), f) for r in rows)
        for k in ("reduced", "naive_same_input", "naive_cumulative")
        for f in ("params", "macs")
    ]
    out.append(
        [
            "all",
            "",
            "",
            human(tot[0]),
            human(tot[1]),
            "",
            human(tot[2]),
            human(tot[3]),
            f"{tot[3] / tot[1]:.1f}x",
            "",
            human(tot[4]),
            human(tot[5]),
            f"{tot[5] / tot[1]:.1f}x",
        ]
    )
    headers = [
        "module",
        "size",
        "2b channels",
        "2b params",
        "2b MACs",
        "2a same-in channels",
        "params",
        "MACs",
        "ratio",
    ]
    headers += ["2a network channels", "params", "MACs", "ratio"]
    return tabulate(out, headers, colalign=("left",) + ("right",) * 12)


NAIVE_LEGEND = (
    "2b: the module with 1x1 reductions and pool projection (Figure 2b, Table 1). 2a same-in: the naive module\n"
    "(Figure 2a: 1x1, 3x3, 5x5 convs with Table 1's #1x1/#3x3/#5x5 and a 3x3 max pool passing its input through)\n"
    "on the same input as 2b. 2a network: the module inside the all-naive network, whose inputs grow with every\n"
    "module. ratio: MACs against 2b. Conv biases are counted in params, not in MACs."
)


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
    rf = prof.final_rf.describe() if prof.final_rf else "?"
    lines = [
        f"total params: {prof.total_params:,}  ({human(prof.total_params)})",
        f"total MACs:   {prof.total_macs:,}  ({human(prof.total_macs)})",
        f"depth: {prof.depth} layers with weights on the longest path ({prof.weighted_layers} conv/linear layers in "
        f"all); receptive field of the logits: {rf} px",
        f"activation memory, one image: inference peak {prof.peak_forward_bytes / 2**20:.2f} MiB; training, saved "
        f"for backward {prof.train_saved_bytes / 2**20:.2f} MiB",
    ]
    if prof.aux_params:
        lines += [
            f"inference network (auxiliary heads dropped): params {prof.main_params:,}, MACs {prof.main_macs:,} "
            f"({human(prof.main_macs)})",
            f"auxiliary heads (training only): params {prof.aux_params:,}, MACs {prof.aux_macs:,}",
        ]
    return lines


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
