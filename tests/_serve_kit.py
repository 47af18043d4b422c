"""What the serve tests share: a drawn photo's bytes and the checkpoint a server is started on."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw

from _eval_kit import make_checkpoint

ROOT = Path(__file__).resolve().parents[1]
KiB, MiB = 1 << 10, 1 << 20


def photo_bytes(fmt: str = "JPEG", size: tuple[int, int] = (160, 120), seed: int = 0) -> bytes:
    """A small drawn picture: a gradient sky, a sun and a hill."""
    img = Image.new("RGB", size)
    w, h = size
    draw = ImageDraw.Draw(img)
    for y in range(h):
        draw.line([(0, y), (w, y)], fill=(40 + seed * 20, 90 + 100 * y // h, 200 - 80 * y // h))
    draw.ellipse([w * 0.6, h * 0.1, w * 0.85, h * 0.43], fill=(250, 210, 60))
    draw.polygon([(0, h), (w * 0.3, h * 0.55), (w * 0.7, h * 0.8), (w, h)], fill=(40, 140, 60))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


JPEG = photo_bytes()


def serve_checkpoint(folder: Path) -> Path:
    """A random-weight 10-class GoogLeNet, width 0.25, 96 px crops (the package's own save path), in ``folder``."""
    return make_checkpoint(folder / "best.safetensors", seed=1, width=0.25, input_size=96)
