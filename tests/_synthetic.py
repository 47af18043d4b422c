"""A small image-folder dataset the suite writes itself, so training, resume and DDP tests run on any clone.

Ten classes named like CIFAR-10's, 32 x 32 JPEGs: each class is a colour and a stripe orientation with
per-image noise, jitter and phase, so a tiny network can learn it, and decoding, augmentation and the
loader do the same work as on real photos.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def class_image(label: int, rng: np.random.Generator, size: int = 32) -> Image.Image:
    angle = math.pi * label / len(CLASSES)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    phase = rng.uniform(0, 2 * math.pi)
    stripes = 0.5 + 0.5 * np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 0.8 + phase)
    hue = np.array([(label * 37) % 256, (label * 91 + 60) % 256, (label * 53 + 120) % 256], dtype=np.float64)
    img = stripes[..., None] * hue + (1 - stripes[..., None]) * (255 - hue)
    img += rng.normal(0, 20, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def make_dataset(root: Path, train_per_class: int = 10, test_per_class: int = 4, seed: int = 0) -> Path:
    """``root/{train,test}/<class>/<n>.jpg``; returns ``root``."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", train_per_class), ("test", test_per_class)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                class_image(label, rng).save(folder / f"{i:04d}.jpg", quality=90)
    return root


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zeros: a few KB on the wire, ``width * height`` pixels decoded."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
