"""What a run reports, on the main rank only: console lines, ``config.yaml``, ``metrics.csv``, ``steps.csv``,
TensorBoard scalars and ``curves.png``. The :class:`~googlenet.train.loop.Trainer` writes weights and resume
state; everything here is for people reading the run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..config import TrainConfig, dump_yaml
from .curves import plot_curves
from .records import StepLog, TensorBoard, write_epochs_csv


class RunLogger:
    """The run's records in ``out``; a resumed run (``resume_step``: its last saved step) keeps its earlier ones.

    Args:
        out: the run folder (created).
        cfg: the run's config (written to ``config.yaml``; its model, dataset and epochs label the output).
        steps_per_epoch: optimiser steps in a full epoch (the x scale of the per-step curve).
        history: epoch rows recorded before this process started (a resumed run's), else empty.
        resume_step: the global step the run resumes from; ``steps.csv`` is cut back to it. None: a new run.
    """

    def __init__(
        self,
        out: Path,
        cfg: TrainConfig,
        steps_per_epoch: int,
        history: list[dict[str, Any]] | None = None,
        resume_step: int | None = None,
    ) -> None:
        self.out, self.cfg, self.steps_per_epoch = out, cfg, steps_per_epoch
        self.history = list(history or [])
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump_yaml(cfg.to_dict()))  # reads back equal, as a recipe
        self.steps = StepLog(out / "steps.csv", resume_step)
        self.tensorboard = TensorBoard(out / "tb")

    def step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        """One optimiser step (``epoch`` 1-based) to ``steps.csv``."""
        self.steps.write(step, epoch, loss, lr)

    def skipped(self, epoch: int, count: int) -> None:
        """The number of unreadable images the epoch skipped, on stderr."""
        print(f"epoch {epoch}: skipped {count} unreadable image(s)", file=sys.stderr)

    def epoch(self, row: dict[str, Any]) -> None:
        """A finished epoch: ``metrics.csv``, TensorBoard, ``curves.png`` and one line on stdout."""
        self.history.append(row)
        write_epochs_csv(self.out / "metrics.csv", self.history)
        self.tensorboard.log(row)
        title = f"{self.cfg.model.name} on {self.cfg.data.dataset}"
        plot_curves(self.out / "curves.png", self.history, title, self.steps.points, self.steps_per_epoch)
        print(epoch_line(row, self.cfg.schedule.epochs), flush=True)

    def interrupted(self, step: int) -> None:
        print(f"\ninterrupted at step {step}; state saved, continue with --resume {self.out}")

    def close(self) -> None:
        self.steps.close()
        self.tensorboard.close()


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """``epoch 2/10: train loss ... acc ...% | val loss ... acc ...% [ema ...%] | N img/s, S s`` (``| not
    evaluated`` for an epoch that ``schedule.eval_every`` skips)."""
    ema = f" ema {100 * row['ema_val_acc']:.2f}%" if "ema_val_acc" in row else ""
    val = "not evaluated"
    if "val_acc" in row:
        val = f"val loss {row['val_loss']:.4f} acc {100 * row['val_acc']:.2f}%{ema}"
    return (
        f"epoch {row['epoch']}/{epochs}: train loss {row['train_loss']:.4f} acc "
        f"{100 * row['train_acc']:.2f}% | {val} | {row['img_per_s']} img/s, {row['epoch_s']} s"
    )
