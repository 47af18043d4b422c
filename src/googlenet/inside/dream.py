"""DeepDream (Mordvintsev, Olah & Tyka, *Inceptionism: Going Deeper into Neural Networks*, Google Research blog
2015, and its ``deepdream.ipynb``): gradient ascent on a photo that amplifies whatever a layer already sees in it.

As the notebook's ``deepdream`` and ``make_step``:

- **octaves**: the photo is shrunk ``octaves - 1`` times by ``octave_scale``; the smallest is dreamed first, and
  the detail each octave adds (dreamed image minus its base) is upscaled and added to the next, larger base;
- **a step**: roll the image by a random offset of up to ``jitter`` px, take the gradient of the layer's L2
  objective (:func:`~googlenet.inside.objectives.layer_norm`), roll back, and move by
  ``step_size / mean|g| * g`` (a normalised ascent step), then clip to the valid pixel range.

The notebook works in Caffe's 0..255 pixels with ``step_size=1.5``; here pixels are 0..1, so the default step is
1.5 / 255. Its defaults: ``end='inception_4c/output'``, 4 octaves, scale 1.4, 10 steps each, jitter 32 px.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..contract import ModelContract
from ..errors import UserError
from .capture import LayerSizeError, activation, min_size
from .layers import Layer
from .objectives import layer_norm
from .transforms import roll
from .visualize import frozen, model_input, score


@dataclass
class Dream:
    """The dreamed image (3 x H x W, 0..1, the photo's size), the layer's L2 objective of the photo and of the
    dream at full size, and the objective at every step of every octave (smallest octave first)."""

    image: Tensor
    before: float
    after: float
    history: list[list[float]]
    sizes: list[tuple[int, int]]


def octave_sizes(h: int, w: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """The octaves' (h, w), largest (the photo) first: each ``scale`` times smaller than the one before."""
    return [(max(1, round(h / scale**i)), max(1, round(w / scale**i))) for i in range(octaves)]


def _resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    return x if tuple(x.shape[-2:]) == size else F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def dream(
    model: nn.Module,
    contract: ModelContract,
    layer: Layer,
    photo: Tensor,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 1.5 / 255,
    jitter: int = 32,
    seed: int = 0,
) -> Dream:
    """DeepDream ``photo`` (3 x H x W RGB, 0..1 float or uint8) at ``layer``; see the module docstring."""
    if octaves < 1 or steps < 1 or octave_scale <= 1.0 or step_size <= 0 or jitter < 0:
        raise UserError("octaves and steps must be positive, octave_scale above 1, step size positive, jitter >= 0")
    base = photo.float() / 255 if not photo.is_floating_point() else photo.float()
    base = base[None].clamp(0, 1)
    h, w = base.shape[-2:]
    sizes = octave_sizes(h, w, octaves, octave_scale)
    need = min_size(model, layer, contract.in_chans)
    small = min(sizes[-1])
    if small < need:
        fit = sum(min(s) >= need for s in sizes)
        hint = f"use --octaves {fit} or fewer" if fit else "use a larger photo"
        raise LayerSizeError(
            f"the smallest octave is {sizes[-1][1]} x {sizes[-1][0]} px, too small for layer {layer.name!r} "
            f"(it needs at least {need} px): {hint}"
        )
    gen = torch.Generator().manual_seed(seed)
    objective = layer_norm()
    device = next(model.parameters()).device
    bases = [_resize(base, s).to(device) for s in sizes][::-1]  # smallest first
    detail = torch.zeros_like(bases[0])
    history: list[list[float]] = []
    with frozen(model), torch.enable_grad():
        for octave_base in bases:
            detail = _resize(detail, tuple(octave_base.shape[-2:]))
            img = (octave_base + detail).clamp(0, 1)
            values = []
            for _ in range(steps):
                j = min(jitter, (min(img.shape[-2:]) - 1) // 2)
                dy, dx = (int(v) for v in torch.randint(-j, j + 1, (2,), generator=gen))
                shifted = roll(img, dy, dx).requires_grad_(True)
                value = objective(activation(model, layer, model_input(shifted, contract))).sum()
                (g,) = torch.autograd.grad(value, shifted)
                g = roll(g, -dy, -dx)
                img = (img + step_size / g.abs().mean().clamp(min=1e-12) * g).clamp(0, 1).detach()
                values.append(float(value.detach()))
            history.append(values)
            detail = img - octave_base
    result = img[0].cpu()
    before, after = score(model, contract, layer, objective, torch.stack([base[0], result])).tolist()
    return Dream(result, before, after, history, sizes[::-1])
