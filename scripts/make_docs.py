"""Regenerate docs/design.md and its figures from the code: ``python scripts/make_docs.py``.

Everything printed in the page is computed here by the same library functions the CLI uses (models built on
the meta device: counting only, a few seconds per model). Accuracies come only from torchvision's weights
metadata and this project's results file, each labelled with its source.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from googlenet.analysis.accuracy import project_results, torchvision_accuracy  # noqa: E402
from googlenet.analysis.compare import ModelStats, model_stats  # noqa: E402
from googlenet.analysis.explain import stacked_vs_single  # noqa: E402
from googlenet.analysis.naive import naive_vs_reduced  # noqa: E402
from googlenet.analysis.plot import ChartPoint, family_chart  # noqa: E402
from googlenet.analysis.profile import profile_model  # noqa: E402
from googlenet.analysis.tables import NAIVE_LEGEND, naive_table, stages_table, table1_table  # noqa: E402
from googlenet.cli.compare import LEGEND, stats_table  # noqa: E402
from googlenet.cli.explain import receptive_field_table  # noqa: E402
from googlenet.probe import meta_model  # noqa: E402

DOCS = ROOT / "docs"
# the family as registered names: the paper's own networks (googlenet, alexnet) and torchvision's, which carry
# published accuracies (googlenet_bn is torchvision's GoogLeNet, alexnet_tv its one-tower AlexNet)
FAMILY = ["alexnet", "alexnet_tv", "vgg16", "vgg19", "googlenet", "googlenet_bn", "resnet18", "resnet50", "densenet121"]


def family_stats() -> tuple[list[ModelStats], list[ChartPoint], str]:
    stats, points = [], []
    for name in FAMILY:
        st = model_stats(name, 224)
        stats.append(st)
        acc = torchvision_accuracy(name)
        if acc is not None:
            points.append(ChartPoint(acc, st.macs, st.params))
    for acc in project_results():
        prof = profile_model(meta_model(acc.model, acc.num_classes, **acc.model_args), acc.input_size, memory=False)
        points.append(ChartPoint(acc, prof.main_macs, prof.main_params))
    sources = "\n".join(
        f"- {a.model}: {a.top1:.2f} % on {a.dataset}, {a.source}: {a.detail}" for a in (p.accuracy for p in points)
    )
    return stats, points, sources


def naive_chart(rows, out: Path) -> None:
    names = [r.name for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    width = 0.27
    for i, (key, label) in enumerate(
        [
            ("reduced", "Figure 2b (reductions)"),
            ("naive_same_input", "Figure 2a, same input"),
            ("naive_cumulative", "Figure 2a, all-naive network"),
        ]
    ):
        ax.bar([v + (i - 1) * width for v in x], [getattr(r, key).macs / 1e6 for r in rows], width, label=label)
    ax.set_xticks(list(x), names)
    ax.set_yscale("log")
    ax.set_ylabel("multiply-adds (M, log)")
    ax.set_title("GoogLeNet's Inception modules at 224 px: naive vs with 1x1 reductions", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def block(text: str) -> str:
    return f"```text\n{text}\n```"


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    prof = profile_model(meta_model("googlenet"), 224)
    rows = naive_vs_reduced("googlenet")
    naive_chart(rows, DOCS / "naive_vs_reduced.png")
    rf_rows = [r for r in prof.rows if r.rf is not None and not r.name.startswith("aux") and r.kind != "Dropout"]
    rf_table = "\n".join(
        f"{r.name:<12} {r.rf.describe():>5} {('all' if r.rf.is_global else f'{r.rf.jump[0]:g}'):>5} {r.depth:>5}"
        for r in rf_rows
    )
    explain = [stacked_vs_single(n, 64, 56) for n in (1, 2, 3)]
    stats, points, sources = family_stats()
    family_chart(points, DOCS / "family.png", "top-1 accuracy vs multiply-adds at 224 px (marker area ~ parameters)")
    tot_r = sum(r.reduced.macs for r in rows)
    tot_n = sum(r.naive_cumulative.macs for r in rows)
    page = TEMPLATE.format(
        table1=block(table1_table(prof)),
        stages=block(stages_table(prof)),
        naive=block(naive_table(rows) + "\n\n" + NAIVE_LEGEND),
        naive_total=f"{tot_n / 1e9:.1f} G vs {tot_r / 1e9:.2f} G multiply-adds in the nine modules "
        f"({tot_n / tot_r:.0f}x)",
        explain=block(receptive_field_table(explain)),
        rf=block(f"{'layer':<12} {'RF':>5} {'jump':>5} {'depth':>5}\n" + rf_table),
        family=block(stats_table(stats) + "\n\n" + LEGEND),
        sources=sources,
        depth=prof.depth,
        final_rf=prof.final_rf.describe(),
        peak=f"{prof.peak_forward_bytes / 2**20:.1f}",
        saved=f"{prof.train_saved_bytes / 2**20:.1f}",
    )
    (DOCS / "design.md").write_text(page)
    print(f"wrote {DOCS / 'design.md'}, {DOCS / 'family.png'}, {DOCS / 'naive_vs_reduced.png'}")


TEMPLATE = """# GoogLeNet's design argument, measured

