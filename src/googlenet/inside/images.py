"""Pictures in and out: a photo as a tensor, tensors as PNGs, grids of feature visualisations, and the
attribution sheet (the photo beside its top channels' visualisations)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor

from ..data.decode import open_image
from ..errors import UserError

BACKGROUND = (255, 255, 255)


def load_photo(path: str | os.PathLike, max_side: int | None = None) -> Tensor:
    """An image file as a uint8 3 x H x W RGB tensor (one-line :class:`~googlenet.data.decode.ImageDecodeError`
    if it is not an image), shrunk to at most ``max_side`` px on its longer side."""
    img = open_image(path, "RGB")
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1)


def to_uint8(image: Tensor) -> np.ndarray:
    """3 x H x W in 0..1 -> H x W x 3 uint8 (rounded)."""
    return (image.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def to_pil(image: Tensor) -> Image.Image:
    """3 x H x W in 0..1 -> an RGB PIL image."""
    return Image.fromarray(to_uint8(image), mode="RGB")


def grid(images: Sequence[Image.Image], cols: int | None = None, gap: int = 4) -> Image.Image:
    """Equal-size images in rows of ``cols`` (default: as square as possible) on white, ``gap`` px apart."""
    cols = cols or max(1, int(np.ceil(np.sqrt(len(images)))))
    rows = -(-len(images) // cols)
    w, h = images[0].size
    sheet = Image.new("RGB", (cols * w + (cols - 1) * gap, rows * h + (rows - 1) * gap), BACKGROUND)
    for i, img in enumerate(images):
        sheet.paste(img, ((i % cols) * (w + gap), (i // cols) * (h + gap)))
    return sheet


def save_png(image: Image.Image, path: str | os.PathLike) -> Path:
    """Write ``image`` as PNG (creating the folder); a one-line :class:`~googlenet.errors.UserError` if it cannot."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, format="PNG", optimize=True)
    except OSError as err:
        raise UserError(f"cannot write {path}: {err.strerror or err}") from None
    return path


def attribution_sheet(
    photo: Image.Image, title: str, channels: Sequence[tuple[int, float]], thumbnails: Sequence[Image.Image]
) -> Image.Image:
    """The photo (left, ``title`` along the bottom) and, in a column, each top channel's thumbnail with its number
    and attribution and a bar proportional to it."""
    side = thumbnails[0].height if thumbnails else 64
    photo = photo.copy()
    photo.thumbnail((max(side * 3, 128), max(side * 3, 128)))
    row_h, label_w, gap = side + 6, 150, 10
    title_w = round(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(title))
    height = max(photo.height, row_h * len(thumbnails)) + 3 * gap + 12
    width = max(gap * 3 + photo.width + side + label_w, title_w + 2 * gap)
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    sheet.paste(photo, (gap, gap))
    draw.text((gap, height - gap - 12), title, fill=(0, 0, 0))  # the title along the bottom
    x0 = 2 * gap + photo.width
    peak = max((abs(a) for _, a in channels), default=1.0) or 1.0
    for i, ((k, a), thumb) in enumerate(zip(channels, thumbnails, strict=True)):
        y = gap + i * row_h
        sheet.paste(thumb, (x0, y))
        draw.text((x0 + side + 6, y + 2), f"channel {k}: {a:+.3g}", fill=(0, 0, 0))
        bar = round((label_w - 12) * abs(a) / peak)
        colour = (40, 120, 200) if a >= 0 else (200, 60, 40)
        draw.rectangle((x0 + side + 6, y + 18, x0 + side + 6 + bar, y + 26), fill=colour)
    return sheet
