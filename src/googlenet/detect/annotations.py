"""Reading box annotations: Penn-Fudan's own text files and Pascal VOC XML, checked against their image.

Both formats come from the PASCAL tradition (Penn-Fudan's files say "Compatible with PASCAL Annotation Version
1.00"): pixel indices start at 1 and a box names its first and last pixel, both included. Here every box is in
torchvision's convention, XYXY in pixel-edge coordinates from 0: ``(xmin - 1, ymin - 1, xmax, ymax)``, so its
width is ``xmax - xmin + 1`` pixels, as the PASCAL devkit counts it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError

Box = tuple[float, float, float, float]


class DetectionDataError(UserError):
    """Detection data that cannot be used: an annotation that does not parse, a bad box, a missing file."""


@dataclass
class Annotation:
    """The boxes (XYXY, 0-based pixel edges) and class names of one image, and the size the file declares."""

    boxes: list[Box] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = None  # (width, height) as the file states it, if it does


_PF_SIZE = re.compile(r"Image size \(X x Y x C\)\s*:\s*(\d+)\s*x\s*(\d+)")
_PF_COUNT = re.compile(r"Objects with ground truth\s*:\s*(\d+)")
_PF_BOX = re.compile(
    r'Bounding box for object (\d+) "([^"]*)" \(Xmin, Ymin\) - \(Xmax, Ymax\)\s*:\s*'
    r"\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)\s*-\s*\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)"
)


def parse_pennfudan(text: str, source: str = "annotation") -> Annotation:
    """One Penn-Fudan ``Annotation/*.txt`` file. Every object is a pedestrian: its name is ``"person"``."""
    count = _PF_COUNT.search(text)
    if count is None:
        raise DetectionDataError(f"{source}: not a Penn-Fudan annotation (no 'Objects with ground truth' line)")
    ann = Annotation()
    size = _PF_SIZE.search(text)
    if size is not None:
        ann.size = (int(size.group(1)), int(size.group(2)))
    for m in _PF_BOX.finditer(text):
        xmin, ymin, xmax, ymax = (int(m.group(i)) for i in range(3, 7))
        ann.boxes.append((xmin - 1.0, ymin - 1.0, float(xmax), float(ymax)))
        ann.names.append("person")
    declared = int(count.group(1))
    lines = sum(1 for line in text.splitlines() if line.startswith("Bounding box for object"))
    if lines != len(ann.boxes):
        raise DetectionDataError(f"{source}: a 'Bounding box' line does not parse ({lines - len(ann.boxes)} bad)")
    if declared != len(ann.boxes):
        raise DetectionDataError(f"{source}: declares {declared} objects but gives {len(ann.boxes)} bounding boxes")
    return ann


def read_pennfudan(path: Path) -> Annotation:
    """:func:`parse_pennfudan` of a file (latin-1: the files are ASCII, and no byte makes this fail)."""
    return parse_pennfudan(path.read_text(encoding="latin-1"), source=str(path))


def read_voc_xml(path: Path) -> Annotation:
    """One Pascal VOC ``Annotations/*.xml`` file (the fields torchvision's ``VOCDetection`` reads)."""
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as err:
        raise DetectionDataError(f"{path}: annotation does not parse ({' '.join(str(err).split())})") from None
    ann = Annotation()
    try:
        size = root.find("size")
        if size is not None:
            ann.size = (int(size.findtext("width", "")), int(size.findtext("height", "")))
        for i, obj in enumerate(root.iter("object"), 1):
            bb = obj.find("bndbox")
            name = (obj.findtext("name") or "").strip()
            if bb is None or not name:
                raise DetectionDataError(f"{path}: object {i} has no name or no bndbox")
            xmin, ymin, xmax, ymax = (float(bb.findtext(k, "")) for k in ("xmin", "ymin", "xmax", "ymax"))
            ann.boxes.append((xmin - 1.0, ymin - 1.0, xmax, ymax))
            ann.names.append(name)
    except ValueError as err:
        raise DetectionDataError(f"{path}: annotation does not parse ({err})") from None
    return ann


def check_boxes(boxes: list[Box], width: int, height: int, source: str) -> None:
    """Refuse, in one line, a box with zero area or one that leaves its ``width`` x ``height`` image."""
    for i, (x1, y1, x2, y2) in enumerate(boxes, 1):
        shown = f"({x1:g}, {y1:g}, {x2:g}, {y2:g})"
        if x2 <= x1 or y2 <= y1:
            raise DetectionDataError(f"{source}: object {i} box {shown} has zero area")
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            raise DetectionDataError(f"{source}: object {i} box {shown} lies outside its {width}x{height} image")
