"""A detection run's records in its folder: ``metrics.csv`` (one row per epoch), ``steps.csv`` (one per step) and
``curves.png`` (the per-step loss with the epoch means; AP50 and AP per epoch where the run evaluated).

Both CSVs are rewritten whole from the run's state, so a resumed run never duplicates or loses a row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from ..train.curves import step_curve

EPOCH_FIELDS = ("epoch", "step", "loss", "seconds", "ap", "ap50", "ap75", "ar100", "machine", "threads", "code")


def write_records(out: Path, losses: list[float], epochs: list[dict[str, Any]], per_epoch: int, title: str) -> None:
    """``metrics.csv``, ``steps.csv`` and ``curves.png`` of the run so far."""

    def epochs_csv(tmp: str) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=EPOCH_FIELDS, extrasaction="ignore")
            w.writeheader()
            for row in epochs:
                w.writerow({k: row.get(k, "") for k in EPOCH_FIELDS})

    def steps_csv(tmp: str) -> None:
        lines = [f"{s},{(s - 1) // per_epoch + 1},{loss!r}" for s, loss in enumerate(losses, 1)]
        Path(tmp).write_text("step,epoch,loss\n" + "".join(line + "\n" for line in lines))

    atomic_write(out / "metrics.csv", epochs_csv)
    atomic_write(out / "steps.csv", steps_csv)
    plot_detection_curves(out / "curves.png", losses, epochs, per_epoch, title)


def plot_detection_curves(
    path: Path, losses: list[float], epochs: list[dict[str, Any]], per_epoch: int, title: str
) -> None:
    """Loss (per step, light; per epoch, points) on the left, AP and AP50 per epoch on the right."""
    from matplotlib.figure import Figure  # only when a chart is drawn
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4))
    left, right = fig.subplots(1, 2)
    xs, ys = step_curve(list(enumerate(losses, 1)), per_epoch)
    left.plot(xs, ys, "-", color="C0", alpha=0.35, lw=0.8, label="per step")
    left.plot([r["epoch"] for r in epochs], [r["loss"] for r in epochs], "o-", color="C0", label="epoch mean")
    left.set(xlabel="epoch", ylabel="summed detection loss", title="training loss")
    scored = [r for r in epochs if isinstance(r.get("ap"), float)]
    for key, label in (("ap50", "AP50"), ("ap", "AP (0.50:0.95)")):
        right.plot([r["epoch"] for r in scored], [r[key] for r in scored], "o-", label=label)
    right.set(xlabel="epoch", ylabel="COCO metric (val)", title="held-out AP (pycocotools)", ylim=(0, 1))
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=100, format="png"))
