"""Classification metrics on probabilities (or logits): top-k, per-class accuracy, loss, confusion matrix."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..fileio import atomic_write


def topk_correct(scores: Tensor, targets: Tensor, k: int) -> Tensor:
    """Boolean ``(N,)``: is the target among the ``k`` highest scores (``k`` clipped to the class count)."""
    k = min(k, scores.shape[1])
    return (scores.topk(k, dim=1).indices == targets[:, None]).any(dim=1)


def topk_accuracy(scores: Tensor, targets: Tensor, ks: Sequence[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose target is in the top ``k`` scores, for each ``k`` (clipped to the class count).

    Args:
        scores: ``(N, K)`` probabilities or logits (any monotone score gives the same result).
        targets: ``(N,)`` class indices.
        ks: the ``k`` values to report; a ``k`` above ``K`` is reported as ``K`` would be (always 1.0).
    """
    if len(targets) == 0:
        return {k: math.nan for k in ks}
    return {k: topk_correct(scores, targets, k).double().mean().item() for k in ks}


def nll(probs: Tensor, targets: Tensor, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the targets under ``probs`` (cross-entropy when probs are a softmax)."""
    if len(targets) == 0:
        return math.nan
    p = probs.double().gather(1, targets[:, None]).squeeze(1)
    return (-p.clamp_min(eps).log()).mean().item()


def confusion_matrix(preds: Tensor, targets: Tensor, num_classes: int) -> Tensor:
    """``(K, K)`` int64 counts; row = true class, column = predicted class."""
    index = targets.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(cm: Tensor) -> list[float]:
    """Top-1 accuracy of each true class from a confusion matrix (NaN for a class with no samples)."""
    counts = cm.sum(dim=1)
    return [(cm[i, i] / counts[i]).item() if counts[i] else math.nan for i in range(cm.shape[0])]


def summarize(probs: Tensor, targets: Tensor, class_names: Sequence[str] | None = None) -> dict[str, Any]:
    """Everything ``googlenet eval`` reports for one set of ``(N, K)`` probabilities.

    Returns:
        ``{"n", "top1", "top5", "loss", "per_class": {name: {"accuracy", "count"}}, "confusion": [[...]]}``
        (accuracies as fractions, ``None`` for a class with no images, so the dict is valid JSON; top-5 is
        top-K when there are fewer than 5 classes).
    """
    num_classes = probs.shape[1]
    names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
    acc = topk_accuracy(probs, targets, (1, 5))
    cm = confusion_matrix(probs.argmax(dim=1), targets, num_classes)
    per_class = per_class_accuracy(cm)
    counts = cm.sum(dim=1).tolist()
    return {
        "n": len(targets),
        "top1": acc[1],
        "top5": acc[5],
        "loss": nll(probs, targets),
        "per_class": {
            n: {"accuracy": None if c == 0 else a, "count": c} for n, a, c in zip(names, per_class, counts, strict=True)
        },
        "confusion": cm.tolist(),
    }


def save_confusion_png(
    cm: Tensor | Sequence[Sequence[int]], class_names: Sequence[str], path: str | os.PathLike, title: str = ""
) -> Path:
    """Draw a row-normalised confusion matrix with counts in the cells (matplotlib, Agg) and save it as PNG.

    Up to 100 classes each gets a labelled row and column; more (ImageNet's 1000) are drawn as an unlabelled
    picture of at most 24 inches a side, not a 50,000-pixel one.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg

    cm = torch.as_tensor(cm, dtype=torch.float64)
    rates = cm / cm.sum(dim=1, keepdim=True).clamp_min(1)
    k = cm.shape[0]
    side = min(max(4.0, 0.45 * k + 2.0), 24.0)
    fig = Figure(figsize=(side + 1.5, side))
    ax = fig.subplots()
    im = ax.imshow(rates.numpy(), cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    if k <= 100:
        ax.set_xticks(range(k), labels=list(class_names), rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(k), labels=list(class_names), fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title, fontsize=10)
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    colour = "white" if rates[i, j] > 0.5 else "black"
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    fig.tight_layout()
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    return path
