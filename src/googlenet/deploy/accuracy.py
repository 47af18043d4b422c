"""Top-1 accuracy of an inference callable on a class-folder validation set (fp32 vs int8 comparisons)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..data.decode import IMAGE_EXTENSIONS
from ..errors import UserError
from .images import preprocess


def labelled_files(root: str | os.PathLike, class_names: Sequence[str] | None = None) -> list[tuple[Path, int]]:
    """``(file, label)`` pairs of ``root/<class>/*``; labels follow ``class_names`` when they name the folders,
    else the sorted folder order (torchvision ``ImageFolder``'s convention)."""
    root = Path(root)
    folders = sorted(d.name for d in root.iterdir() if d.is_dir())
    if not folders:
        raise UserError(f"no class folders under {root}")
    index = {name: i for i, name in enumerate(class_names)} if class_names else {}
    if not set(folders) <= set(index):
        index = {name: i for i, name in enumerate(folders)}
    return [
        (p, index[d]) for d in folders for p in sorted((root / d).iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS
    ]


def top1(
    fn: Callable[[Tensor], Tensor],
    files: Sequence[tuple[Path, int]],
    input_size: int,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    batch_size: int = 32,
) -> tuple[float, Tensor]:
    """``(top-1 accuracy, predictions)`` of ``fn`` over ``files`` (resize short side, centre crop)."""
    preds = []
    for i in range(0, len(files), batch_size):
        chunk = files[i : i + batch_size]
        x = preprocess([f for f, _ in chunk], input_size, mean, std)
        preds.append(fn(x).argmax(1))
    pred = torch.cat(preds)
    labels = torch.tensor([label for _, label in files])
    return (pred == labels).float().mean().item(), pred
