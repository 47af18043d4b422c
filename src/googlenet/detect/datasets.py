"""Detection datasets in the layouts people have, read into torchvision's detection conventions.

Every dataset yields ``(image, target)``: ``image`` a ``tv_tensors.Image`` (float, 0-1, C x H x W) and ``target``
a dict with ``boxes`` (``tv_tensors.BoundingBoxes``, XYXY in pixels of the image), ``labels`` (int64, 1..K; 0 is
the background, as ``torchvision.models.detection`` expects) and ``image_id`` (int). ``transforms`` are
transforms v2 applied to the pair, so boxes move with the image (:mod:`googlenet.detect.transforms`).

- :class:`PennFudan`: ``PNGImages/*.png`` + ``Annotation/*.txt`` (the database's own files; ``PedMasks/`` is not
  needed for boxes);
- :class:`VOCFolder`: ``JPEGImages/`` + ``Annotations/*.xml`` (Pascal VOC);
- :class:`CocoFolder`: an image folder + a COCO ``instances_*.json``, read by torchvision's ``CocoDetection``
  wrapped by ``wrap_dataset_for_transforms_v2``.

Annotations are read and checked when the dataset is built, so a bad file stops the run before training starts.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from .annotations import Annotation, Box, DetectionDataError, check_boxes, read_pennfudan, read_voc_xml

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm")


@dataclass
class Record:
    """One image and its boxes in original pixels."""

    path: Path
    boxes: list[Box]
    labels: list[int]
    image_id: int


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, ValueError) as err:
        raise DetectionDataError(f"{path}: not a readable image ({' '.join(str(err).split())})") from None


def load_image(path: Path) -> tv_tensors.Image:
    """An RGB image as a float 0-1 ``tv_tensors.Image``."""
    try:
        with Image.open(path) as im:
            return tv_tensors.Image(F.to_dtype(F.pil_to_tensor(im.convert("RGB")), torch.float32, scale=True))
    except (OSError, ValueError) as err:
        raise DetectionDataError(f"{path}: not a readable image ({' '.join(str(err).split())})") from None


def make_target(boxes: Any, labels: Any, image_id: int, height: int, width: int) -> dict[str, Any]:
    """A torchvision detection target: XYXY ``BoundingBoxes`` on an ``height`` x ``width`` canvas."""
    b = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    return {
        "boxes": tv_tensors.BoundingBoxes(b, format="XYXY", canvas_size=(height, width)),
        "labels": torch.as_tensor(labels, dtype=torch.int64).reshape(-1),
        "image_id": int(image_id),
    }


class DetectionDataset(Dataset):
    """Records (path, boxes, labels) read up front; ``class_names[k]`` names label k (0: background)."""

    def __init__(self, records: list[Record], class_names: list[str], transforms: Any = None) -> None:
        self.records = records
        self.class_names = class_names
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[tv_tensors.Image, dict[str, Any]]:
        r = self.records[i]
        image = load_image(r.path)
        target = make_target(r.boxes, r.labels, r.image_id, image.shape[-2], image.shape[-1])
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target

    def subset(self, indices: list[int], transforms: Any = None) -> DetectionDataset:
        """The records at ``indices`` (a split), with their own transforms."""
        return DetectionDataset([self.records[i] for i in indices], self.class_names, transforms)


def _checked(path: Path, ann: Annotation, source: Path) -> None:
    width, height = _image_size(path)
    check_boxes(ann.boxes, width, height, str(source))


def _images_in(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise DetectionDataError(f"{folder}: no such folder ({what} expected)")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise DetectionDataError(f"{folder}: empty folder, no images ({what})")
    return images


class PennFudan(DetectionDataset):
    """Penn-Fudan pedestrians: ``root/PNGImages/X.png`` with ``root/Annotation/X.txt``; one class, ``person``."""

    def __init__(self, root: str | os.PathLike, transforms: Any = None) -> None:
        root = Path(root)
        records = []
        for i, path in enumerate(_images_in(root / "PNGImages", "Penn-Fudan's PNGImages/*.png")):
            txt = root / "Annotation" / f"{path.stem}.txt"
            if not txt.is_file():
                raise DetectionDataError(f"{path}: image has no annotation file {txt}")
            ann = read_pennfudan(txt)
            _checked(path, ann, txt)
            records.append(Record(path, ann.boxes, [1] * len(ann.boxes), i))
        super().__init__(records, ["background", "person"], transforms)


class VOCFolder(DetectionDataset):
    """Pascal VOC: ``root/JPEGImages/X.jpg`` with ``root/Annotations/X.xml``; classes are the names found, sorted,
    unless ``classes`` lists them (label k+1 is ``classes[k]``)."""

    def __init__(self, root: str | os.PathLike, transforms: Any = None, classes: list[str] | None = None) -> None:
        root = Path(root)
        anns: list[tuple[Path, Annotation]] = []
        for path in _images_in(root / "JPEGImages", "Pascal VOC's JPEGImages/"):
            xml = root / "Annotations" / f"{path.stem}.xml"
            if not xml.is_file():
                raise DetectionDataError(f"{path}: image has no annotation file {xml}")
            ann = read_voc_xml(xml)
            _checked(path, ann, xml)
            anns.append((path, ann))
        names = classes or sorted({n for _, a in anns for n in a.names})
        index = {n: k for k, n in enumerate(names, 1)}
        records = []
        for i, (path, ann) in enumerate(anns):
            unknown = [n for n in ann.names if n not in index]
            if unknown:
                raise DetectionDataError(f"{path}: class {unknown[0]!r} is not one of {names}")
            records.append(Record(path, ann.boxes, [index[n] for n in ann.names], i))
        super().__init__(records, ["background", *names], transforms)


class CocoFolder(Dataset):
    """COCO: ``images/`` + ``instances_*.json`` through ``CocoDetection`` and ``wrap_dataset_for_transforms_v2``.

    Labels are the JSON's category ids (``class_names[id]``; ids the JSON does not use are named ``""``).
    """

    def __init__(self, images: str | os.PathLike, ann_file: str | os.PathLike, transforms: Any = None) -> None:
        from torchvision.datasets import CocoDetection, wrap_dataset_for_transforms_v2

        images, ann_file = Path(images), Path(ann_file)
        if not ann_file.is_file():
            raise DetectionDataError(f"{ann_file}: no such COCO annotation file")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress on stdout
                base = CocoDetection(str(images), str(ann_file))
        except (ValueError, KeyError, TypeError, AssertionError) as err:
            raise DetectionDataError(f"{ann_file}: not a COCO annotation file ({' '.join(str(err).split())})") from None
        for img in base.coco.imgs.values():
            path = images / img["file_name"]
            if not path.is_file():
                raise DetectionDataError(f"{ann_file}: image {img['file_name']!r} (id {img['id']}) is missing")
            boxes = [
                (a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3])
                for a in base.coco.imgToAnns[img["id"]]
            ]
            check_boxes(boxes, int(img["width"]), int(img["height"]), f"{ann_file} image {img['file_name']!r}")
        if not base.ids:
            raise DetectionDataError(f"{ann_file}: no images in it")
        self.base = wrap_dataset_for_transforms_v2(base, target_keys={"boxes", "labels", "image_id"})
        cats = base.coco.cats
        self.class_names = [cats[k]["name"] if k in cats else "" for k in range(max(cats, default=0) + 1)]
        self.class_names[0] = self.class_names[0] or "background"
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[tv_tensors.Image, dict[str, Any]]:
        pil, wrapped = self.base[i]
        image = tv_tensors.Image(F.to_dtype(F.pil_to_tensor(pil.convert("RGB")), torch.float32, scale=True))
        h, w = image.shape[-2:]
        target = make_target(wrapped.get("boxes", []), wrapped.get("labels", []), wrapped["image_id"], h, w)
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        return image, target


def split_indices(n: int, val_fraction: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """A fixed-seed split of ``range(n)`` into (train, val) for data that has none; val gets
    ``round(n * val_fraction)`` items, at least one when ``n > 1``."""
    if not 0 < val_fraction < 1:
        raise DetectionDataError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(1, round(n * val_fraction)) if n > 1 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def looks_like_detection_data(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a COCO file or a folder in Penn-Fudan's or VOC's layout (or holding Penn-Fudan's
    archive); a folder of a COCO file and images is not told apart from others here."""
    p = Path(path)
    if p.is_file():
        return p.suffix == ".json" or p.name.endswith(".tar.gz")
    marks = ("PennFudanPed", "PNGImages", "Annotation", "JPEGImages", "Annotations", "pennfudanped.tar.gz")
    return any((p / m).exists() for m in marks)


