"""Ensembles of detectors: Section 8's "ensemble of six networks" (38.0 % mAP for one, 43.9 % for six).

Each member detects on the whole image; their boxes are fused by **weighted boxes fusion** (Solovyev, Wang and
Gabruseva 2021, the ``ensemble-boxes`` package the field uses): boxes of one class overlapping at IoU > ``iou``
are merged into their score-weighted mean box, scored by their mean score over all members (a box that only some
members found scores lower). ``googlenet eval --checkpoint A B`` and ``googlenet predict --checkpoint A B``
ensemble detectors this way, as they average the softmax of classifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import UserError

FUSION_IOU = 0.55  # ensemble-boxes' default


def _empty() -> dict[str, Tensor]:
    return {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.int64)}


def fuse(
    detections: Sequence[dict[str, Tensor]], width: int, height: int, iou: float = FUSION_IOU
) -> dict[str, Tensor]:
    """One image's detections from each member (torchvision dicts, boxes XYXY in pixels of a ``width`` x ``height``
    image) fused by weighted boxes fusion, sorted by score."""
    from ensemble_boxes import weighted_boxes_fusion  # imports numba: only when an ensemble runs

    if not any(len(d["boxes"]) for d in detections):
        return _empty()
    scale = torch.tensor([width, height, width, height], dtype=torch.float64)
    boxes = [(d["boxes"].detach().double().cpu() / scale).clamp(0, 1).numpy() for d in detections]
    scores = [d["scores"].detach().double().cpu().numpy() for d in detections]
    labels = [d["labels"].detach().cpu().numpy() for d in detections]
    b, s, lab = weighted_boxes_fusion(boxes, scores, labels, iou_thr=iou, skip_box_thr=0.0, conf_type="avg")
    order = torch.argsort(torch.from_numpy(s), descending=True, stable=True)
    return {
        "boxes": (torch.from_numpy(b).double() * scale)[order].float().reshape(-1, 4),
        "scores": torch.from_numpy(s)[order].float(),
        "labels": torch.from_numpy(lab).long()[order],
    }


class DetectorEnsemble(nn.Module):
    """Several detectors as one: a list of images in, one fused dict per image out (the interface of
    torchvision's detectors in eval mode)."""

    def __init__(self, members: Sequence[nn.Module], iou: float = FUSION_IOU) -> None:
        super().__init__()
        if len(members) < 2:
            raise UserError("an ensemble needs at least two detectors")
        self.members = nn.ModuleList(members)
        self.iou = iou
        self.task = "detect"

    def forward(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        outputs = [member(images) for member in self.members]  # member -> image -> dict
        return [
            fuse([out[i] for out in outputs], int(image.shape[-1]), int(image.shape[-2]), self.iou)
            for i, image in enumerate(images)
        ]


def ensemble_meta(metas: Sequence[dict[str, Any]], paths: Sequence[str]) -> dict[str, Any]:
    """The metadata an ensemble is run by (the first member's, with every member's model named); members must
    detect the same classes and, where they record one, hold out the same images."""
    first = metas[0]
    for meta, path in zip(metas[1:], paths[1:], strict=True):
        if list(meta.get("class_names") or []) != list(first.get("class_names") or []):
            raise UserError(
                f"{path} detects {meta.get('class_names')}, not the {first.get('class_names')} of {paths[0]}"
            )
        split, own = (meta.get("config") or {}).get("split"), (first.get("config") or {}).get("split")
        if split != own:
            raise UserError(f"{path} holds out other images ({split}) than {paths[0]} ({own}): one data split each")
    return {**first, "model": "+".join(str(m.get("model")) for m in metas), "members": list(paths)}
