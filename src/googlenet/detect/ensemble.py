"""Ensembles of detectors: Section 8's "ensemble of six networks" (38.0 % mAP for one, 43.9 % for six).

Each member detects on the whole image; their boxes are fused by **weighted boxes fusion** (Solovyev, Wang and
Gabruseva 2021): boxes of one class overlapping at IoU > ``iou`` are merged into their score-weighted mean box,
scored by their mean score over all members (a box that only some members found scores lower). The algorithm is
that of the ``ensemble-boxes`` package (``weighted_boxes_fusion``, ``conf_type="avg"``, equal weights), written
here on torch and torchvision's ``box_iou``: the package needs numba, llvmlite and pandas (about 290 MB) for a
loop of 30 lines. ``googlenet eval --checkpoint A B`` and ``googlenet predict --checkpoint A B``
ensemble detectors this way, as they average the softmax of classifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops import box_iou

from ..errors import UserError

FUSION_IOU = 0.55  # ensemble-boxes' default


def weighted_boxes_fusion(
    boxes: Sequence[Tensor], scores: Sequence[Tensor], labels: Sequence[Tensor], iou: float = FUSION_IOU
) -> tuple[Tensor, Tensor, Tensor]:
    """Weighted boxes fusion of ``M`` members' boxes (each ``[N_m, 4]`` XYXY), scores ``[N_m]`` and labels ``[N_m]``.

    Per class, boxes are taken by falling score; each joins the cluster whose fused box it overlaps most at
    IoU > ``iou``, or starts one. A cluster's box is the score-weighted mean of its boxes; its score is its mean
    score times ``min(M, n) / M`` for ``n`` boxes. Returns fused boxes ``[K, 4]``, scores ``[K]`` and labels ``[K]``
    by falling score. Boxes of no area are dropped, as ensemble-boxes drops them."""
    members = len(boxes)
    every_box = torch.cat([b.reshape(-1, 4) for b in boxes]).double()  # [N, 4]
    every_score = torch.cat([s.reshape(-1) for s in scores]).double()  # [N]
    every_label = torch.cat([lab.reshape(-1) for lab in labels]).long()  # [N]
    area = (every_box[:, 2] - every_box[:, 0]) * (every_box[:, 3] - every_box[:, 1])
    keep = area > 0
    every_box, every_score, every_label = every_box[keep], every_score[keep], every_label[keep]
    out_boxes, out_scores, out_labels = [], [], []
    for label in torch.unique(every_label).tolist():
        of_class = torch.nonzero(every_label == label).flatten()
        of_class = of_class[torch.argsort(every_score[of_class], descending=True, stable=True)]
        clusters: list[list[int]] = []
        fused = every_box.new_zeros(0, 4)  # [K, 4] the clusters' boxes so far
        for i in of_class.tolist():
            overlap = box_iou(every_box[i : i + 1], fused)[0] if len(fused) else fused.new_zeros(0)  # [K]
            best = int(torch.argmax(overlap)) if len(overlap) else -1
            if best >= 0 and overlap[best] > iou:
                clusters[best].append(i)
                weight = every_score[clusters[best]]  # [n]
                fused[best] = (weight[:, None] * every_box[clusters[best]]).sum(0) / weight.sum()
            else:
                clusters.append([i])
                fused = torch.cat([fused, every_box[i : i + 1]])
        for members_boxes, box in zip(clusters, fused, strict=True):
            n = len(members_boxes)
            out_boxes.append(box)
            out_scores.append(every_score[members_boxes].mean() * min(members, n) / members)
            out_labels.append(label)
    if not out_boxes:
        return torch.zeros(0, 4, dtype=torch.float64), torch.zeros(0, dtype=torch.float64), torch.zeros(0).long()
    fused_scores = torch.stack(out_scores)
    order = torch.argsort(fused_scores, descending=True, stable=True)
    return torch.stack(out_boxes)[order], fused_scores[order], torch.tensor(out_labels, dtype=torch.int64)[order]


def fuse(
    detections: Sequence[dict[str, Tensor]], width: int, height: int, iou: float = FUSION_IOU
) -> dict[str, Tensor]:
    """One image's detections from each member (torchvision dicts, boxes XYXY in pixels of a ``width`` x ``height``
    image) fused by weighted boxes fusion, sorted by score."""
    limit = torch.tensor([width, height, width, height], dtype=torch.float64)
    boxes = [torch.minimum(d["boxes"].detach().double().cpu().clamp(min=0), limit) for d in detections]
    b, s, lab = weighted_boxes_fusion(
        boxes, [d["scores"].detach().cpu() for d in detections], [d["labels"].detach().cpu() for d in detections], iou
    )
    return {"boxes": b.float().reshape(-1, 4), "scores": s.float(), "labels": lab}


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
