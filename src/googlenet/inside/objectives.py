"""What feature visualisation and DeepDream maximise: a function of one layer's activations, one value per image.

With ``A`` the layer's output (N x K x H x W, or N x K for a fully connected layer):

- :func:`channel` ``k``: ``mean_{y,x} A[n, k, y, x]`` (Distill's "channel", the usual picture of a feature);
- :func:`neuron` ``k`` at ``(y, x)`` (default the centre): ``A[n, k, y, x]``;
- :func:`layer_norm` (DeepDream): ``mean A^2``, the 2015 notebook's L2 objective, whose gradient is ``A`` itself;
- :func:`direction` ``v``: ``mean_{y,x} <A[n, :, y, x], v> / |v|``, a direction of activation space.

:func:`channels` gives image ``n`` of a batch its own channel (a grid of features in one optimisation).
Penalties on the image itself: :func:`total_variation`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import UserError


class ObjectiveError(UserError):
    """A channel, neuron position or direction that the layer does not have."""


@dataclass(frozen=True)
class Objective:
    """``fn(A) -> N values`` with a readable ``name``; ``check(A)`` validates it against the layer's shape."""

    name: str
    fn: Callable[[Tensor], Tensor]
    check: Callable[[Tensor], None] = lambda a: None

    def __call__(self, acts: Tensor) -> Tensor:
        return self.fn(acts)


def _spatial_mean(a: Tensor) -> Tensor:
    return a if a.dim() == 2 else a.mean(dim=(-2, -1))


def _check_channels(ks: Sequence[int], what: str) -> Callable[[Tensor], None]:
    def check(a: Tensor) -> None:
        for k in ks:
            if not 0 <= k < a.shape[1]:
                raise ObjectiveError(f"channel {k} does not exist: {what} has channels 0..{a.shape[1] - 1}")

    return check


def channel(k: int, layer: str = "the layer") -> Objective:
    """Mean activation of channel ``k``."""
    return Objective(f"{layer}:{k}", lambda a: _spatial_mean(a[:, k]), _check_channels([k], layer))


def channels(ks: Sequence[int], layer: str = "the layer") -> Objective:
    """Image ``n`` of the batch: mean activation of channel ``ks[n]``."""
    index = torch.tensor(list(ks))

    def fn(a: Tensor) -> Tensor:
        picked = a[torch.arange(len(index), device=a.device), index.to(a.device)]
        return _spatial_mean(picked)

    return Objective(f"{layer}:{','.join(map(str, ks))}", fn, _check_channels(ks, layer))


def neuron(k: int, y: int | None = None, x: int | None = None, layer: str = "the layer") -> Objective:
    """Activation of channel ``k`` at one position (default: the centre of the map)."""

    def fn(a: Tensor) -> Tensor:
        if a.dim() == 2:
            return a[:, k]
        h, w = a.shape[-2:]
        return a[:, k, h // 2 if y is None else y, w // 2 if x is None else x]

    def check(a: Tensor) -> None:
        _check_channels([k], layer)(a)
        if a.dim() == 4:
            h, w = a.shape[-2:]
            if (y is not None and not 0 <= y < h) or (x is not None and not 0 <= x < w):
                raise ObjectiveError(f"position ({y}, {x}) is outside {layer}'s {h} x {w} map at this image size")

    return Objective(f"{layer}:{k}@{y},{x}", fn, check)


def layer_norm() -> Objective:
    """DeepDream's objective: the mean squared activation of the whole layer."""
    return Objective("L2", lambda a: a.pow(2).flatten(1).mean(dim=1))


def direction(v: Tensor, layer: str = "the layer") -> Objective:
    """Mean projection of the activation vectors on the unit vector ``v / |v|`` (K values)."""
    unit = v.flatten() / v.norm()

    def fn(a: Tensor) -> Tensor:
        u = unit.to(a)
        return _spatial_mean(torch.einsum("nk...,k->n...", a, u))

    def check(a: Tensor) -> None:
        if a.shape[1] != unit.numel():
            raise ObjectiveError(f"a direction for {layer} needs {a.shape[1]} values, got {unit.numel()}")

    return Objective(f"{layer}:direction", fn, check)


def total_variation(img: Tensor) -> Tensor:
    """Mean absolute difference between neighbouring pixels, per image (N values): a penalty on high
    frequencies (Mahendran & Vedaldi 2015)."""
    dy = (img[..., 1:, :] - img[..., :-1, :]).abs().flatten(1).mean(dim=1)
    dx = (img[..., :, 1:] - img[..., :, :-1]).abs().flatten(1).mean(dim=1)
    return dy + dx
