"""Detection data the suite makes itself: small images with coloured rectangles and ellipses at known boxes, written
in Penn-Fudan's layout, as COCO JSON and as Pascal VOC XML.

Boxes here are XYXY in 0-based pixel edges (torchvision's convention); the writers turn them into each format's
own convention (PASCAL's 1-based inclusive pixels, COCO's [x, y, width, height]) so the readers are checked
against them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image, ImageDraw

CLASSES = ("rect", "ellipse")
COLOURS = {"rect": (220, 40, 40), "ellipse": (40, 60, 220)}


@dataclass
class Scene:
    """One generated image: its name, size and objects (integer XYXY boxes, class names)."""

    name: str
    image: Image.Image
    boxes: list[tuple[int, int, int, int]]
    names: list[str]


def make_scenes(n: int = 6, size: int = 80, seed: int = 0, max_objects: int = 2, shapes=CLASSES) -> list[Scene]:
    """``n`` images of ``size`` x ``size`` (the first is wider, ``size + 16`` px), 1..max_objects objects each,
    side 16-32 px, not overlapping, on a grey noisy background."""
    rng = random.Random(seed)
    scenes = []
    for i in range(n):
        w, h = (size + 16 if i == 0 else size), size
        im = Image.new("RGB", (w, h))
        im.putdata([tuple(rng.randint(100, 140) for _ in range(3)) for _ in range(w * h)])
        draw = ImageDraw.Draw(im)
        boxes: list[tuple[int, int, int, int]] = []
        names: list[str] = []
        for _ in range(rng.randint(1, max_objects)):
            for _try in range(50):
                bw, bh = rng.randint(16, 32), rng.randint(16, 32)
                x1, y1 = rng.randint(2, w - bw - 2), rng.randint(2, h - bh - 2)
                box = (x1, y1, x1 + bw, y1 + bh)
                if all(
                    box[2] <= b[0] - 2 or b[2] <= box[0] - 2 or box[3] <= b[1] - 2 or b[3] <= box[1] - 2 for b in boxes
                ):
                    break
            else:
                continue
            shape = rng.choice(shapes)
            # PIL's shapes include their last pixel: [x1, x2 - 1] fills exactly the pixels of edge box (x1, x2)
            xy = (box[0], box[1], box[2] - 1, box[3] - 1)
            (draw.rectangle if shape == "rect" else draw.ellipse)(xy, fill=COLOURS[shape])
            boxes.append(box)
            names.append(shape)
        scenes.append(Scene(f"img{i:03d}", im, boxes, names))
    return scenes


def write_pennfudan(root: Path, scenes: list[Scene]) -> Path:
    """``root/PNGImages/*.png`` + ``root/Annotation/*.txt`` in the database's own text format."""
    (root / "PNGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotation").mkdir(parents=True, exist_ok=True)
    for s in scenes:
        s.image.save(root / "PNGImages" / f"{s.name}.png")
        w, h = s.image.size
        lines = [
            "# Compatible with PASCAL Annotation Version 1.00",
            f'Image filename : "PennFudanPed/PNGImages/{s.name}.png"',
            f"Image size (X x Y x C) : {w} x {h} x 3",
            'Database : "The Penn-Fudan-Pedestrian Database"',
            f"Objects with ground truth : {len(s.boxes)} {{ " + " ".join('"PASpersonWalking"' for _ in s.boxes) + " }",
            "# Top left pixel co-ordinates : (1, 1)",
        ]
        for k, (x1, y1, x2, y2) in enumerate(s.boxes, 1):
            lines += [
                f'# Details for pedestrian {k} ("PASpersonWalking")',
                f'Original label for object {k} "PASpersonWalking" : "PennFudanPed"',
                f'Bounding box for object {k} "PASpersonWalking" (Xmin, Ymin) - (Xmax, Ymax) : '
                f"({x1 + 1}, {y1 + 1}) - ({x2}, {y2})",
                f'Pixel mask for object {k} "PASpersonWalking" : "PennFudanPed/PedMasks/{s.name}_mask.png"',
                "",
            ]
        (root / "Annotation" / f"{s.name}.txt").write_text("\n".join(lines) + "\n")
    return root


def write_coco(root: Path, scenes: list[Scene]) -> Path:
    """``root/images/*.png`` + ``root/instances.json`` (category ids 1, 2 = rect, ellipse); returns the JSON."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    images, anns = [], []
    for i, s in enumerate(scenes, 1):
        s.image.save(root / "images" / f"{s.name}.png")
        images.append({"id": i, "file_name": f"{s.name}.png", "width": s.image.size[0], "height": s.image.size[1]})
        for (x1, y1, x2, y2), name in zip(s.boxes, s.names, strict=True):
            anns.append({
                "id": len(anns) + 1, "image_id": i, "category_id": CLASSES.index(name) + 1, "iscrowd": 0,
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
            })  # fmt: skip
    cats = [{"id": k, "name": n} for k, n in enumerate(CLASSES, 1)]
    path = root / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def write_voc(root: Path, scenes: list[Scene]) -> Path:
    """``root/JPEGImages/*.png`` (lossless: the name says JPEG, the layout allows any image) +
    ``root/Annotations/*.xml``."""
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    (root / "Annotations").mkdir(parents=True, exist_ok=True)
    for s in scenes:
        s.image.save(root / "JPEGImages" / f"{s.name}.png")
        w, h = s.image.size
        objs = "".join(
            f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{x1 + 1}</xmin><ymin>{y1 + 1}</ymin>"
            f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
            for (x1, y1, x2, y2), n in zip(s.boxes, s.names, strict=True)
        )
        xml = (
            f"<annotation><filename>{s.name}.png</filename><size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size>{objs}</annotation>"
        )
        (root / "Annotations" / f"{s.name}.xml").write_text(xml)
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread for detection's tests: its many small convolutions and RoI ops run several times faster
    than on two threads when the CPU is shared (the suite's 2-thread default is restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# tiny detectors for the tests: a quarter-width backbone, small images, few proposals and RoIs
SMALL_DETECTOR = {
    "min_size": 64,
    "max_size": 96,
    "backbone_kwargs": {"width": 0.25},
    "representation_size": 128,
    "rpn_pre_nms_top_n_train": 200,
    "rpn_post_nms_top_n_train": 100,
    "rpn_pre_nms_top_n_test": 200,
    "rpn_post_nms_top_n_test": 100,
    "box_batch_size_per_image": 64,
}


def write_tiny_recipe(path: Path, **fields) -> Path:
    """A detection recipe for the tests' runs: the tiny detector, batch 2, one thread; ``fields`` on top."""
    recipe = {"task": "detect", "model": "fasterrcnn_googlenet", "num_classes": 2, "epochs": 2, "batch_size": 2,
              "lr": 0.005, "warmup_steps": 1, "model_kwargs": {**SMALL_DETECTOR, "box_score_thresh": 0.0},
              "threads": 1, "split": {"val_fraction": 0.25, "seed": 0}, **fields}  # fmt: skip
    path.write_text(yaml.safe_dump(recipe))
    return path
