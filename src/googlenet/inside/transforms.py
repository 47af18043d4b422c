"""Random, differentiable image transformations applied before every step of feature visualisation
(*transformation robustness*, Distill's *Feature Visualization* 2017): a picture that still excites the unit when
shifted, scaled and rotated a little has fewer of the adversarial high-frequency patterns.

Lucid's standard list is ``pad(12), jitter(8), random_scale(0.9..1.1), random_rotate(-10..10 deg), jitter(4)``;
:func:`standard` builds it. Every op works on a batch (N x C x H x W) and passes gradients to its input.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

Transform = Callable[[Tensor], Tensor]


def _choice(values: Sequence[float], generator: torch.Generator | None) -> float:
    return float(values[int(torch.randint(len(values), (1,), generator=generator))])


def pad(n: int, value: float = 0.5) -> Transform:
    """Pad ``n`` px on every side with a constant (Lucid pads with grey, 0.5, so borders carry no signal)."""
    return lambda x: F.pad(x, (n, n, n, n), value=value)


def jitter(d: int, generator: torch.Generator | None = None) -> Transform:
    """A random crop ``d`` px smaller on each axis: the image shifted by 0..d px (Lucid's ``jitter``)."""

    def apply(x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if d <= 0 or d >= min(h, w):
            return x
        dy, dx = (int(v) for v in torch.randint(d + 1, (2,), generator=generator))
        return x[..., dy : dy + h - d, dx : dx + w - d]

    return apply


def roll(x: Tensor, dy: int, dx: int) -> Tensor:
    """Circular shift by ``(dy, dx)`` px (the DeepDream notebook's jitter; undone by ``roll(x, -dy, -dx)``)."""
    return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))


def affine(x: Tensor, scale: float = 1.0, degrees: float = 0.0) -> Tensor:
    """``x`` scaled by ``scale`` and rotated by ``degrees`` about its centre, same size, bilinear, the borders
    filled by reflection."""
    if scale == 1.0 and degrees == 0.0:
        return x
    a = math.radians(degrees)
    cos, sin = math.cos(a) / scale, math.sin(a) / scale
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=x.dtype, device=x.device)
    grid = F.affine_grid(theta.expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def random_scale(scales: Sequence[float], generator: torch.Generator | None = None) -> Transform:
    """Scale by a factor drawn from ``scales``."""
    return lambda x: affine(x, scale=_choice(scales, generator))


def random_rotate(degrees: Sequence[float], generator: torch.Generator | None = None) -> Transform:
    """Rotate by an angle (degrees) drawn from ``degrees``."""
    return lambda x: affine(x, degrees=_choice(degrees, generator))


def compose(transforms: Sequence[Transform]) -> Transform:
    """Apply ``transforms`` in order."""

    def apply(x: Tensor) -> Tensor:
        for t in transforms:
            x = t(x)
        return x

    return apply


def standard(size: int, generator: torch.Generator | None = None) -> Transform:
    """Lucid's standard transformations, their pixel amounts scaled to a ``size`` px image (Lucid's are for 128 px
    and more: pad 12, jitter 8, scale 0.9..1.1, rotate -10..10 deg, jitter 4)."""
    k = min(1.0, size / 128)
    return compose(
        [
            pad(round(12 * k)),
            jitter(round(8 * k), generator),
            random_scale([1 + (i - 5) / 50 for i in range(11)], generator),
            random_rotate(list(range(-10, 11)), generator),
            jitter(round(4 * k), generator),
        ]
    )