def open_detection_data(path: str | os.PathLike, transforms: Any = None) -> Dataset:
    """The detection dataset at ``path``, by its layout: Penn-Fudan, VOC, or COCO (a folder holding one
    ``*.json`` and an ``images/`` folder, or the JSON file itself with its images beside it)."""
    p = Path(path)
    if p.is_file() and p.suffix == ".json":
        return CocoFolder(p.parent / "images" if (p.parent / "images").is_dir() else p.parent, p, transforms)
    if not p.is_dir():
        raise DetectionDataError(f"--data {p}: no such folder")
    if (p / "PennFudanPed").is_dir():
        p = p / "PennFudanPed"
    if (p / "PNGImages").is_dir() or (p / "Annotation").is_dir():
        return PennFudan(p, transforms)
    if (p / "JPEGImages").is_dir() or (p / "Annotations").is_dir():
        return VOCFolder(p, transforms)
    jsons = sorted(p.glob("*.json")) + sorted(p.glob("annotations/*.json"))
    if len(jsons) == 1:
        return CocoFolder(p / "images" if (p / "images").is_dir() else p, jsons[0], transforms)
    if not any(p.iterdir()):
        raise DetectionDataError(f"--data {p}: empty folder")
    raise DetectionDataError(
        f"--data {p}: not a detection dataset (expected PNGImages/ + Annotation/, JPEGImages/ + Annotations/, "
        "or one COCO *.json)"
    )
