"""Training augmentations (``paper``, ``standard``, ``cifar``, ``none``); evaluation preprocessing is the model
contract's (:mod:`googlenet.preprocess`).

All are torchvision transforms v2 pipelines that take a PIL image (or a uint8 tensor) and return a
normalised float tensor. ``paper`` is Section 6 of the paper: a crop of 8-100 % of the image area with
aspect ratio in [3/4, 4/3], photometric distortions in the spirit of Howard (2013), resize
interpolation drawn with equal probability among bilinear, area (PIL's box filter), nearest and
bicubic, and a horizontal flip.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torchvision.transforms import InterpolationMode, v2

from ..errors import UserError

AUGMENTATIONS = ("paper", "standard", "cifar", "none")
AUTO_AUGMENTATIONS = ("none", "randaugment", "trivialaugment")
PAPER_SCALE = (0.08, 1.0)
STANDARD_MIN_SCALE = 0.08  # torchvision's RandomResizedCrop: crops of 8-100 % of the area
PAPER_RATIO = (3 / 4, 4 / 3)
# Section 6: "bilinear, area, nearest and cubic, with equal probability"; PIL's BOX filter is area averaging.
PAPER_INTERPOLATIONS = (
    InterpolationMode.BILINEAR,
    InterpolationMode.BOX,
    InterpolationMode.NEAREST,
    InterpolationMode.BICUBIC,
)
# Howard (2013): random brightness, contrast and colour (saturation) changes of up to 40 %.
PAPER_JITTER = {"brightness": 0.4, "contrast": 0.4, "saturation": 0.4}


class ToBGR(torch.nn.Module):
    """Reverse the channel order of a CHW (or NCHW) tensor: RGB -> BGR, for Caffe's input contract."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(-3)


def _to_tensor(mean: Sequence[float], std: Sequence[float], bgr: bool = False) -> list[v2.Transform]:
    flip = [ToBGR()] if bgr else []
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), *flip, v2.Normalize(list(mean), list(std))]


def paper_crop(size: int) -> v2.Transform:
    """Random-area crop resized to ``size`` with one of four interpolations, each with probability 1/4."""
    crops = [
        v2.RandomResizedCrop(size, scale=PAPER_SCALE, ratio=PAPER_RATIO, interpolation=mode, antialias=True)
        for mode in PAPER_INTERPOLATIONS
    ]
    return v2.RandomChoice(crops)  # equal probabilities by default


def auto_augment(name: str) -> list[v2.Transform]:
    """``randaugment`` (Cubuk et al. 2020, torchvision's defaults: 2 ops at magnitude 9) or ``trivialaugment``
    (Müller & Hutter 2021, one op at a random magnitude); ``none``: nothing."""
    if name == "none":
        return []
    if name == "randaugment":
        return [v2.RandAugment()]
    if name == "trivialaugment":
        return [v2.TrivialAugmentWide()]
    raise UserError(f"unknown auto_augment {name!r}; choose one of {', '.join(AUTO_AUGMENTATIONS)}")


def train_transform(
    name: str,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    padding: int = 4,
    bgr: bool = False,
    auto: str = "none",
    min_scale: float = STANDARD_MIN_SCALE,
) -> v2.Compose:
    """The training pipeline called ``name`` (one of :data:`AUGMENTATIONS`) producing ``size`` px tensors, with
    the policy ``auto`` (one of :data:`AUTO_AUGMENTATIONS`) after its crop and flip; ``min_scale``: the smallest
    crop area of ``standard`` (a fraction of the image).

    ``mean`` and ``std`` are in 0..1 pixel units, in the output's channel order (``bgr``: reversed, as Caffe's
    networks take them; Caffe's 0..255 scale is ``mean / 255``, ``std / 255``).
    """
    if name == "paper":
        ops: list[v2.Transform] = [paper_crop(size), v2.ColorJitter(**PAPER_JITTER), v2.RandomHorizontalFlip()]
    elif name == "standard":
        ops = [v2.RandomResizedCrop(size, scale=(min_scale, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    elif name == "cifar":
        ops = [v2.Resize(size, antialias=True), v2.RandomCrop(size, padding=padding), v2.RandomHorizontalFlip()]
    elif name == "none":
        ops = [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
    else:
        raise UserError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}")
    return v2.Compose(ops + auto_augment(auto) + _to_tensor(mean, std, bgr))


class BatchAugment:
    """Pad-crop + flip (``cifar``) or nothing (``none``) applied to a whole uint8 batch at once.

    For datasets held in memory as tensors (Fashion-MNIST) the per-sample v2 pipeline costs more than
    the small model it feeds; this does the same augmentation for a batch in one pass. Offsets and flips
    come from a generator seeded per batch, so a resumed run replays them exactly.
    """

    def __init__(
        self, name: str, size: int, mean: Sequence[float], std: Sequence[float], padding: int = 4, bgr: bool = False
    ) -> None:
        if name not in ("cifar", "none"):
            raise UserError(f"augmentation {name!r} has no batched form; use cifar or none")
        self.name, self.size, self.padding, self.bgr = name, size, padding, bgr
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def __call__(self, images: torch.Tensor, seed: int | None) -> torch.Tensor:
        x = images.float().div_(255)
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        if self.name == "cifar" and seed is not None:
            g = torch.Generator().manual_seed(seed)
            n, p = len(x), self.padding
            padded = torch.nn.functional.pad(x, (p, p, p, p))
            offsets = torch.randint(0, 2 * p + 1, (n, 2), generator=g).tolist()
            flips = torch.rand(n, generator=g) < 0.5
            x = torch.stack(
                [padded[i, :, dy : dy + self.size, dx : dx + self.size] for i, (dy, dx) in enumerate(offsets)]
            )
            x = torch.where(flips.view(-1, 1, 1, 1), x.flip(-1), x)
        if self.bgr:
            x = x.flip(1)
        return (x - self.mean) / self.std
