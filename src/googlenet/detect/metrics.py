"""COCO detection metrics, computed by pycocotools (``COCOeval``) on ground truth and detections built in memory.

Boxes come in torchvision's convention (XYXY pixels) and go to COCO's ``[x, y, width, height]``; a ground-truth
box's ``area`` (what AP small/medium/large bin on) is its box area, as for data with no masks. Keys of the result,
in ``COCOeval.stats`` order: ``ap`` (IoU 0.50:0.95), ``ap50``, ``ap75``, ``ap_small``, ``ap_medium``,
``ap_large``, ``ar1``, ``ar10``, ``ar100``, ``ar_small``, ``ar_medium``, ``ar_large``. pycocotools reports -1
where a value has nothing to average (no small objects, say); here that is ``None`` (JSON ``null``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Mapping
from typing import Any

import torch

STAT_KEYS = (
    "ap",
    "ap50",
    "ap75",
    "ap_small",
    "ap_medium",
    "ap_large",
    "ar1",
    "ar10",
    "ar100",
    "ar_small",
    "ar_medium",
    "ar_large",
)


def _xywh(box: Iterable[float]) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _rows(t: Mapping[str, Any], key: str) -> list:
    value = t.get(key, [])
    return value.tolist() if isinstance(value, torch.Tensor) else list(value)


def coco_dataset(targets: list[Mapping[str, Any]], class_names: list[str] | None = None) -> dict[str, Any]:
    """A COCO ground-truth dict from torchvision targets (``image_id``, ``boxes`` XYXY, ``labels``; optional
    ``iscrowd``). Categories are the label ids seen (or every ``class_names`` id but 0, the background)."""
    images, anns, cats = [], [], set()
    for t in targets:
        image_id = int(t["image_id"])
        images.append({"id": image_id})
        crowd = _rows(t, "iscrowd") or [0] * len(_rows(t, "labels"))
        for box, label, c in zip(_rows(t, "boxes"), _rows(t, "labels"), crowd, strict=True):
            xywh = _xywh(box)
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    "bbox": xywh,
                    "area": xywh[2] * xywh[3],
                    "iscrowd": int(c),
                }
            )
            cats.add(int(label))
    if class_names is not None:
        cats |= set(range(1, len(class_names)))
    names = class_names or []
    categories = [{"id": k, "name": names[k] if k < len(names) else str(k)} for k in sorted(cats)]
    return {"images": images, "annotations": anns, "categories": categories}


def coco_results(detections: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """COCO's result list (``image_id``, ``category_id``, ``bbox`` XYWH, ``score``) from torchvision outputs, each
    a dict with ``image_id``, ``boxes`` XYXY, ``scores``, ``labels``."""
    out = []
    for d in detections:
        for box, score, label in zip(_rows(d, "boxes"), _rows(d, "scores"), _rows(d, "labels"), strict=True):
            out.append(
                {"image_id": int(d["image_id"]), "category_id": int(label), "bbox": _xywh(box), "score": float(score)}
            )
    return out


def _coco(dataset: dict[str, Any]):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def evaluate_coco(gt_dataset: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, float | None]:
    """``COCOeval`` (iouType ``bbox``) of ``results`` against ``gt_dataset``; the 12 stats by :data:`STAT_KEYS`."""
    from pycocotools.cocoeval import COCOeval

    gt = _coco(gt_dataset)
    dt_anns = []
    for i, r in enumerate(results, 1):
        w, h = r["bbox"][2], r["bbox"][3]
        dt_anns.append({**r, "id": i, "area": w * h, "iscrowd": 0})
    dt = _coco({"images": gt_dataset["images"], "categories": gt_dataset["categories"], "annotations": dt_anns})
    ev = COCOeval(gt, dt, iouType="bbox")
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress and the table
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: (None if float(v) < 0 else float(v)) for k, v in zip(STAT_KEYS, ev.stats, strict=True)}


def detection_metrics(
    targets: list[Mapping[str, Any]],
    detections: list[Mapping[str, Any]],
    class_names: list[str] | None = None,
) -> dict[str, float | None]:
    """COCO AP, AP50, AP75, AP small/medium/large and AR of ``detections`` against ``targets`` (both torchvision
    dicts, matched by ``image_id``)."""
    return evaluate_coco(coco_dataset(targets, class_names), coco_results(detections))
