"""The evaluation dataset: an ImageFolder whose unreadable files are counted and skipped, not fatal."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor
from torchvision.datasets import ImageFolder
from torchvision.transforms.v2 import functional as F

from ..data.decode import IMAGE_EXTENSIONS, ImageDecodeError, open_image
from ..errors import UserError


class EvalImageFolder(ImageFolder):
    """``root/<class>/<image>``; item ``i`` is ``(views, target, path, error)``.

    ``views`` is ``transform(uint8 CHW tensor)``, or ``None`` with ``error`` set when the file cannot be decoded.
    """

    def __init__(
        self, root: str | os.PathLike, transform: Callable[[Tensor], Tensor] | None = None, mode: str = "RGB"
    ) -> None:
        self.mode = mode
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"no such folder: {root}")
        try:
            super().__init__(str(root), transform=transform, is_valid_file=_is_image)
        except FileNotFoundError as err:
            raise UserError(f"{root}: no images in class folders ({err})") from None

    def __getitem__(self, index: int) -> tuple[Tensor | None, int, str, str | None]:
        path, target = self.samples[index]
        try:
            img = F.pil_to_tensor(open_image(path, self.mode))
        except ImageDecodeError as err:
            return None, target, path, str(err)
        return (self.transform(img) if self.transform else img), target, path, None


def _is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS)


def subset_indices(targets: list[int], limit: int | None) -> list[int]:
    """At most ``limit`` indices spread evenly over the classes (round-robin, in file order): a fair sample."""
    if limit is None or limit >= len(targets):
        return list(range(len(targets)))
    by_class: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        by_class.setdefault(t, []).append(i)
    out: list[int] = []
    rank = 0
    while len(out) < limit:
        for idx in by_class.values():
            if rank < len(idx) and len(out) < limit:
                out.append(idx[rank])
        rank += 1
    return sorted(out)


def identity_collate(batch: Any) -> Any:
    """DataLoader collate for ``batch_size=None``: items pass through unchanged."""
    return batch
