"""Decoding image files of any common format and mode into RGB (or greyscale), with clear errors."""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageFile, UnidentifiedImageError

from ..errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".ppm", ".pgm")


class ImageDecodeError(UserError):
    """A file that is missing, empty, not an image, truncated or otherwise undecodable."""


def open_image(path: str | os.PathLike, mode: str = "RGB") -> Image.Image:
    """Open ``path`` fully decoded in ``mode`` ("RGB" or "L").

    Greyscale, palette, CMYK, 16-bit and alpha images are converted (alpha is composited on white, as a
    viewer shows it). A missing, empty, truncated or non-image file, a broken symbolic link and an image
    over PIL's pixel limit (:data:`PIL.Image.MAX_IMAGE_PIXELS`, its guard against decompression bombs)
    raise :class:`ImageDecodeError` naming the file and the reason.
    """
    path = Path(path)
    shown = str(path) if str(path).isprintable() else repr(str(path))  # one line, whatever the name holds
    try:
        if not path.is_file():
            raise ImageDecodeError(f"{shown}: {_why_not_a_file(path)}")
        empty = path.stat().st_size == 0
    except OSError as err:  # a name too long for the file system, a folder without permission
        raise ImageDecodeError(f"{shown}: cannot read ({err.strerror or type(err).__name__})") from None
    if empty:
        raise ImageDecodeError(f"{shown}: empty file")
    return _decode(path, shown, mode)


def decode_bytes(data: bytes, mode: str = "RGB", name: str = "upload", max_pixels: int | None = None) -> Image.Image:
    """An image held in memory (an upload), fully decoded in ``mode``, with the reasons of :func:`open_image`.

    Nothing touches the file system. ``max_pixels`` refuses a larger image from its header, before anything is
    decoded ("too large: N pixels"); PIL's own limit applies as well.
    """
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    return _decode(io.BytesIO(data), name, mode, max_pixels)


def _decode(source: Path | BinaryIO, shown: str, mode: str, max_pixels: int | None = None) -> Image.Image:
    limit = f"the limit is {max_pixels} pixels" if max_pixels is not None else None
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                if max_pixels is not None and img.width * img.height > max_pixels:
                    raise ImageDecodeError(f"{shown}: too large: {img.width * img.height} pixels ({limit})")
                img.load()
                return _convert(img, mode)
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{shown}: not an image file (format not recognised)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        raise ImageDecodeError(f"{shown}: {_too_large(source, err, limit)}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageDecodeError(f"{shown}: corrupt or truncated image ({' '.join(str(err).split())})") from None


def _why_not_a_file(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"broken symbolic link (points to {target})"
    if path.is_dir():
        return "a folder, not a file"
    if path.exists():
        return "not a regular file"
    return "no such file"


def _too_large(source: Path | BinaryIO, err: Exception, limit: str | None = None) -> str:
    """The reason for an image over the pixel limit, with its width x height as the file declares it.

    ``limit`` names the caller's own limit; by default the reason names PIL's, and how to raise it.
    """
    pil_limit = Image.MAX_IMAGE_PIXELS
    pixels = _declared_pixels(source)
    if pixels is None or (pil_limit is not None and pixels <= pil_limit):
        # the header gives no size, or the first frame is within the limit and a later one is not:
        # PIL's message states the count it checked
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = int(found.group(1)) if found else None
    size = f"{pixels} pixels" if pixels is not None else "over the pixel limit"
    if limit is not None:
        return f"too large: {size} ({limit})"
    return (
        f"too large: {size} (PIL's decompression-bomb limit is {pil_limit} pixels; raise PIL.Image.MAX_IMAGE_PIXELS "
        "to read a file you trust)"
    )


def _declared_pixels(source: Path | BinaryIO) -> int | None:
    """width x height from the file's header (nothing decoded), or None when the header does not give them.

    :func:`PIL.Image.open` checks the size against the limit before it returns, so the header is read here
    by the format plugin that accepts the file, as ``Image.open`` itself picks it.
    """
    Image.init()
    try:
        with contextlib.ExitStack() as stack:
            fp = stack.enter_context(open(source, "rb")) if isinstance(source, Path) else source
            fp.seek(0)
            prefix = fp.read(16)
            for fmt in Image.ID:
                factory, accept = Image.OPEN[fmt]
                if accept is not None and not accept(prefix):
                    continue
                fp.seek(0)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        width, height = factory(fp, str(source)).size
                except Exception:  # not this format, or a header this plugin refuses: try the next
                    continue
                return width * height
    except OSError:
        return None
    return None


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
