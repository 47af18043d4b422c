"""Detections on image files: one JSON-ready dict per image, in the original image's pixels, and drawn copies.

Each result: ``{"path": ..., "boxes": [[x1, y1, x2, y2], ...], "scores": [...], "labels": [...], "names": [...]}``
(the same ``path`` key as classification's lines), boxes rounded to 0.01 px, scores to 1e-4, sorted by score.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision.utils import draw_bounding_boxes

from .annotations import DetectionDataError
from .datasets import IMAGE_SUFFIXES, load_image

DEFAULT_SCORE_THRESHOLD = 0.5  # predict's --score-threshold and serve's score_threshold default

Detector = Callable[[list[Tensor]], list[dict[str, Tensor]]]


def image_paths(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """The image files named, folders expanded to their images (sorted); a one-line error for a missing one."""
    paths: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise DetectionDataError(f"{p}: empty folder, no images")
            paths += found
        elif p.is_file():
            paths.append(p)
        else:
            raise DetectionDataError(f"{p}: no such image file")
    return paths


def result_of(path: Path, out: dict[str, Tensor], class_names: Sequence[str], threshold: float) -> dict[str, Any]:
    """The JSON-ready result for one image's raw detections, those scoring under ``threshold`` dropped."""
    keep = out["scores"] >= threshold
    order = torch.argsort(out["scores"][keep], descending=True)
    boxes, scores, labels = out["boxes"][keep][order], out["scores"][keep][order], out["labels"][keep][order]
    names = [class_names[k] if 0 <= k < len(class_names) else str(k) for k in labels.tolist()]
    return {
        "path": str(path),
        "boxes": [[round(float(v), 2) for v in b] for b in boxes],
        "scores": [round(float(s), 4) for s in scores],
        "labels": [int(k) for k in labels],
        "names": names,
    }


@torch.no_grad()
def predict_images(
    detector: Detector, paths: Sequence[Path], class_names: Sequence[str], score_threshold: float = 0.5
) -> Iterator[tuple[dict[str, Any], Tensor]]:
    """``(result, image)`` for each path, one image at a time (results stream as they come)."""
    if hasattr(detector, "eval"):
        detector.eval()
    for path in paths:
        image = load_image(path).as_subclass(Tensor)
        out = detector([image])[0]
        yield result_of(path, out, class_names, score_threshold), image


def draw(image: Tensor, result: dict[str, Any], out_dir: Path) -> Path:
    """``out_dir/<stem>.png``: the image with its boxes (``draw_bounding_boxes``) labelled ``name score``."""
    pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    boxes = torch.tensor(result["boxes"], dtype=torch.float32).reshape(-1, 4)
    labels = [f"{n} {s:.2f}" for n, s in zip(result["names"], result["scores"], strict=True)]
    drawn = draw_bounding_boxes(pixels, boxes, labels=labels, colors="red", width=max(1, min(image.shape[-2:]) // 150))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{Path(result['path']).stem}.png"
    Image.fromarray(drawn.permute(1, 2, 0).numpy()).save(target)
    return target
