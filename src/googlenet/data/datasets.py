"""Datasets on disk: image folders (``root/{train,val|test}/<class>/*``), CIFAR-10 JPEGs, Fashion-MNIST IDX.

Every dataset takes either an index or an ``(index, seed)`` key. With a seed the random augmentation of
that sample is drawn from a generator seeded by it (the global torch RNG is left untouched), so the
data a step sees depends only on the run's seed, the epoch and the position, never on worker
scheduling: that is what makes a resumed run repeat the uninterrupted one exactly.

A corrupt, truncated or empty image yields an :class:`Unreadable` record naming the file and the reason (the
loader's collate drops it and hands the reasons to the training loop, which reports each file once, or stops
with one line under ``strict_data``) or, with ``strict=True``, raises :class:`~googlenet.data.decode.ImageDecodeError`.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from ..errors import UserError
from .decode import IMAGE_EXTENSIONS, ImageDecodeError, open_image
from .sources import ARCHIVES, FASHION_MNIST_DIRS, DataNotFoundError, cache_dir, locate, read_name, search_dirs

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# name -> (mean, std, native input size); CIFAR-10 from its train set, Fashion-MNIST from its 60k train images
STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...], int]] = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 32),
    "fashion-mnist": ((0.2860,), (0.3530,), 28),
    "imagenette2-128": (IMAGENET_MEAN, IMAGENET_STD, 128),
    "imagenette2-224": (IMAGENET_MEAN, IMAGENET_STD, 224),
}


FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
EVAL_SPLITS = ("val", "test")

Transform = Callable[[Any], torch.Tensor]


class Unreadable(NamedTuple):
    """A sample whose file could not be decoded: ``reason`` names the file and why (one line)."""

    reason: str


class DatasetError(UserError):
    """A dataset folder or file that cannot be used (missing or empty split, unreadable labels)."""


def _apply(transform: Transform | None, img: Any, seed: int | None) -> Any:
    if transform is None:
        return img
    if seed is None:
        return transform(img)
    if get_worker_info() is not None:  # a worker's global RNG serves nothing else
        torch.manual_seed(seed)
        return transform(img)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return transform(img)


def _split_key(key: int | tuple[int, int]) -> tuple[int, int | None]:
    if isinstance(key, tuple):
        return int(key[0]), int(key[1])
    return int(key), None


class ImageFolder(Dataset):
    """``split_dir/<class>/<image>`` files, classes sorted by folder name; decoding via :func:`open_image`.

    Args:
        split_dir: folder whose sub-folders are the classes.
        transform: applied to the decoded PIL image.
        mode: "RGB" or "L".
        strict: raise on an undecodable file instead of returning an :class:`Unreadable` record.
        classes: class names to use (default: the sub-folders found), so val uses train's label order.
    """

    def __init__(
        self,
        split_dir: str | os.PathLike,
        transform: Transform | None = None,
        mode: str = "RGB",
        strict: bool = False,
        classes: Sequence[str] | None = None,
    ) -> None:
        self.root = Path(split_dir)
        if not self.root.is_dir():
            raise DatasetError(f"split folder not found: {self.root}")
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir())
        self.classes = list(classes) if classes is not None else found
        index = {c: i for i, c in enumerate(self.classes)}
        self.samples: list[tuple[str, int]] = []
        for c in found:
            if c not in index:
                raise DatasetError(f"{self.root / c}: class {c!r} is not among the training classes")
            for f in sorted(os.scandir(self.root / c), key=lambda e: e.name):
                if f.is_file() and f.name.lower().endswith(IMAGE_EXTENSIONS):
                    self.samples.append((f.path, index[c]))
        if not self.samples:
            raise DatasetError(f"no images in {self.root} (expected {self.root}/<class>/<image>.jpg)")
        self.targets = [t for _, t in self.samples]
        self.transform, self.mode, self.strict = transform, mode, strict

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int] | Unreadable:
        i, seed = _split_key(key)
        path, target = self.samples[i]
        try:
            img = open_image(path, self.mode)
        except ImageDecodeError as err:
            if self.strict:
                raise
            return Unreadable(str(err))
        return _apply(self.transform, img, seed), target

    def subset(self, indices: Sequence[int]) -> ImageFolder:
        """A view holding only ``indices`` (same classes, transform and options)."""
        view = object.__new__(ImageFolder)
        view.__dict__.update(self.__dict__)
        view.samples = [self.samples[i] for i in indices]
        view.targets = [t for _, t in view.samples]
        return view


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip or raw) as a numpy array; a clear error for a corrupt or truncated file."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise DatasetError(f"{path}: unreadable IDX file ({err})") from None
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise DatasetError(f"{path}: not a uint8 IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise DatasetError(f"{path}: truncated IDX file ({len(data) - offset} bytes of data for shape {shape})")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


class TensorImages(Dataset):
    """Images held in memory as a uint8 N x C x H x W tensor (Fashion-MNIST).

    With ``batch_transform`` set (a :class:`~googlenet.data.transforms.BatchAugment`), the loader fetches
    whole batches through ``__getitems__`` and augments them in one pass, seeded by the batch's first key.
    """

    def __init__(self, images: torch.Tensor, targets: torch.Tensor, transform: Transform | None = None) -> None:
        self.images, self.targets_t, self.transform = images, targets, transform
        self.batch_transform: Callable[[torch.Tensor, int | None], torch.Tensor] | None = None
        self.targets = targets.tolist()

    def __getitems__(self, keys: list[Any]) -> list[Any]:
        if self.batch_transform is None:
            return [self[k] for k in keys]
        pairs = [_split_key(k) for k in keys]
        idx = torch.tensor([i for i, _ in pairs], dtype=torch.long)
        x = self.batch_transform(self.images[idx], pairs[0][1])
        return list(zip(x.unbind(0), self.targets_t[idx].tolist(), strict=True))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[Any, int]:
        i, seed = _split_key(key)
        return _apply(self.transform, self.images[i], seed), self.targets[i]

    def subset(self, indices: Sequence[int]) -> TensorImages:
        idx = torch.as_tensor(list(indices), dtype=torch.long)
        view = TensorImages(self.images[idx], self.targets_t[idx], self.transform)
        view.batch_transform = self.batch_transform
        return view


def fashion_mnist_dir(data: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The folder holding Fashion-MNIST's four IDX .gz files; downloads them with torchvision if asked.

    A ``data`` path the user named is the only place looked at (that folder or its ``fashion-mnist/``).
    """
    names = FASHION_MNIST_FILES["train"][0]
    if data is not None:
        if not Path(data).exists():
            raise DataNotFoundError(f"--data {data}: no such file or folder")
        candidates = [Path(data), Path(data) / "fashion-mnist"]
    else:
        candidates = [d / "fashion-mnist" for d in search_dirs()]
        candidates += [Path(d) for d in FASHION_MNIST_DIRS]
        candidates += [cache_dir() / "FashionMNIST" / "raw"]  # where --download put it
    for d in candidates:
        if (d / names).is_file():
            return d
    if download:
        from torchvision.datasets import FashionMNIST

        for train in (True, False):
            FashionMNIST(str(cache_dir()), train=train, download=True)
        return cache_dir() / "FashionMNIST" / "raw"
    raise DataNotFoundError(
        "Fashion-MNIST not found (looked in " + ", ".join(str(d) for d in candidates) + "). Install it with "
        "`apt-get install dataset-fashion-mnist` or pass --download to fetch it with torchvision."
    )