<!-- Generated by `python scripts/make_docs.py` from the code; do not edit by hand. -->

The paper's claim is about budgets: GoogLeNet is deeper and wider than its predecessors at about 1.5 G
multiply-adds, with 12x fewer parameters than AlexNet, because 1x1 convolutions reduce the channels before
every expensive 3x3 and 5x5 convolution. Every table and figure below is computed by this project's code
(`googlenet summary`, `googlenet explain`, `googlenet compare`); run `python scripts/make_docs.py` to
regenerate the page.

## Table 1 against what the network computes

`googlenet summary googlenet` puts the paper's Table 1 beside the counts of the built network ("ops" are
multiply-adds). The paper's conv1 row is wrong (7x7x3x64 weights are 9.4 K, not 2.7 K); the other rows agree
within the rounding of a printed table.

{table1}

## Where the multiply-adds go

The reductions keep the Inception stages cheap: stages 3 to 5 together cost about as much as the
three-convolution stem, although they hold most of the parameters and 18 of the 22 layers.

{stages}

## Naive vs reduced Inception modules (Figure 2a vs 2b)

`googlenet summary googlenet --naive-vs-reduced`. The naive module's pooling branch passes all its input
channels through, so its output is always wider than its input and, in an all-naive network, every module
inherits the growth of all the modules before it: {naive_total}.

{naive}

![naive vs reduced](naive_vs_reduced.png)

## Receptive fields

VGG's argument, `googlenet explain receptive-field`: stacked 3x3 convolutions see as far as one large
convolution, with fewer weights and more non-linearities.

{explain}

GoogLeNet's fields grow the same way (`googlenet summary googlenet`, columns RF and jump): each 5x5 branch adds
4 jumps, each 3x3/2 pool 2 jumps and doubles the jump. The logits see {final_rf} px (a theoretical field,
larger than the image: the outer part is padding). The network is {depth} layers deep counting layers with
weights on the longest path, as the paper counts. One image needs {peak} MiB of activations at the inference
peak and {saved} MiB saved for backward in training.

{rf}

## The family

`googlenet compare alexnet alexnet_tv vgg16 vgg19 googlenet googlenet_bn resnet18 resnet50 densenet121` at
224 px (auxiliary heads excluded from params and MACs; depth is the longest chain of layers with weights).
`googlenet` and `alexnet` are the papers' networks; they are not on the chart because this project has measured
no ImageNet accuracy for them (BVLC's Caffe replications, which `googlenet import-weights` loads into `googlenet` and
`alexnet_bvlc`, report 68.7 % and 57.1 % top-1, single crop, in their readme files); `googlenet_bn` is
torchvision's GoogLeNet (batch norm, a 3x3 convolution in the "5x5" branch, hence its smaller receptive field)
and `alexnet_tv` torchvision's AlexNet (64-192-384-256-256 filters, no LRN).

{family}

![family chart](family.png)

Accuracies on the chart, and where each comes from (published numbers are torchvision's ImageNet-1K
validation top-1 of its original `IMAGENET1K_V1` weights; this project's own runs, if any, are listed in
`src/googlenet/analysis/results.yaml` and drawn as squares on their own dataset's panel):

{sources}

## How the numbers are computed

- Parameters and multiply-adds: every conv and linear call of one forward pass (`out_elements x in_channels /
  groups x kh x kw`); biases, pooling, normalisation and activations are not counted, as in Table 1 and in
  torchvision's metadata. Tested against torchvision's published counts (within 1 %) and hand arithmetic.
- Receptive field, jump and depth: a `TorchFunctionMode` follows every op of the forward pass, whatever the
  model's structure (branches, shortcuts, concatenations, functional code); convs and pools by their geometry,
  position-wise ops as the union of their inputs' fields. Tested against hand values (VGG-16, GoogLeNet) and an
  independent gradient probe.
- Activation memory: inference peak = the largest sum of live tensors between ops (views and in-place ops
  allocate nothing); training = the tensors autograd saves for backward, parameters excluded. Both ignore the
  allocator's and the framework's own overheads.
"""


if __name__ == "__main__":
    main()
