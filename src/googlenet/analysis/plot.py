"""Canziani-style chart (Canziani et al. 2016): top-1 accuracy against multiply-adds, marker area = parameters.

Points from torchvision's published metadata and from this project's runs are drawn with different markers,
and each dataset gets its own panel: accuracies on different datasets are not comparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .accuracy import Accuracy

STYLE = {
    "torchvision": {"marker": "o", "label": "published (torchvision weights metadata)"},
    "project": {"marker": "s", "label": "measured by this project"},
    "compare": {"marker": "D", "label": "this project, one recipe for every model (compare study)"},
}


@dataclass
class ChartPoint:
    """One model on the chart: its accuracy (with source) and its counts at the accuracy's input size."""

    accuracy: Accuracy
    macs: int
    params: int


def marker_area(p: ChartPoint) -> float:
    """Scatter marker area in points² (its width is the square root), proportional to the parameters."""
    return max(p.params / 1e6, 0.5) * 6


def family_chart(points: list[ChartPoint], out: str | Path, title: str = "") -> Path:
    """Write the chart to ``out`` (PNG) and return its path."""
    datasets = sorted({p.accuracy.dataset for p in points}, key=lambda d: (not d.startswith("ImageNet"), d))
    import matplotlib  # heavy: only when a chart is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(7.5 * len(datasets), 5), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for source, style in STYLE.items():
            pts = [p for p in points if p.accuracy.dataset == dataset and p.accuracy.source == source]
            if not pts:
                continue
            ax.scatter(
                [p.macs / 1e9 for p in pts],
                [p.accuracy.top1 for p in pts],
                s=[marker_area(p) for p in pts],
                marker=style["marker"],
                alpha=0.55,
                edgecolors="black",
                label=style["label"],
            )
            for i, p in enumerate(sorted(pts, key=lambda q: q.macs)):
                ax.annotate(
                    f"{p.accuracy.model}\n{p.params / 1e6:.1f}M",
                    (p.macs / 1e9, p.accuracy.top1),
                    fontsize=7,
                    # right of the marker's edge, alternately above and below: neighbours overlap less
                    xytext=(marker_area(p) ** 0.5 / 2 + 2, 4 if i % 2 == 0 else -18),
                    textcoords="offset points",
                )
        ax.set_xscale("log")
        ax.margins(x=0.15, y=0.12)  # room for the labels of the outermost points
        ax.set_xlabel("multiply-adds per image (G, log scale)")
        ax.set_ylabel("top-1 accuracy (%)")
        ax.set_title(f"{dataset}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", markerscale=0.4, title="marker area ~ parameters", title_fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