def load_fashion_mnist(split: str, data: str | os.PathLike | None = None, download: bool = False) -> TensorImages:
    """Fashion-MNIST ``split`` ("train" or "test") as 1 x 28 x 28 uint8 images."""
    root = fashion_mnist_dir(data, download)
    img_name, lbl_name = FASHION_MNIST_FILES[split]
    images = torch.from_numpy(read_idx(root / img_name).copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx(root / lbl_name).astype(np.int64))
    if len(images) != len(labels) or len(images) == 0:
        raise DatasetError(f"{root}: {split} has {len(images)} images but {len(labels)} labels")
    return TensorImages(images, labels)


@dataclass
class DataSpec:
    """A dataset's two splits and what a model needs to know about it."""

    name: str
    train: Dataset
    val: Dataset
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_chans: int
    native_size: int
    root: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # what records and model cards credit: the dataset actually read (see build_data)


def _folder_spec(name: str, root: Path, strict: bool, mode: str = "RGB", source: str = "") -> DataSpec:
    if not (root / "train").is_dir():
        raise DatasetError(f"{root}: no train/ split (expected {root}/train/<class>/*)")
    val_dir = next((root / s for s in EVAL_SPLITS if (root / s).is_dir()), None)
    if val_dir is None:
        raise DatasetError(f"{root}: no val/ or test/ split (expected {root}/val/<class>/*)")
    train = ImageFolder(root / "train", mode=mode, strict=strict)
    val = ImageFolder(val_dir, mode=mode, strict=strict, classes=train.classes)
    mean, std, size = STATS.get(name, (IMAGENET_MEAN, IMAGENET_STD, 224))
    chans = 1 if mode == "L" else 3
    return DataSpec(name, train, val, train.classes, mean, std, chans, size, str(root), source=source or name)


def build_data(
    dataset: str, data: str | os.PathLike | None = None, strict: bool = False, download: bool = False
) -> DataSpec:
    """Both splits of ``dataset``: "fashion-mnist", "cifar10", "imagenette2-128|224", or a folder path.

    The spec's ``source`` is what was read: the dataset's name, the folder path as given, or, for a ``data`` folder
    that is not the named dataset (another dataset's folder), that folder's name (:func:`~.sources.read_name`).
    """
    if dataset == "fashion-mnist":
        train, val = (load_fashion_mnist(s, data, download) for s in ("train", "test"))
        mean, std, size = STATS[dataset]
        root = str(fashion_mnist_dir(data))
        return DataSpec(dataset, train, val, list(FASHION_MNIST_CLASSES), mean, std, 1, size, root, source=dataset)
    if dataset in ARCHIVES:
        root = locate(dataset, data)
        return _folder_spec(dataset, root, strict, source=read_name(dataset, root))
    path = Path(dataset)
    if path.is_dir():
        return _folder_spec(path.name, path, strict, source=dataset)
    raise DatasetError(
        f"unknown dataset {dataset!r}: use fashion-mnist, {', '.join(ARCHIVES)} or a folder with train/ and val/"
    )


def seeded_subset(ds: Dataset, n: int | None, seed: int) -> Dataset:
    """The first ``n`` samples of a seeded permutation of ``ds`` (all of it when ``n`` is None or too large)."""
    if n is None or n >= len(ds):
        return ds
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(ds), generator=g)[:n].sort().values.tolist()
    return ds.subset(idx)  # type: ignore[attr-defined]
