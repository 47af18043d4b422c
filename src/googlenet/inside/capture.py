"""A layer's activations from a forward pass, by a forward hook on its module (as :mod:`googlenet.cam` and
:mod:`googlenet.models.stages` capture theirs).

:func:`activation` stops the pass at the layer: nothing after it runs (feature visualisation and DeepDream need
no more). :func:`activation_and_output` runs it to the end and returns the logits too (attribution). The hook hands
the rest of the network a copy of the output, so an in-place ReLU after a bare convolution cannot overwrite the
tensor captured for gradients. :func:`check_size` finds, on the meta device, whether an input size reaches the
layer, and the smallest that does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import InputSizeError
from ..probe import shapes_only_batchnorm
from .layers import Layer


class LayerSizeError(InputSizeError):
    """An image too small for the layer: the forward pass cannot reach it."""


class _Reached(Exception):
    """Raised by the hook to stop the forward pass at the layer."""


@contextmanager
def _hooked(model: nn.Module, layer: Layer, stop: bool) -> Iterator[list[Tensor | None]]:
    kept: list[Tensor | None] = [None] * len(layer.parts)

    def hook(i: int) -> Any:
        def keep(_m: nn.Module, _args: Any, output: Any) -> Any:
            if not isinstance(output, Tensor):
                raise TypeError(f"layer {layer.name!r} outputs {type(output).__name__}, not a tensor")
            kept[i] = output
            if stop and all(t is not None for t in kept):
                raise _Reached
            return output.clone()  # later in-place ops (ReLU) change the copy, not the captured tensor

        return keep

    handles = [model.get_submodule(p).register_forward_hook(hook(i)) for i, p in enumerate(layer.parts)]
    try:
        yield kept
    finally:
        for h in handles:
            h.remove()


def _forward(model: nn.Module, x: Tensor, layer: Layer) -> Any:
    return model(x, return_aux=True) if layer.aux else model(x)


def _parts(kept: list[Tensor | None], layer: Layer) -> list[Tensor]:
    if any(t is None for t in kept):
        raise LayerSizeError(f"layer {layer.name!r} ({layer.path}) did not run in the forward pass")
    return [t for t in kept if t is not None]


def activation(model: nn.Module, layer: Layer, x: Tensor) -> Tensor:
    """``layer``'s output for input ``x`` (normalised as the model takes it), the pass stopped there."""
    with _hooked(model, layer, stop=True) as kept, suppress(_Reached):
        _forward(model, x, layer)
    parts = _parts(kept, layer)
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def activation_and_output(model: nn.Module, layer: Layer, x: Tensor) -> tuple[list[Tensor], Tensor]:
    """``(layer's activations, the model's logits)`` from one full forward pass. The activations come as the
    list of ``layer.parts`` outputs (to be concatenated on channels): those are the tensors in the graph, for
    gradients."""
    with _hooked(model, layer, stop=False) as kept:
        out = _forward(model, x, layer)
    if isinstance(out, tuple):
        out = out[0]
    return _parts(kept, layer), out


def _shape(model: nn.Module, layer: Layer, size: int, in_chans: int) -> torch.Size | None:
    try:
        return activation(model, layer, torch.zeros(1, in_chans, size, size, device="meta")).shape
    except (RuntimeError, ValueError, IndexError):
        return None


def _meta(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).to("meta").eval()


def min_size(model: nn.Module, layer: Layer, in_chans: int = 3, largest: int = 1024) -> int:
    """The smallest square input (px) whose forward pass reaches ``layer``, by bisection on a meta-device copy of
    the model (no memory for activations, no arithmetic); assumes larger inputs keep reaching it."""
    meta = _meta(model)
    with shapes_only_batchnorm(meta), torch.no_grad():
        if _shape(meta, layer, largest, in_chans) is None:
            raise LayerSizeError(f"layer {layer.name!r} is not reached even by a {largest} px input")
        lo, hi = 1, largest
        while lo < hi:
            mid = (lo + hi) // 2
            if _shape(meta, layer, mid, in_chans) is not None:
                hi = mid
            else:
                lo = mid + 1
    return lo


def check_size(model: nn.Module, layer: Layer, size: int, in_chans: int = 3, what: str = "image") -> torch.Size:
    """The shape of ``layer``'s output for one ``size`` px input (found on the meta device), or
    :class:`LayerSizeError` with the smallest size that reaches the layer."""
    meta = _meta(model)
    with shapes_only_batchnorm(meta), torch.no_grad():
        shape = _shape(meta, layer, size, in_chans)
    if shape is None:
        raise LayerSizeError(
            f"{what} size {size} px is too small for layer {layer.name!r}: "
            f"it needs at least {min_size(model, layer, in_chans)} px"
        )
    return shape
