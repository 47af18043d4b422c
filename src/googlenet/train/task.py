"""The task-specific part of training: what one batch's loss is, and how validation scores the weights.

:class:`Classify` is image classification as the paper trains it: the main cross-entropy plus ``aux_weight`` x
each auxiliary classifier's (Section 5: 0.3). The loop (:mod:`googlenet.train.loop`) drives any task with the same
two methods; detection adds its own.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from ..eval.metrics import topk_correct
from ..probe import accepts_return_aux
from . import distributed
from .inputs import report_unreadable
from .levers import hard_labels


def compute_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, aux: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Main cross-entropy plus ``aux_weight`` x each auxiliary classifier's; returns (loss, main logits).

    ``y`` holds class indices, or class probabilities (MixUp/CutMix)."""
    if aux:
        logits, aux_logits = model(x, return_aux=True)
    else:
        logits, aux_logits = model(x), ()
    loss = F.cross_entropy(logits, y, label_smoothing=cfg.optim.label_smoothing)
    for a in aux_logits:
        loss = loss + cfg.optim.aux_weight * F.cross_entropy(a, y, label_smoothing=cfg.optim.label_smoothing)
    return loss, logits


class Classify:
    """Classification: the training loss of a batch, and top-1/top-5 validation."""

    def __init__(self, cfg: TrainConfig, model: nn.Module) -> None:
        self.cfg = cfg
        self.aux = accepts_return_aux(model)  # the unwrapped model: DDP and compile hide the signature

    def loss(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(loss to minimise, how many of the batch the main classifier got right)."""
        loss, logits = compute_loss(net, x, y, self.cfg, self.aux)
        return loss, int((logits.argmax(1) == hard_labels(y)).sum().item())

    @torch.no_grad()
    def validate(
        self,
        model: nn.Module,
        loader: Any,
        device: torch.device,
        autocast: Any,
        dist: distributed.Dist,
        strict: bool = False,
        report: bool = True,
    ) -> dict[str, float]:
        """Loss, top-1 and top-5 over this rank's shard, summed over ranks (each sample counted once)."""
        model.eval()
        loss = correct = top5 = count = 0.0
        for x, y, bad in loader:
            if report or strict:
                report_unreadable(bad, strict)
            if len(x) == 0:
                continue
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast():
                logits = model(x).float()
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += topk_correct(logits, y, 1).sum().item()
            top5 += topk_correct(logits, y, 5).sum().item()
            count += len(y)
        loss, correct, top5, count = distributed.all_reduce_sum([loss, correct, top5, count], device)
        return {"val_loss": loss / count, "val_acc": correct / count, "val_top5": top5 / count, "val_count": int(count)}
