"""Test-time crops: one centre crop, the centre crop and its mirror (flip test-time augmentation), the classic 10
crops, and the paper's 144 crops (Section 7).

Every function takes one CHW image tensor (uint8 or float) and returns a ``(V, C, size, size)`` stack of
views. Resizing is torchvision's (bilinear, antialiased); a resize to the size an image already has is
skipped, so crops of an image that needs no resizing are exact pixel copies. Any image of at least 1 x 1 px
and one channel works; an empty or non-CHW image, or a resize below the crop size, raises
:class:`~googlenet.errors.InputSizeError`, a crop size below 1 px a :class:`~googlenet.errors.UserError`.

The 144 crops for a 224 crop (scaled in proportion for other crop sizes)::

    for S in 256, 288, 320, 352:                 # shorter side resized to S
        for square in left, centre, right:       # S x S squares (top, centre, bottom for portrait images)
            views += five_crop(square, 224)      # top-left, top-right, bottom-left, bottom-right, centre
            views += [resize(square, 224)]       # the whole square
    views += [hflip(v) for v in views]           # 4 x 3 x 6 = 72, mirrored: 144
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from ..errors import InputSizeError, UserError

REFERENCE_CROP = 224
PAPER_SCALES = (256, 288, 320, 352)  # shorter sides for a 224 crop (Section 7)
CROP_SCHEMES = (1, 2, 10, 144)


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
    h, w = img.shape[-2:]
    if min(h, w) == size:
        return img
    return _resize(img, [size], one_px=size == 1 and max(h, w) < 2 * min(h, w))


def _resize(img: Tensor, size: list[int], one_px: bool) -> Tensor:
    """torchvision's antialiased resize; ``one_px`` (the output is 1 x 1): uint8 goes through float, as
    PyTorch's uint8 antialias kernel fails an internal assert on a 1 x 1 output."""
    if one_px and img.dtype == torch.uint8:
        return F.resize(img.float(), size, antialias=True).round_().clamp_(0, 255).to(torch.uint8)
    return F.resize(img, size, antialias=True)


def _whole(value: int, what: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise UserError(f"{what} must be a whole number of pixels, got {value!r}") from None


def _check_sizes(size: int, resize: int | None) -> tuple[int, int | None]:
    """``size`` (at least 1 px) and ``resize`` (None, or at least ``size``) as ints; a one-line error otherwise."""
    size = _whole(size, "the crop size")
    if size < 1:
        raise UserError(f"the crop size must be at least 1 px, got {size}")
    if resize is not None:
        resize = _whole(resize, "the resize")
        if resize < size:
            raise InputSizeError(f"cannot take {size} px crops from an image resized to {resize} px")
    return size, resize


def _check(img: Tensor, size: int, resize: int | None) -> tuple[int, int | None]:
    """The crop size and resize checked (see :func:`_check_sizes`), and ``img`` one non-empty CHW image."""
    if not isinstance(img, Tensor):
        raise InputSizeError(f"expected one CHW image tensor, got a {type(img).__name__}")
    if img.ndim != 3:
        raise InputSizeError(f"expected one CHW image, got a tensor of shape {tuple(img.shape)}")
    if 0 in img.shape:
        c, h, w = img.shape
        raise InputSizeError(f"empty image: {c} channels of {h} x {w} px")
    return _check_sizes(size, resize)


def center_crop(img: Tensor, size: int, resize: int | None = None) -> Tensor:
    """One view: shorter side to ``resize`` (default :func:`default_resize`), then the centre ``size`` square.

    Returns:
        ``(1, C, size, size)``.
    """
    size, resize = _check(img, size, resize)
    resize = default_resize(size) if resize is None else resize
    return F.center_crop(resize_shorter(img, resize), [size, size]).unsqueeze(0)


def flip_crop(img: Tensor, size: int, resize: int | None = None) -> Tensor:
    """Two views: :func:`center_crop` and its left-right mirror (test-time flip).

    Returns:
        ``(2, C, size, size)``: the centre crop, then its mirror.
    """
    centre = center_crop(img, size, resize)
    return torch.cat([centre, F.horizontal_flip(centre)])


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
    size, resize = _check(img, size, resize)
    resize = default_resize(size) if resize is None else resize
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
    whole = square if square.shape[-1] == size else _resize(square, [size, size], one_px=size == 1)
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
    crop_size, _ = _check(img, crop_size, None)
    square_image = img.shape[-1] == img.shape[-2]
    views: list[Tensor] = []
    for scale in paper_scales(crop_size):
        squares = three_squares(resize_shorter(img, scale))
        for square in squares[:1] if distinct and square_image else squares:
            views += six_views(square, crop_size)
    stack = torch.stack(views)
    return torch.cat([stack, F.horizontal_flip(stack)])


def make_views(crops: int, size: int, resize: int | None = None) -> Callable[[Tensor], Tensor]:
    """The (picklable) view function for a crop count: 1 (:func:`center_crop`), 2 (:func:`flip_crop`), 10
    (:func:`ten_crop`) or 144.

    144 uses :func:`paper_144_crops` with ``distinct=True``: the same softmax mean at a third of the cost on
    square images.
    """
    if crops not in CROP_SCHEMES:
        raise UserError(f"--crops must be one of {', '.join(map(str, CROP_SCHEMES))}, not {crops}")
    size, resize = _check_sizes(size, None if crops == 144 else resize)  # 144 crops have their own scales
    if crops == 1:
        return partial(center_crop, size=size, resize=resize)
    if crops == 2:
        return partial(flip_crop, size=size, resize=resize)
    if crops == 10:
        return partial(ten_crop, size=size, resize=resize)
    return partial(paper_144_crops, crop_size=size, distinct=True)
