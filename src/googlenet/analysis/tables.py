"""Text tables of a model's profile: per-layer rows, stages, Table 1 beside the computed network, naive vs reduced.

Pure functions from :mod:`~googlenet.analysis.profile` / :mod:`~googlenet.analysis.naive` results to strings;
``googlenet summary`` prints them and ``scripts/make_docs.py`` puts them in docs/design.md.
"""

from __future__ import annotations

from tabulate import tabulate

from .naive import NaiveVsReduced
from .paper import compare_table1
from .profile import ModelProfile
from .receptive import format_pair
from .stages import stage_table


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M' (K, M, G)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"


HIDDEN_KINDS = {"ReLU", "Identity"}  # zero-cost rows that only clutter the table


def _shape(shape: tuple[int, ...] | None) -> str:
    return "x".join(map(str, shape)) if shape else "-"


def _delta(computed: float, paper: float | None) -> str:
    if paper is None:
        return ""
    pct = (computed - paper) / paper * 100
    return "0%" if abs(pct) < 0.5 else f"{pct:+.0f}%"


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f}" if n else "-"


def layer_table(prof: ModelProfile) -> str:
    """One row per counted layer: output shape, params, MACs, receptive field, depth and activation memory."""
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
    """Params and MACs per stage of the inference network, with each stage's share."""
    rows = [
        [st.name, len(st.rows), human(st.params), f"{st.params_share:.1%}", human(st.macs), f"{st.macs_share:.1%}"]
        for st in stage_table(prof)
    ]
    return tabulate(rows, ["stage", "layers", "params", "share", "MACs", "share"], colalign=("left",) + ("right",) * 5)


def naive_table(rows: list[NaiveVsReduced]) -> str:
    """Per Inception module: Figure 2b beside the naive Figure 2a on the same input and in the all-naive net."""
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
    """The paper's Table 1 rows beside the computed output shapes, params and MACs (GoogLeNet at 224 px)."""
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
    """Totals: params, MACs, depth, the logits' receptive field, activation memory, auxiliary heads."""
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
