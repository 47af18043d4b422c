"""``curves.png``: loss and accuracy per epoch, with the per-step training loss under the epoch points.

The per-step loss gives a short run its shape (a two-epoch run has only two epoch points); the x axis is in
epochs, step ``s`` at ``s / steps_per_epoch``, with integer ticks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_STEP_POINTS = 4000  # longer step logs are averaged over equal bins of consecutive steps


def step_curve(
    steps: Sequence[tuple[int, float]], steps_per_epoch: int, limit: int = MAX_STEP_POINTS
) -> tuple[list[float], list[float]]:
    """``(x in epochs, loss)`` of the per-step log ``[(step, loss), ...]``; bin means beyond ``limit`` points."""
    bin_size = max(1, math.ceil(len(steps) / limit))
    xs, ys = [], []
    for i in range(0, len(steps), bin_size):
        chunk = steps[i : i + bin_size]
        xs.append(sum(s for s, _ in chunk) / len(chunk) / steps_per_epoch)
        ys.append(sum(loss for _, loss in chunk) / len(chunk))
    return xs, ys


def _series(history: list[dict[str, Any]], key: str, scale: float = 1.0) -> tuple[list[int], list[float]]:
    """``(epochs, values)`` of the rows that carry ``key``: a row where it is absent, blank (after a resume from
    CSV) or NaN (an epoch ``schedule.eval_every`` skipped) is left out, so the line joins the epochs measured
    instead of breaking into lone dots."""
    rows = [r for r in history if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    return [r["epoch"] for r in rows], [scale * r[key] for r in rows]


def curves_figure(
    history: list[dict[str, Any]],
    steps: Sequence[tuple[int, float]] = (),
    steps_per_epoch: int = 1,
    title: str = "",
) -> Figure:
    """The figure of ``curves.png``: loss (left) and top-1 accuracy (right) against epochs.

    Args:
        history: one row per epoch (``epoch``, ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``,
            optionally ``ema_val_acc``), as in ``metrics.csv``.
        steps: ``(global step, loss)`` per optimiser step, as in ``steps.csv``; drawn first, as a light line.
        steps_per_epoch: optimiser steps in a full epoch.
        title: the figure's title.
    """
    # matplotlib only when a chart is drawn (it adds ~0.5 s to every CLI start); no pyplot: no global backend
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    if steps:
        xs, ys = step_curve(steps, steps_per_epoch)
        ax1.plot(xs, ys, "-", color="C0", alpha=0.35, lw=0.8, label="train, per step")
    ax1.plot(*_series(history, "train_loss"), "o-", color="C0", label="train (+ aux losses)")
    ax1.plot(*_series(history, "val_loss"), "o-", color="C1", label="val")
    ax1.set(xlabel="epoch", ylabel="loss", title="loss")
    ax2.plot(*_series(history, "train_acc", 100), "o-", label="train")
    ax2.plot(*_series(history, "val_acc", 100), "o-", label="val")
    ema_epochs, ema_acc = _series(history, "ema_val_acc", 100)
    if ema_epochs:
        ax2.plot(ema_epochs, ema_acc, "o--", label="val (EMA)")
    ax2.set(xlabel="epoch", ylabel="top-1 accuracy (%)", title="accuracy")
    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, however short the run
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(
    path: Path,
    history: list[dict[str, Any]],
    title: str = "",
    steps: Sequence[tuple[int, float]] = (),
    steps_per_epoch: int = 1,
) -> Figure:
    """Write :func:`curves_figure` to ``path`` as a PNG and return the figure."""
    fig = curves_figure(history, steps, steps_per_epoch, title)
    fig.savefig(path, dpi=100)
    return fig
