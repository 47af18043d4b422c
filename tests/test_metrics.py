"""Metrics on hand-made logits and probabilities, with the expected values worked out by hand."""

from __future__ import annotations

import math

import torch
from PIL import Image

from googlenet.eval.metrics import (
    confusion_matrix,
    nll,
    per_class_accuracy,
    save_confusion_png,
    summarize,
    topk_accuracy,
)

# 4 samples, 6 classes. Ranks of the target (1 = best): sample 0 -> 1, sample 1 -> 3, sample 2 -> 6, sample 3 -> 5
LOGITS = torch.tensor(
    [
        [9.0, 1.0, 2.0, 3.0, 4.0, 5.0],  # target 0: top-1
        [1.0, 9.0, 8.0, 7.0, 2.0, 3.0],  # target 3: rank 3
        [6.0, 5.0, 4.0, 3.0, 2.0, 1.0],  # target 5: rank 6 (last)
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],  # target 1: rank 5
    ]
)
TARGETS = torch.tensor([0, 3, 5, 1])


def test_topk_by_hand() -> None:
    acc = topk_accuracy(LOGITS, TARGETS, (1, 2, 3, 5, 6))
    assert acc == {1: 0.25, 2: 0.25, 3: 0.5, 5: 0.75, 6: 1.0}
    # probabilities rank the same as logits
    assert topk_accuracy(LOGITS.softmax(1), TARGETS, (1, 5)) == {1: 0.25, 5: 0.75}


def test_topk_clipped_when_fewer_classes() -> None:
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.1]])
    assert topk_accuracy(logits, torch.tensor([2, 0]), (1, 5)) == {1: 0.5, 5: 1.0}


def test_nll_by_hand() -> None:
    probs = torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]])
    assert math.isclose(nll(probs, torch.tensor([0, 2])), (-math.log(0.5) - math.log(0.1)) / 2, rel_tol=1e-6)
    # softmax probabilities: nll equals torch's cross-entropy on the logits
    ce = torch.nn.functional.cross_entropy(LOGITS.double(), TARGETS).item()
    assert math.isclose(nll(LOGITS.softmax(1), TARGETS), ce, rel_tol=1e-5)


def test_confusion_and_per_class_by_hand() -> None:
    preds = torch.tensor([0, 0, 1, 2, 2, 2])
    targets = torch.tensor([0, 1, 1, 2, 2, 0])
    cm = confusion_matrix(preds, targets, 4)
    expected = [[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]]  # rows true, columns predicted
    assert cm.tolist() == expected
    acc = per_class_accuracy(cm)
    assert acc[:3] == [0.5, 0.5, 1.0] and math.isnan(acc[3])


def test_summarize_and_png(tmp_path) -> None:
    names = list("abcdef")
    s = summarize(LOGITS.softmax(1), TARGETS, names)
    assert s["n"] == 4 and s["top1"] == 0.25 and s["top5"] == 0.75
    # argmax per row: 0, 1, 0, 5 -> only class "a" (target 0, predicted 0) is right
    assert s["per_class"]["a"] == {"accuracy": 1.0, "count": 1}
    assert s["per_class"]["d"] == {"accuracy": 0.0, "count": 1}
    assert s["per_class"]["c"] == {"accuracy": None, "count": 0}
    assert s["confusion"][3][1] == 1 and sum(map(sum, s["confusion"])) == 4
    png = save_confusion_png(s["confusion"], names, tmp_path / "cm.png")
    with Image.open(png) as im:
        assert im.format == "PNG" and im.width > 200 and im.height > 200
