"""Fine-tuning the region classifier of the paper's R-CNN (:mod:`.rcnn`), and its checkpoints.

R-CNN's fine-tuning data: every Selective Search proposal of every training image, and the ground-truth boxes
themselves, labelled by :func:`~.rcnn.label_proposals` (IoU >= 0.5: the object's class, else background), each
warped with context to the classifier's input; batches drawn with a quarter positives (R-CNN: 32 positive and 96
background windows in each batch of 128). The loss is cross-entropy on the main classifier (the auxiliary heads
are not trained here).

A checkpoint is a classification checkpoint of the project (``model`` a registered classifier, ``num_classes``
K + 1, ``class_names[0] == "background"``) with an ``rcnn`` entry: ``input_size``, ``context_pad`` and the Selective
Search settings, which is what makes ``googlenet detect eval|predict`` run it as a detector.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from ..contract import IMAGENET_MEAN, IMAGENET_STD
from ..registry import model_info
from ..weights import load_state_strict, save
from .datasets import DetectionDataset, load_image
from .rcnn import CONTEXT_PAD, RCNN, SelectiveSearch, label_proposals, warp_regions

R_CNN_WARP = 227  # R-CNN's crop side, at which its context pad is 16 px


def context_pad_for(size: int) -> int:
    """R-CNN's 16 px of context at 227 px, scaled to a ``size`` px crop."""
    return max(0, round(CONTEXT_PAD * size / R_CNN_WARP))


class RegionCrops(Dataset):
    """R-CNN's fine-tuning windows of ``data``: ``(crop, label)`` with crop 3 x size x size, normalised."""

    def __init__(
        self,
        data: DetectionDataset,
        proposals: SelectiveSearch | None = None,
        size: int = 224,
        mean: tuple[float, ...] = IMAGENET_MEAN,
        std: tuple[float, ...] = IMAGENET_STD,
        context_pad: int | None = None,
    ) -> None:
        self.size, self.mean, self.std = size, mean, std
        self.context_pad = context_pad_for(size) if context_pad is None else context_pad
        self.proposals = proposals or SelectiveSearch()
        self.images: list[Tensor] = []  # uint8, decoded once
        boxes, labels, owner = [], [], []
        for i, record in enumerate(data.records):
            image = load_image(record.path).as_subclass(Tensor)
            self.images.append((image * 255).round().to(torch.uint8))
            gt = torch.tensor(record.boxes, dtype=torch.float32).reshape(-1, 4)
            gt_labels = torch.tensor(record.labels, dtype=torch.int64)
            windows = torch.cat([gt, self.proposals(image)])
            boxes.append(windows)
            labels.append(label_proposals(windows, gt, gt_labels))
            owner.append(torch.full((len(windows),), i))
        self.boxes, self.labels, self.owner = torch.cat(boxes), torch.cat(labels), torch.cat(owner)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, k: int) -> tuple[Tensor, int]:
        image = self.images[int(self.owner[k])].float() / 255
        crop = warp_regions(image, self.boxes[k : k + 1], self.size, self.mean, self.std, self.context_pad)[0]
        return crop, int(self.labels[k])

    def sampler(self, positive_fraction: float = 0.25, num_samples: int | None = None, seed: int = 0):
        """Draws with ``positive_fraction`` of positives in expectation (R-CNN: 32 of 128)."""
        pos = self.labels > 0
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            weights = torch.ones(len(self))
        else:
            weights = torch.where(pos, positive_fraction / n_pos, (1 - positive_fraction) / n_neg)
        return WeightedRandomSampler(
            weights, num_samples or len(self), replacement=True, generator=torch.Generator().manual_seed(seed)
        )


def finetune_region_classifier(
    classifier: nn.Module,
    crops: RegionCrops,
    steps: int = 100,
    batch_size: int = 32,
    lr: float = 0.001,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> list[float]:
    """SGD (momentum 0.9, R-CNN's fine-tuning rate 0.001) on the windows; returns each step's loss."""
    torch.manual_seed(seed)
    loader = DataLoader(crops, batch_size=batch_size, sampler=crops.sampler(num_samples=steps * batch_size, seed=seed))
    params = [p for p in classifier.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    losses = []
    classifier.train()
    for step, (x, y) in enumerate(loader, 1):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(classifier(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        if log and step % 10 == 0:
            log(f"rcnn step {step}/{steps} loss {losses[-1]:.4f}")
    return losses


def save_rcnn(
    path: str | os.PathLike,
    classifier: nn.Module,
    name: str,
    model_kwargs: dict[str, Any],
    class_names: list[str],
    crops: RegionCrops,
    **extra: Any,
) -> Path:
    """The region classifier as a classification checkpoint with its ``rcnn`` settings."""
    ss = crops.proposals
    meta = {
        "model": name,
        "num_classes": len(class_names),
        "model_kwargs": model_kwargs,
        "class_names": list(class_names),
        "input_size": crops.size,
        "mean": list(crops.mean),
        "std": list(crops.std),
        "rcnn": {
            "input_size": crops.size,
            "context_pad": crops.context_pad,
            "selective_search": {k: getattr(ss, k) for k in ("base_k", "inc_k", "sigma", "quality", "max_side")},
        },
        **extra,
    }
    return save(path, classifier, meta)


def rcnn_from_checkpoint(tensors: dict[str, Tensor], meta: dict[str, Any], source: str, **options: Any) -> RCNN:
    """The R-CNN a checkpoint with an ``rcnn`` entry describes (``options``: :class:`~.rcnn.RCNN` arguments)."""
    settings = meta["rcnn"]
    classifier = model_info(meta["model"]).builder(num_classes=int(meta["num_classes"]), **meta.get("model_kwargs", {}))
    load_state_strict(classifier, tensors, source=source)
    return RCNN(
        classifier.eval(),
        input_size=int(settings["input_size"]),
        mean=meta.get("mean", IMAGENET_MEAN),
        std=meta.get("std", IMAGENET_STD),
        proposals=SelectiveSearch(**settings.get("selective_search", {})),
        context_pad=int(settings.get("context_pad", CONTEXT_PAD)),
        **options,
    )
