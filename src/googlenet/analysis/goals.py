"""The training goals of issue 28 and the recorded run that comes closest to each.

A goal is a top-1 figure on all of a dataset's held-out images, from random weights with a GoogLeNet of this
project, within a number of epochs or a number of minutes of training plus evaluation. The figures are those the
run recorded itself (``analysis/results.yaml``: the best evaluated epoch, one centre view, no test-time
augmentation), so ``googlenet eval`` figures at other crops or sizes never count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Goal:
    name: str
    dataset: str  # as the records name it: the dataset and its held-out split
    top1: float  # the target, %
    epochs: int | None = None  # exactly this many epochs
    minutes: float | None = None  # at most this many minutes of training plus evaluation

    def admits(self, entry: dict[str, Any]) -> bool:
        """Whether a recorded run plays by this goal's rules."""
        if entry.get("dataset") != self.dataset or not str(entry.get("model", "")).startswith("googlenet"):
            return False
        if "init_weights=" in entry.get("command", ""):  # started from trained weights
            return False
        if self.epochs is not None and entry.get("epochs") != self.epochs:
            return False
        return self.minutes is None or (minutes(entry) or float("inf")) <= self.minutes

    def best(self, entries: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        """The admitted run with the highest top-1 (the first recorded of equals); None when none is admitted."""
        found = [e for e in entries if self.admits(e)]
        return max(found, key=lambda e: e["top1"]) if found else None


def minutes(entry: dict[str, Any]) -> float | None:
    """Training plus evaluation minutes of a recorded run; None where either was not recorded."""
    if entry.get("wall_min") is None or entry.get("eval_min") is None:
        return None
    return round(float(entry["wall_min"]) + float(entry["eval_min"]), 1)


GOALS = (
    Goal("Imagenette-128, 5 epochs", "imagenette2-128 val", 85.0, epochs=5),
    Goal("Imagenette-128, 20 epochs", "imagenette2-128 val", 92.0, epochs=20),
    Goal("CIFAR-10, 60 minutes", "cifar10 test", 92.0, minutes=60.0),
)
