"""``googlenet compare MODEL...``: params, MACs, depth, activation memory and receptive field side by side."""

from __future__ import annotations

import argparse

import torch
from tabulate import tabulate

from ..analysis.compare import ModelStats, chart_points, compare_models
from ..analysis.plot import family_chart
from ..errors import UserError
from ..factory import list_models, model_info
from ._common import human, plot_file, print_json, stdout_to_stderr
from .argtypes import non_negative_int, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare models: params, MACs, depth, activation memory, receptive field (--measure: CPU speed)",
    )
    p.add_argument("models", nargs="+", metavar="MODEL", help="registered model names, or 'all'")
    p.add_argument(
        "--input-size",
        type=positive_int,
        default=None,
        help="square input in px for every model (default: each model's)",
    )
    p.add_argument("--num-classes", type=non_negative_int, default=1000, help="classifier outputs (default 1000)")
    p.add_argument("--measure", action="store_true", help="also measure CPU latency (batch 1) and images/s")
    p.add_argument("--batch-size", type=positive_int, default=8, help="batch for the images/s measurement (default 8)")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed runs per measurement; the median is reported")
    p.add_argument("--threads", type=positive_int, default=None, help="CPU threads for --measure (default: torch's)")
    p.add_argument(
        "--plot",
        metavar="OUT.png",
        type=plot_file,
        help="write a Canziani-style chart: top-1 vs MACs, area ~ params (.png, .svg or .pdf; no suffix: .png added)",
    )
    p.add_argument(
        "--results", metavar="FILE", help="this project's measured accuracies (default: the packaged results.yaml)"
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=run)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def stats_table(stats: list[ModelStats]) -> str:
    measured = any(s.latency_ms is not None for s in stats)
    headers = ["model", "input", "params", "MACs", "depth", "conv+fc", "fwd peak MiB", "train saved MiB", "RF px"]
    if measured:
        headers += ["latency ms", "images/s"]
    rows = []
    for s in stats:
        row = [
            s.model,
            s.input_size,
            human(s.params),
            human(s.macs),
            s.depth,
            s.weighted_layers,
            _mib(s.peak_forward_bytes),
            _mib(s.train_saved_bytes),
            f"{s.receptive_field:g}" if s.receptive_field is not None else "?",
        ]
        if measured:
            row += [f"{s.latency_ms:.1f}", f"{s.images_per_s:.1f}"]
        rows.append(row)
    return tabulate(rows, headers, colalign=("left",) + ("right",) * (len(headers) - 1))


LEGEND = (
    "depth: layers with weights on the longest input-to-logits path (the paper's count); conv+fc: all of them.\n"
    "fwd peak: largest sum of live activations in one inference pass (input and output included); train saved:\n"
    "activations autograd keeps for backward in one training pass (aux heads included); both for one float32\n"
    "image. RF: theoretical receptive field of the logits (can exceed the image). Auxiliary heads excluded\n"
    "from params and MACs."
)


def run(args: argparse.Namespace) -> int:
    names = list_models() if args.models == ["all"] else args.models
    for n in names:
        model_info(n)  # unknown names fail here, with suggestions
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    with stdout_to_stderr(args.json):  # --json: stdout holds the JSON alone
        stats = compare_models(names, args.input_size, args.measure, args.batch_size, args.repeats, args.num_classes)
        plotted = None
        if args.plot:
            points = chart_points(names, args.results)
            if not points:
                raise UserError("none of these models has a published or measured accuracy: nothing to plot")
            plotted = family_chart(points, args.plot, "top-1 accuracy vs multiply-adds (marker area ~ parameters)")
    if args.json:
        print_json({"models": [s.to_dict() for s in stats], "plot": str(plotted) if plotted else None})
        return 0
    print(stats_table(stats))
    print()
    print(LEGEND)
    if args.measure:
        s = stats[0]
        print(
            f"measured now on this CPU ({s.threads} threads, random weights, eval mode): latency = median of "
            f"{args.repeats} batch-1 runs, images/s = batch {s.batch_size}"
        )
    if plotted:
        print(f"chart written to {plotted}")
    return 0
