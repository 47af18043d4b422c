"""``googlenet explain TOPIC``: the design arguments of the paper and its neighbours, computed by the code."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from tabulate import tabulate

from ..analysis.explain import StackVsSingle, stacked_vs_single
from ..errors import UserError
from ._common import human, print_json
from .argtypes import positive_int

TOPICS = ("receptive-field",)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="design arguments computed by the code (receptive-field)")
    p.add_argument("topic", choices=TOPICS, help="receptive-field: stacked 3x3 convs vs one large conv (VGG)")
    p.add_argument("--channels", type=positive_int, default=64, help="C, input and output channels (default 64)")
    p.add_argument("--size", type=positive_int, default=56, help="feature map side for the MACs column (default 56)")
    p.add_argument("--max-stack", type=positive_int, default=3, help="compare 1..N stacked 3x3 convs (default 3)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def receptive_field_table(rows: list[StackVsSingle]) -> str:
    out = []
    for r in rows:
        out.append(
            [
                f"{r.n} x 3x3",
                r.stack_rf,
                f"{r.stack_coef:g} C² = {r.stack_params:,}",
                human(r.stack_macs),
                r.stack_relus,
                f"1 x {r.single_kernel}x{r.single_kernel}",
                r.single_rf,
                f"{r.single_coef:g} C² = {r.single_params:,}",
                human(r.single_macs),
                f"{r.stack_params / r.single_params:.0%}",
            ]
        )
    headers = ["stack", "RF", "weights", "MACs", "ReLUs", "single conv", "RF", "weights", "MACs", "stack/single"]
    return tabulate(
        out, headers, colalign=("left", "right", "right", "right", "right", "left", "right", "right", "right", "right")
    )


def run(args: argparse.Namespace) -> int:
    if args.channels < 1 or args.size < 1 or args.max_stack < 1:
        raise UserError("--channels, --size and --max-stack must be positive")
    rows = [stacked_vs_single(n, args.channels, args.size) for n in range(1, args.max_stack + 1)]
    if args.json:
        print_json([{**asdict(r), "stack_coef": r.stack_coef, "single_coef": r.single_coef} for r in rows])
        return 0
    c = args.channels
    print(f"Stacked 3x3 convs (stride 1) vs one conv with the same receptive field, C = {c} channels in and out,")
    print(f"no biases; MACs on a {args.size}x{args.size} map. Built as modules and measured by the profiler.")
    print(receptive_field_table(rows))
    print()
    for r in rows[1:]:
        print(
            f"{r.n} stacked 3x3 convs see {r.stack_rf}x{r.stack_rf} pixels, as one {r.single_kernel}x{r.single_kernel} "
            f"conv does, with {r.stack_coef:g}C² instead of {r.single_coef:g}C² weights "
            f"({1 - r.stack_params / r.single_params:.0%} fewer) and {r.stack_relus} non-linearities instead of 1."
        )
    return 0
