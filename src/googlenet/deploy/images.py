"""A few real images, preprocessed as the network expects: for export parity checks and int8 calibration."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..data.datasets import IMAGENET_MEAN, IMAGENET_STD
from ..data.decode import IMAGE_EXTENSIONS, open_image
from ..errors import UserError


def image_files(root: str | os.PathLike, count: int, split: str = "val") -> list[Path]:
    """``count`` image files from ``root`` (a dataset folder with class subfolders, or any folder of images).

    Files are taken round-robin over the class folders (sorted), so a small sample covers every class.
    """
    root = Path(root)
    if (root / split).is_dir():
        root = root / split
    classes = sorted(d for d in root.iterdir() if d.is_dir()) or [root]
    per_class = [sorted(p for p in c.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS) for c in classes]
    files: list[Path] = []
    for i in range(max((len(p) for p in per_class), default=0)):
        files += [p[i] for p in per_class if i < len(p)]
        if len(files) >= count:
            return files[:count]
    if not files:
        raise UserError(f"no image files under {root}")
    return files


def preprocess(
    files: Sequence[str | os.PathLike],
    input_size: int,
    mean: Sequence[float] | None = IMAGENET_MEAN,
    std: Sequence[float] | None = IMAGENET_STD,
    in_chans: int = 3,
) -> Tensor:
    """Decode, resize the short side to ``input_size``, centre-crop, scale to [0, 1], normalise (if mean/std).

    Returns an ``N x C x input_size x input_size`` float32 batch.
    """
    from torchvision.transforms import v2

    steps = [v2.ToImage(), v2.Resize(input_size, antialias=True), v2.CenterCrop(input_size)]
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if mean is not None and std is not None:
        steps.append(v2.Normalize(list(mean), list(std)))
    transform = v2.Compose(steps)
    mode = "L" if in_chans == 1 else "RGB"
    return torch.stack([transform(open_image(f, mode)) for f in files])


def sample_batch(
    count: int,
    input_size: int,
    mean: Sequence[float] | None = IMAGENET_MEAN,
    std: Sequence[float] | None = IMAGENET_STD,
    data: str | os.PathLike | None = None,
    in_chans: int = 3,
    split: str = "val",
) -> Tensor:
    """``count`` real Imagenette images (or images from ``data``), preprocessed; see :func:`preprocess`."""
    from ..data.sources import resolve_split

    root = resolve_split(data or "imagenette2-128", None)  # a folder of the user's, or a dataset name
    return preprocess(image_files(root, count, split), input_size, mean, std, in_chans)
