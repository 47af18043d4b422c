"""Real images for inference: the one labelled image folder (eval, export ``--evaluate``, int8 calibration,
export parity), its round-robin sample, and preprocessed batches of it.

The folder is :class:`googlenet.data.datasets.ImageFolder` (``root/<class>/<image>``); :class:`EvalFolder` is its
evaluation view, whose items also name the file and say why an unreadable one was skipped. Fashion-MNIST's IDX
files are the other labelled source (:class:`EvalIdx`, found by :func:`idx_images`), as training reads them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from ..contract import ModelContract
from ..data.datasets import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FILES,
    DatasetError,
    ImageFolder,
    Unreadable,
    fashion_mnist_dir,
    load_fashion_mnist,
)
from ..data.sources import resolve_split
from ..errors import UserError
from ..preprocess import image_transform, normalizer

DEFAULT_DATA = "imagenette2-128"  # where parity and calibration images come from when no --data is given


class EvalFolder(Dataset):
    """``root/<class>/<image>``; item ``i`` is ``(x, target, path, error)``.

    ``x`` is ``transform(decoded PIL image)``, or ``None`` with ``error`` (one line naming the file) when the
    file cannot be decoded.
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None, mode: str = "RGB") -> None:
        self.folder = ImageFolder(root, transform=transform, mode=mode)
        self.classes: list[str] = self.folder.classes
        self.targets: list[int] = self.folder.targets

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> tuple[Any, int, str, str | None]:
        path, target = self.folder.samples[index]
        item = self.folder[index]
        if isinstance(item, Unreadable):
            return None, target, path, item.reason
        return item[0], target, path, None


class EvalIdx(Dataset):
    """A Fashion-MNIST split read from its IDX images file (its labels file beside it), items as
    :class:`EvalFolder`'s: ``(transform(PIL image), target, "FILE[i]", None)``."""

    def __init__(self, images_file: str | os.PathLike, transform: Callable | None = None, mode: str = "L") -> None:
        path = Path(images_file)
        split = next((s for s, (img, _) in FASHION_MNIST_FILES.items() if img == path.name), None)
        if split is None:
            raise DatasetError(f"{path}: not one of Fashion-MNIST's IDX image files")
        data = load_fashion_mnist(split, path.parent)
        self.images, self.targets = data.images, data.targets
        self.classes: list[str] = list(FASHION_MNIST_CLASSES)
        self.file, self.transform, self.mode = path, transform, mode

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, int, str, str | None]:
        img = Image.fromarray(self.images[index, 0].numpy(), "L").convert(self.mode)
        x = self.transform(img) if self.transform is not None else img
        return x, self.targets[index], f"{self.file}[{index}]", None


def idx_images(data: str, split: str | None) -> Path | None:
    """The Fashion-MNIST IDX images file that ``--data``/``--split`` name, or None when ``data`` is no such data.

    ``data`` is ``fashion-mnist`` (found where training finds it) or a folder holding its IDX files; ``split``
    ``val``, ``test`` or none reads the 10,000 test images, ``train`` the 60,000 training ones.
    """
    if data != "fashion-mnist":
        holds = [Path(data), Path(data) / "fashion-mnist"]
        if not any((d / FASHION_MNIST_FILES["test"][0]).is_file() for d in holds):
            return None
    if split not in (None, "", "val", "test", "train"):
        raise UserError(f"Fashion-MNIST has a train and a test split, not {split!r}")
    root = fashion_mnist_dir(None if data == "fashion-mnist" else data)
    return root / FASHION_MNIST_FILES["train" if split == "train" else "test"][0]


def eval_dataset(root: str | os.PathLike, transform: Callable | None = None, mode: str = "RGB") -> EvalFolder | EvalIdx:
    """The labelled images at ``root``: class folders (:class:`EvalFolder`) or an IDX images file (:class:`EvalIdx`)."""
    if Path(root).is_file():
        return EvalIdx(root, transform, mode)
    return EvalFolder(root, transform, mode)


def round_robin(targets: Sequence[int], limit: int | None) -> list[int]:
    """At most ``limit`` indices spread evenly over the classes (round-robin, in file order), sorted: a fair sample."""
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


def image_root(data: str | os.PathLike | None, split: str) -> Path:
    """The class folders to read: ``data`` (a folder or a dataset name; default Imagenette-128), its ``split``
    subfolder when it has one."""
    root = resolve_split(data or DEFAULT_DATA, None)
    return root / split if (root / split).is_dir() else root


def sample_batch(
    data: str | os.PathLike | None,
    count: int,
    contract: ModelContract,
    *,
    split: str = "val",
    normalized: bool = True,
) -> Tensor:
    """``count`` images from :func:`image_root` (round-robin over the classes), preprocessed per ``contract``.

    Returns:
        ``N x C x S x S`` float32: normalised as the network takes it, or in 0..1 (``normalized=False``).
        Unreadable files are left out; none readable is a :class:`UserError`.
    """
    folder = EvalFolder(image_root(data, split), image_transform(contract), contract.image_mode)
    crops = [folder[i][0] for i in round_robin(folder.targets, count)]
    crops = [c[0] for c in crops if c is not None]
    if not crops:
        raise UserError(f"no readable images in {folder.folder.root}")
    batch = torch.stack(crops)
    return normalizer(contract)(batch) if normalized else F.to_dtype(batch, torch.float32, scale=True)
