"""Run records on disk: per-epoch metrics CSV, per-step loss log and optional TensorBoard scalars."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

EPOCH_FIELDS = (
    "epoch", "step", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_top5", "val_count",
    "ema_val_acc", "img_per_s", "epoch_s", "eval_s", "bad_images", "peak_mem_mib", "amp", "machine", "threads", "code",
)  # fmt: skip


def write_epochs_csv(path: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.csv`` from the whole history (so a resumed run never duplicates rows)."""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=EPOCH_FIELDS, extrasaction="ignore")
        w.writeheader()
        for row in history:
            w.writerow({k: row.get(k, "") for k in EPOCH_FIELDS})


class StepLog:
    """``steps.csv``: one line per optimiser step (step, epoch, loss, lr); truncated to the resume point.

    ``points`` holds ``(step, loss)`` of every line in the file, for the per-step curve.
    """

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        rows: list[str] = []
        if resume_step is not None and path.is_file():
            lines = path.read_text().splitlines()[1:]
            rows = [ln for ln in lines if ln and int(ln.split(",")[0]) <= resume_step]
        self.points: list[tuple[int, float]] = [(int(r.split(",")[0]), float(r.split(",")[2])) for r in rows]
        self.f = open(path, "w")  # noqa: SIM115 (kept open for the run)
        self.f.write("step,epoch,loss,lr\n" + "".join(r + "\n" for r in rows))
        self.f.flush()

    def write(self, step: int, epoch: int, loss: float, lr: float) -> None:
        self.f.write(f"{step},{epoch},{loss!r},{lr!r}\n")
        self.f.flush()
        self.points.append((step, loss))

    def close(self) -> None:
        self.f.close()


class TensorBoard:
    """Scalars to TensorBoard when it is installed; a no-op otherwise."""

    def __init__(self, log_dir: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # optional and slow to import

            self.writer: Any = SummaryWriter(str(log_dir))
        except ImportError:
            self.writer = None

    def log(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for k, v in row.items():
            if k not in ("epoch", "threads") and isinstance(v, (int, float)):
                self.writer.add_scalar(k, v, row["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
