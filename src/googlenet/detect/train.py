"""Training and evaluating a torchvision detector: the step, the optimiser, evaluation (the loop: :mod:`.loop`).

The step is a function ``(model, images, targets) -> loss``: torchvision's detection models return a dict of
losses in training mode (RPN objectness and box regression, RoI classification and box regression); the loss
trained on is their plain sum, as torchvision's reference scripts do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from ..errors import UserError
from .metrics import detection_metrics


def collate(batch: Sequence[tuple[Tensor, dict[str, Any]]]) -> tuple[list[Tensor], list[dict[str, Any]]]:
    """Detection batches are lists: images differ in size, targets in box count."""
    return [b[0] for b in batch], [b[1] for b in batch]


def plain(images: Iterable[Tensor], targets: Iterable[dict[str, Any]] | None = None) -> tuple[list[Tensor], Any]:
    """Plain tensors from ``tv_tensors`` (what the torchvision detection models expect)."""
    ims = [im.as_subclass(Tensor) for im in images]
    if targets is None:
        return ims, None
    tgs = [
        {k: (v.as_subclass(Tensor) if isinstance(v, Tensor) else v) for k, v in t.items() if k in ("boxes", "labels")}
        for t in targets
    ]
    return ims, tgs


def detection_loss(model: nn.Module, images: list[Tensor], targets: list[dict[str, Any]]) -> Tensor:
    """The training loss of a torchvision detector in training mode: the sum of its loss dict. The last dict is
    kept on the model as ``last_losses`` (floats) for logs."""
    ims, tgs = plain(images, targets)
    losses = model(ims, tgs)
    model.last_losses = {k: float(v.detach()) for k, v in losses.items()}  # type: ignore[assignment]
    return sum(losses.values())  # type: ignore[return-value]


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: list[Tensor],
    targets: list[dict[str, Any]],
    loss_fn: Callable[[nn.Module, list[Tensor], list[dict[str, Any]]], Tensor] = detection_loss,
    clip: float | None = 10.0,
    amp: str = "none",
    weight: float = 1.0,
) -> float:
    """One optimiser step on one batch; returns the loss. A non-finite loss is refused (the weights are kept).
    ``amp``: ``bf16`` computes the forward pass under bf16 autocast (the weights and the step stay fp32).
    ``weight``: the factor on the loss before backward (this rank's share of the batch under DDP)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == "bf16"):
        loss = loss_fn(model, images, targets)
    value = float(loss.detach())
    if not math.isfinite(value):
        raise UserError(f"the detection loss is {value}: lower the learning rate")
    (loss * weight).backward()
    if clip is not None:
        nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], clip)
    optimizer.step()
    return value


def make_optimizer(
    model: nn.Module, lr: float = 0.01, momentum: float = 0.9, weight_decay: float = 1e-4
) -> torch.optim.Optimizer:
    """SGD with momentum on the trainable parameters (torchvision's detection reference recipe)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@torch.no_grad()
def detect_dataset(model: nn.Module, data: Dataset, batch_size: int = 1) -> tuple[list[dict], list[dict]]:
    """Run ``model`` (eval mode) over ``data``; returns (targets, detections), both with ``image_id``, in the
    pixels of the images as the dataset yields them. One image at a time by default: torchvision pads a batch to
    its largest image, which changes the detections of the smaller ones (eval would then depend on batching)."""
    model.eval()
    targets_out, detections = [], []
    for images, targets in DataLoader(data, batch_size=batch_size, collate_fn=collate):
        ims, _ = plain(images)
        for out, t in zip(model(ims), targets, strict=True):
            targets_out.append({"image_id": t["image_id"], "boxes": t["boxes"], "labels": t["labels"]})
            detections.append({"image_id": t["image_id"], **{k: out[k] for k in ("boxes", "scores", "labels")}})
    return targets_out, detections


def evaluate_detector(model: nn.Module, data: Dataset, class_names: list[str] | None = None) -> dict[str, Any]:
    """COCO metrics (pycocotools) of ``model`` on ``data``."""
    targets, detections = detect_dataset(model, data)
    return detection_metrics(targets, detections, class_names)
