"""Decoding image files of any common format and mode into RGB (or greyscale), with clear errors."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from ..errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")


class ImageDecodeError(UserError):
    """A file that is missing, empty, not an image, truncated or otherwise undecodable."""


def open_image(path: str | os.PathLike, mode: str = "RGB") -> Image.Image:
    """Open ``path`` fully decoded in ``mode`` ("RGB" or "L").

    Greyscale, palette, CMYK, 16-bit and alpha images are converted (alpha is composited on white, as a
    viewer shows it). A missing, empty, truncated or non-image file raises :class:`ImageDecodeError`
    naming the file and the reason.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageDecodeError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageDecodeError(f"{path}: empty file")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                return _convert(img, mode)
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{path}: not an image file (format not recognised)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ImageDecodeError(f"{path}: corrupt or truncated image ({err})") from None


def _convert(img: Image.Image, mode: str) -> Image.Image:
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img.convert("RGBA"))
    if img.mode.startswith("I") or img.mode == "F":
        img = _to_8bit(img)
    return img.convert(mode)


def _to_8bit(img: Image.Image) -> Image.Image:
    """A 16/32-bit integer or float greyscale image as 8-bit ``L``, scaled by the range its values use.

    16-bit files: 0..65535 -> 0..255. Others by their values: floats in [0, 1] are scaled by 255, values
    already within 0..255 are kept, 16-bit ranges are divided by 257, anything else is stretched min..max.
    """
    import numpy as np

    a = np.asarray(img, dtype=np.float64)
    low, high = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if img.mode.startswith("I;16"):
        a = a / 257.0
    elif img.mode == "F" and low >= 0.0 and high <= 1.0:
        a = a * 255.0
    elif low >= 0.0 and high <= 255.0:
        pass
    elif low >= 0.0 and high <= 65535.0:
        a = a / 257.0
    else:
        a = (a - low) * (255.0 / (high - low)) if high > low else np.zeros_like(a)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), mode="L")
