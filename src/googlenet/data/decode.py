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
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")  # 16-bit -> 8-bit
    return img.convert(mode)
