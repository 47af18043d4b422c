"""A model contract turned into its preprocessing: the one rule eval, predict, export, int8 calibration and bench use.

An image goes through three steps, each read from the :class:`~googlenet.contract.ModelContract`:

1. decode in ``contract.image_mode`` ("RGB", or "L" for a greyscale model) as a uint8 CHW tensor;
2. resize per ``contract.resize`` ("shorter": shorter side to ``contract.resize_size``, aspect kept; "warp":
   both sides to it) with ``contract.interpolation``, then cut the centre ``input_size`` square, or the 10 or
   144 views of :func:`googlenet.data.crops.make_views`;
3. :class:`Normalize`: scale to ``0..pixel_range``, reorder to ``channel_order``, subtract ``mean``, divide by
   ``std``.

For the ImageNet contract (crop fraction 0.875) steps 2-3 are torchvision's ``Resize(256)``, ``CenterCrop(224)``,
``ToDtype(float32, scale=True)``, ``Normalize(mean, std)``, operation for operation. :class:`Normalize` is an
``nn.Module``, so the same arithmetic is what an export with baked normalisation puts in its graph.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

import torch
from PIL import Image
from torch import Tensor, nn
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from .contract import ModelContract
from .data.crops import make_views
from .data.decode import open_image

INTERPOLATIONS = {
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
    "nearest": InterpolationMode.NEAREST,
    "box": InterpolationMode.BOX,  # PIL's area filter (torch has no tensor kernel for it)
}

Views = Callable[[Tensor], Tensor]


def decode(path: str | os.PathLike, contract: ModelContract) -> Tensor:
    """The file as a uint8 CHW tensor in the contract's image mode (:class:`ImageDecodeError` if unreadable)."""
    return F.pil_to_tensor(open_image(path, contract.image_mode))


def resize(img: Tensor, contract: ModelContract, size: int | None = None) -> Tensor:
    """``img`` (CHW) resized per the contract's rule to ``size`` (default ``contract.resize_size``).

    "shorter" resizes the shorter side to ``size`` keeping the aspect ratio (torchvision's rounding of the
    longer side); "warp" resizes both sides to ``size``. An image that already has that size is returned as is.
    """
    side = contract.resize_size if size is None else size
    h, w = img.shape[-2:]
    target = [side, side] if contract.resize == "warp" else [side]
    if (h, w) == (side, side) or (contract.resize == "shorter" and min(h, w) == side):
        return img
    mode = INTERPOLATIONS[contract.interpolation]
    if mode is InterpolationMode.BOX:
        return F.pil_to_tensor(F.resize(F.to_pil_image(img), target, interpolation=mode))
    if side == 1 and img.dtype == torch.uint8:  # torch's uint8 antialias kernel asserts on a 1-px output
        return F.resize(img.float(), target, interpolation=mode, antialias=True).round_().clamp_(0, 255).byte()
    return F.resize(img, target, interpolation=mode, antialias=True)


def _contract_views(img: Tensor, contract: ModelContract, crops: int, side: int, cut: Views) -> Tensor:
    if crops == 144 and contract.resize == "shorter":
        return cut(img)  # the paper's scheme resizes the original image to its four scales itself
    return cut(resize(img, contract, side))


def views(contract: ModelContract, crops: int = 1, resize_to: int | None = None) -> Views:
    """The (picklable) function ``uint8 CHW image -> (V, C, input_size, input_size)`` views for ``crops``.

    1 and 10 crops are cut from the image resized per the contract (to ``resize_to`` instead of
    ``contract.resize_size`` when given); 144 crops follow the paper's four scales, taken from the original
    image ("shorter") or from the image warped to a square ("warp").
    """
    side = contract.resize_size if resize_to is None else resize_to
    cut = make_views(crops, contract.input_size, side)  # checks crops, sizes; the resize in it is then a no-op
    return partial(_contract_views, contract=contract, crops=crops, side=side, cut=cut)


def _pil_views(img: Image.Image, cut: Views) -> Tensor:
    return cut(F.pil_to_tensor(img))


def image_transform(contract: ModelContract, crops: int = 1, resize_to: int | None = None) -> Callable:
    """:func:`views` for a decoded PIL image (a dataset's ``transform``): uint8 ``(V, C, S, S)``."""
    return partial(_pil_views, cut=views(contract, crops, resize_to))


class CentreCrop:
    """A decoded PIL image -> the normalised float32 CHW centre crop the contract's network takes.

    The validation transform of a training run: the same resize, crop and normalisation that ``googlenet eval``
    applies to the checkpoint it writes (picklable, for DataLoader workers).
    """

    def __init__(self, contract: ModelContract) -> None:
        self.cut = image_transform(contract)
        self.normalize = Normalize(contract)

    def __call__(self, img: Image.Image) -> Tensor:
        with torch.no_grad():
            return self.normalize(self.cut(img))[0]


class CentreCropBatch:
    """:class:`CentreCrop` for a uint8 ``(N, C, H, W)`` batch held in memory (a ``TensorImages`` batch transform):
    each image resized, centre-cropped and normalised exactly as ``googlenet eval`` feeds the checkpoint."""

    def __init__(self, contract: ModelContract) -> None:
        self.cut = views(contract)
        self.normalize = Normalize(contract)

    def __call__(self, images: Tensor, seed: int | None = None) -> Tensor:
        with torch.no_grad():
            return self.normalize(torch.cat([self.cut(img) for img in images]))


class Normalize(nn.Module):
    """uint8 (0..255) or float (0..1) images, CHW or NCHW, -> the float32 input the contract's network takes.

    Scales to ``0..pixel_range``, reorders to ``channel_order``, then ``(x - mean) / std`` per channel; the
    arithmetic of torchvision's ``ToDtype(scale=True)`` + ``Normalize`` for an RGB 0..1 contract.
    """

    def __init__(self, contract: ModelContract) -> None:
        super().__init__()
        self.pixel_range = float(contract.pixel_range)
        self.bgr = contract.channel_order == "BGR"
        self.register_buffer("mean", torch.tensor(contract.mean, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor(contract.std, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("order", torch.tensor([2, 1, 0]))

    def forward(self, x: Tensor) -> Tensor:
        if not x.is_floating_point():
            x = x.float() if self.pixel_range == 255.0 else x.float().mul_(1.0 / 255)
        elif self.pixel_range == 255.0:
            x = x * 255.0
        if self.bgr:
            x = x.index_select(-3, self.order)
        return (x - self.mean) / self.std


def normalizer(contract: ModelContract) -> Normalize:
    """:class:`Normalize` for ``contract`` (step 3 of the module docstring)."""
    return Normalize(contract).eval()


def preprocess(img: Image.Image | Tensor, contract: ModelContract, normalized: bool = True) -> Tensor:
    """One image (PIL, or uint8 CHW) -> ``(C, S, S)`` float32: the centre crop, normalised or in 0..1."""
    if isinstance(img, Image.Image):
        img = F.pil_to_tensor(img)
    crop = views(contract)(img)[0]
    return normalizer(contract)(crop) if normalized else F.to_dtype(crop, torch.float32, scale=True)
