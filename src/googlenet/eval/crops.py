"""Test-time crops: one centre crop, the classic 10 crops, and the paper's 144 crops (Section 7).

Every function takes one CHW image tensor (uint8 or float) and returns a ``(V, C, size, size)`` stack of
views. Resizing is torchvision's (bilinear, antialiased); a resize to the size an image already has is
skipped, so crops of an image that needs no resizing are exact pixel copies.

The 144 crops for a 224 crop (scaled in proportion for other crop sizes)::

    for S in 256, 288, 320, 352:                 # shorter side resized to S
        for square in left, centre, right:       # S x S squares (top, centre, bottom for portrait images)
            views += five_crop(square, 224)      # top-left, top-right, bottom-left, bottom-right, centre
            views += [resize(square, 224)]       # the whole square
    views += [hflip(v) for v in views]           # 4 x 3 x 6 = 72, mirrored: 144
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from ..errors import UserError

REFERENCE_CROP = 224
PAPER_SCALES = (256, 288, 320, 352)  # shorter sides for a 224 crop (Section 7)
CROP_SCHEMES = (1, 10, 144)


def scaled(length: int, crop_size: int) -> int:
    """``length`` (a size given for 224 px crops) scaled in proportion to ``crop_size``."""
    return round(length * crop_size / REFERENCE_CROP)


def default_resize(crop_size: int) -> int:
    """Shorter side before a centre crop or 10 crops: 256 for 224, in proportion otherwise (146 for 128)."""
    return scaled(256, crop_size)


def paper_scales(crop_size: int) -> tuple[int, ...]:
    """The four shorter sides of the 144-crop scheme: (256, 288, 320, 352) for 224, in proportion otherwise."""
    return tuple(scaled(s, crop_size) for s in PAPER_SCALES)


def resize_shorter(img: Tensor, size: int) -> Tensor:
    """Resize ``img`` (CHW) so its shorter side is ``size``, keeping the aspect ratio (torchvision's rounding)."""
    if min(img.shape[-2:]) == size:
        return img
    return F.resize(img, [size], antialias=True)


def _check(img: Tensor, size: int, resize: int) -> None:
    if img.ndim != 3:
        raise UserError(f"expected one CHW image, got a tensor of shape {tuple(img.shape)}")
    if resize < size:
        raise UserError(f"cannot take {size} px crops from an image resized to {resize} px")


def center_crop(img: Tensor, size: int, resize: int | None = None) -> Tensor:
    """One view: shorter side to ``resize`` (default :func:`default_resize`), then the centre ``size`` square.

    Returns:
        ``(1, C, size, size)``.
    """
    resize = default_resize(size) if resize is None else resize
    _check(img, size, resize)
    return F.center_crop(resize_shorter(img, resize), [size, size]).unsqueeze(0)


def ten_crop(img: Tensor, size: int, resize: int | None = None) -> Tensor:
    """The 10 crops of Krizhevsky et al.: 4 corners + centre and their mirrors, after a shorter-side resize.

    Args:
        img: one CHW image.
        size: side of the square crops.
        resize: shorter side before cropping; default :func:`default_resize` (256 for 224 px crops).

    Returns:
        ``(10, C, size, size)`` in order top-left, top-right, bottom-left, bottom-right, centre, then the
        same five mirrored left-right.
    """
    resize = default_resize(size) if resize is None else resize
    _check(img, size, resize)
    five = torch.stack(F.five_crop(resize_shorter(img, resize), [size, size]))
    return torch.cat([five, F.horizontal_flip(five)])  # torchvision's ten_crop orders the mirrors differently


def three_squares(img: Tensor) -> list[Tensor]:
    """Left, centre and right squares of a landscape image (top, centre, bottom of a portrait one)."""
    h, w = img.shape[-2:]
    s = min(h, w)
    if w >= h:
        return [img[..., :, :s], F.center_crop(img, [s, s]), img[..., :, w - s :]]
    return [img[..., :s, :], F.center_crop(img, [s, s]), img[..., h - s :, :]]


def six_views(square: Tensor, size: int) -> list[Tensor]:
    """The 4 corner and centre ``size`` crops of a square, plus the whole square resized to ``size``."""
    whole = square if square.shape[-1] == size else F.resize(square, [size, size], antialias=True)
    return [*F.five_crop(square, [size, size]), whole]


def paper_144_crops(img: Tensor, crop_size: int = REFERENCE_CROP, distinct: bool = False) -> Tensor:
    """The 144 crops of the paper's Section 7 (see the module docstring for the order).

    Args:
        img: one CHW image of any size and aspect ratio.
        crop_size: side of the crops (224 in the paper); the four scales follow in proportion.
        distinct: on a square image the left, centre and right squares are the same square, so each of its
            144 crops appears 3 times; ``True`` returns each once (48), which leaves the mean and the max
            over crops unchanged at a third of the cost. Non-square images always give 144.

    Returns:
        ``(144, C, crop_size, crop_size)``: index ``((scale * 3 + square) * 6 + view)`` for the first 72,
        and ``72 +`` the same index for their mirrors (``(48, ...)`` with ``square`` always 0 when
        ``distinct`` and the image is square).
    """
    _check(img, crop_size, crop_size)
    square_image = img.shape[-1] == img.shape[-2]
    views: list[Tensor] = []
    for scale in paper_scales(crop_size):
        squares = three_squares(resize_shorter(img, scale))
        for square in squares[:1] if distinct and square_image else squares:
            views += six_views(square, crop_size)
    stack = torch.stack(views)
    return torch.cat([stack, F.horizontal_flip(stack)])


def make_views(crops: int, size: int, resize: int | None = None) -> Callable[[Tensor], Tensor]:
    """The (picklable) view function for a crop count: 1 (:func:`center_crop`), 10 (:func:`ten_crop`) or 144.

    144 uses :func:`paper_144_crops` with ``distinct=True``: the same softmax mean at a third of the cost on
    square images.
    """
    if crops == 1:
        return partial(center_crop, size=size, resize=resize)
    if crops == 10:
        return partial(ten_crop, size=size, resize=resize)
    if crops == 144:
        return partial(paper_144_crops, crop_size=size, distinct=True)
    raise UserError(f"--crops must be one of {', '.join(map(str, CROP_SCHEMES))}, not {crops}")
