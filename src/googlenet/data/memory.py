"""An image folder decoded once into memory: every image as one uint8 ``N x C x H x W`` tensor.

Small images (CIFAR-10's 32 px JPEGs) cost more to decode and augment one by one than the small model they feed:
held in memory, each batch is cut from one tensor and augmented in one pass
(:class:`~googlenet.data.transforms.BatchAugment`), as airbench does on a GPU. ``data.in_memory=true`` asks for it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from .datasets import DatasetError, ImageFolder, TensorImages, Unreadable


def decode_folder(folder: ImageFolder, skipped: Callable[[list[str]], None] | None = None) -> TensorImages:
    """Every readable image of ``folder`` decoded into a :class:`TensorImages` (labels kept, unreadable files left
    out and handed to ``skipped`` as one-line reasons; a strict folder raises instead). All images must have one
    size: a folder that mixes sizes is refused, naming the first file of another size."""
    images: list[np.ndarray] = []
    targets: list[int] = []
    reasons: list[str] = []
    shape: tuple[int, ...] | None = None
    first = ""
    for i, (path, _) in enumerate(folder.samples):
        item = folder[i]
        if isinstance(item, Unreadable):
            reasons.append(item.reason)
            continue
        img, target = item
        array = np.asarray(img, dtype=np.uint8)  # H x W x C (RGB) or H x W (L)
        array = array[:, :, None] if array.ndim == 2 else array
        if shape is None:
            shape, first = array.shape, path
        elif array.shape != shape:
            raise DatasetError(
                f"{path}: {array.shape[1]}x{array.shape[0]} px, but {first} is {shape[1]}x{shape[0]} px: "
                "data.in_memory needs images of one size"
            )
        images.append(array)
        targets.append(target)
    if skipped is not None and reasons:
        skipped(reasons)
    if not images:
        raise DatasetError(f"{folder.root}: no readable images to hold in memory")
    stacked = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # N x C x H x W, uint8
    return TensorImages(stacked, torch.tensor(targets, dtype=torch.int64))
