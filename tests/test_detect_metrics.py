"""COCO metrics: equal to pycocotools run directly on files, and exact on hand-made cases."""

from __future__ import annotations

import contextlib
import io
import json
import random

import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from googlenet.detect.metrics import STAT_KEYS, detection_metrics


def _gt(image_id, boxes, labels):
    return {"image_id": image_id, "boxes": torch.tensor(boxes, dtype=torch.float32), "labels": torch.tensor(labels)}


def _dt(image_id, boxes, scores, labels):
    return {**_gt(image_id, boxes, labels), "scores": torch.tensor(scores)}


def test_perfect_detections_score_one():
    # areas: 20x20 = 400 px² small (< 32²), 40x50 = 2000 medium, 200x150 = 30000 large (> 96²)
    targets = [_gt(1, [[10, 10, 30, 30], [40, 10, 80, 60]], [1, 2]), _gt(2, [[0, 0, 200, 150]], [1])]
    dets = [_dt(t["image_id"], t["boxes"].tolist(), [0.9] * len(t["labels"]), t["labels"].tolist()) for t in targets]
    m = detection_metrics(targets, dets)
    for k in ("ap", "ap50", "ap75", "ar100", "ap_small", "ap_medium", "ap_large"):
        assert m[k] == pytest.approx(1.0, abs=1e-12), k


def test_one_of_two_objects_found_has_the_known_curve():
    """Recall 0.5 at precision 1, then nothing: COCO's 101-point interpolation gives 51 points of 1 -> 51/101."""
    targets = [_gt(1, [[10, 10, 50, 60], [60, 5, 90, 40]], [1, 1])]
    m = detection_metrics(targets, [_dt(1, [[10, 10, 50, 60]], [0.9], [1])])
    assert m["ap"] == pytest.approx(51 / 101) and m["ap50"] == pytest.approx(51 / 101)
    assert m["ar100"] == pytest.approx(0.5)


def test_a_false_positive_ranked_first_halves_precision():
    """fp at 0.9, tp at 0.8, one object: precision 1/2 at recall 1, interpolated flat -> AP 0.5."""
    targets = [_gt(1, [[10, 10, 50, 60]], [1])]
    m = detection_metrics(targets, [_dt(1, [[60, 60, 90, 90], [10, 10, 50, 60]], [0.9, 0.8], [1, 1])])
    assert m["ap"] == pytest.approx(0.5)


def test_no_detections_score_zero_and_absent_sizes_are_none():
    m = detection_metrics([_gt(1, [[0, 0, 100, 100]], [1])], [])
    assert m["ap"] == 0.0 and m["ap_small"] is None


def test_equals_pycocotools_run_directly_on_files(tmp_path):
    rng = random.Random(0)
    targets, dets = [], []
    images, anns, results = [], [], []
    for image_id in range(1, 9):
        boxes, labels = [], []
        for _ in range(rng.randint(1, 4)):
            x, y, w, h = rng.uniform(0, 200), rng.uniform(0, 200), rng.uniform(8, 150), rng.uniform(8, 150)
            boxes.append([x, y, x + w, y + h])
            labels.append(rng.randint(1, 3))
            anns.append(
                {"id": len(anns) + 1, "image_id": image_id, "category_id": labels[-1], "bbox": [x, y, w, h],
                 "area": w * h, "iscrowd": 0}
            )  # fmt: skip
        targets.append(_gt(image_id, boxes, labels))
        dboxes, dscores, dlabels = [], [], []
        for b, lab in zip(boxes + boxes[:1], [*labels, 3], strict=True):  # jittered copies and one wrong class
            j = [v + rng.uniform(-12, 12) for v in b]
            dboxes.append(j)
            dscores.append(rng.random())
            dlabels.append(lab if rng.random() > 0.2 else rng.randint(1, 3))
            results.append(
                {"image_id": image_id, "category_id": dlabels[-1], "bbox": [j[0], j[1], j[2] - j[0], j[3] - j[1]],
                 "score": dscores[-1]}
            )  # fmt: skip
        dets.append(_dt(image_id, dboxes, dscores, dlabels))
        images.append({"id": image_id, "width": 400, "height": 400, "file_name": f"{image_id}.png"})
    (tmp_path / "gt.json").write_text(
        json.dumps(
            {"images": images, "annotations": anns, "categories": [{"id": k, "name": str(k)} for k in (1, 2, 3)]}
        )
    )
    (tmp_path / "dt.json").write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "gt.json"))
        ev = COCOeval(gt, gt.loadRes(str(tmp_path / "dt.json")), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ours = detection_metrics(targets, dets)
    direct = dict(zip(STAT_KEYS, ev.stats.tolist(), strict=True))
    assert 0.05 < direct["ap"] < 0.95  # a case with something to get right
    for k in STAT_KEYS:
        assert ours[k] == pytest.approx(direct[k] if direct[k] >= 0 else None, abs=1e-9), k
