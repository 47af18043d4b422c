"""Follow one forward pass op by op: receptive field, depth and live activation memory of every tensor.

:class:`GraphTracer` is a ``TorchFunctionMode``: every torch function the model calls (``F.conv2d``,
``F.max_pool2d``, ``torch.cat``, ``Tensor.add_``, ``torch.flatten``, ...) passes through it, whatever module
or plain function calls it. That makes the method general: branchy models (Inception, ResNet's shortcut,
DenseNet's concatenations) and functional code (``F.avg_pool2d`` in GoogLeNet's auxiliary head) need no
per-model code. For each tensor it derives from its inputs:

- the receptive field (:mod:`googlenet.analysis.receptive`): convs and pools by their geometry, adaptive pools
  by their bins, explicit padding; any other op that keeps the spatial size is position-wise and sees the union
  of its inputs' fields (add, concat, batch norm, ReLU, LRN across channels); an op that removes the spatial
  dimensions (flatten, mean, linear after flatten) sees the whole map. An op that changes the spatial size in
  another way (interpolation, cropping, transposed conv) gives an unknown field (``None``) downstream.
- the depth: the longest chain of layers with weights (convs and linear layers) from the input, the way the
  paper counts GoogLeNet's 22 layers (batch norm and pooling are not counted).
- its storage, for :meth:`GraphTracer.peak_bytes`: a storage is live from the op that creates it until the
  last op that reads it (views and in-place ops allocate nothing); the input and the outputs are live
  throughout.

Limits: ops inside a traced op (e.g. the pooling inside ``F.local_response_norm``) are not seen; temporaries
of the allocator and framework are not counted; 1-D and 3-D convs count for depth but give an unknown field.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from .receptive import ReceptiveField


def _conv_sig(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1): ...
def _max_sig(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False): ...
def _avg_sig(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
): ...
def _lp_sig(input, norm_type, kernel_size, stride=None, ceil_mode=False): ...
def _pad_sig(input, pad, mode="constant", value=None): ...


CONV2D = {F.conv2d}
MAX_POOLS = {F.max_pool2d, torch.max_pool2d, F.max_pool2d_with_indices}
AVG_POOLS = {F.avg_pool2d}
LP_POOLS = {F.lp_pool2d}
ADAPTIVE_POOLS = {F.adaptive_avg_pool2d, F.adaptive_max_pool2d, F.adaptive_max_pool2d_with_indices}
PADS = {F.pad}
WEIGHTED = {
    F.conv1d,
    F.conv2d,
    F.conv3d,
    F.conv_transpose1d,
    F.conv_transpose2d,
    F.conv_transpose3d,
    F.linear,
    F.bilinear,
}
_SIGS = {
    **dict.fromkeys(CONV2D, _conv_sig),
    **dict.fromkeys(MAX_POOLS, _max_sig),
    **dict.fromkeys(AVG_POOLS, _avg_sig),
    **dict.fromkeys(LP_POOLS, _lp_sig),
    **dict.fromkeys(PADS, _pad_sig),
}


def _bind(func, args, kwargs) -> dict:
    bound = inspect.signature(_SIGS[func]).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments


@dataclass(frozen=True)
class TensorInfo:
    """What the tracer knows of one tensor."""

    rf: ReceptiveField | None  # None: unknown (an op the arithmetic does not cover)
    depth: int  # longest chain of conv/linear layers from the input


def _hw(t: Tensor) -> tuple[int, int] | None:
    return (int(t.shape[-2]), int(t.shape[-1])) if t.dim() == 4 else None


def _storage_key(t: Tensor) -> int:
    return t.untyped_storage()._cdata


class GraphTracer(TorchFunctionMode):
    """Trace a forward pass from ``inputs``: ``with GraphTracer(x) as tr: model(x)``; then ``tr.info_of(t)``."""

    def __init__(self, *inputs: Tensor) -> None:
        super().__init__()
        self._info: dict[int, TensorInfo] = {}
        self._keep: list[Tensor] = []  # keeps ids and storages unique while the tracer lives
        self._born: dict[int, int] = {}
        self._last: dict[int, int] = {}
        self._bytes: dict[int, int] = {}
        self._step = 0
        for x in inputs:
            self._record(x, TensorInfo(ReceptiveField(), 0))
            self._alloc(x)

    # -- bookkeeping -------------------------------------------------------------------------------------
    def _record(self, t: Tensor, info: TensorInfo) -> None:
        self._info[id(t)] = info
        self._keep.append(t)

    def _alloc(self, t: Tensor) -> None:
        key = _storage_key(t)
        if key not in self._born:
            self._born[key] = self._step
            self._bytes[key] = t.untyped_storage().nbytes()
        self._last[key] = max(self._last.get(key, 0), self._step)

    def info_of(self, t: Tensor) -> TensorInfo | None:
        """What is known of ``t`` (``None`` for tensors the traced inputs do not reach, e.g. parameters)."""
        return self._info.get(id(t))

    # -- the mode ----------------------------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        ins = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, Tensor) and id(t) in self._info]
        outs = [t for t in tree_flatten(out)[0] if isinstance(t, Tensor)]
        if not ins or not outs:
            return out
        self._step += 1
        for t in ins:
            self._last[_storage_key(t)] = self._step
        rf = self._field(func, args, kwargs, ins, outs[0])
        depth = max(self._info[id(t)].depth for t in ins) + (func in WEIGHTED)
        for t in outs:
            self._record(t, TensorInfo(rf, depth))
            self._alloc(t)
        return out

    def _field(self, func, args, kwargs, ins: list[Tensor], out: Tensor) -> ReceptiveField | None:
        first = self._info[id(ins[0])].rf
        try:
            if func in CONV2D:
                return self._conv(first, _bind(func, args, kwargs))
            if func in MAX_POOLS or func in AVG_POOLS or func in LP_POOLS:
                a = _bind(func, args, kwargs)
                k = a["kernel_size"]
                stride = a["stride"] if a["stride"] not in (None, [], ()) else k
                return first and first.window(k, stride, a.get("padding", 0), a.get("dilation", 1))
            if func in ADAPTIVE_POOLS:
                return first and first.adaptive(_hw(ins[0]), _hw(out))
            if func in PADS:
                pad = [*_bind(func, args, kwargs)["pad"], 0, 0, 0, 0]
                return first and first.pad(top=pad[2], left=pad[0])
        except (TypeError, KeyError):
            return None  # a call form the arithmetic does not know: field unknown
        return self._pointwise(ins, out)

    def _conv(self, rf: ReceptiveField | None, a: dict) -> ReceptiveField | None:
        weight = a["weight"]
        if rf is None or weight.dim() != 4:
            return None
        k = tuple(weight.shape[-2:])
        pad, dil = a["padding"], a["dilation"]
        if isinstance(pad, str):  # 'valid' or 'same' (extra padding goes right/bottom, as PyTorch does)
            d = (dil, dil) if isinstance(dil, int) else tuple(dil)
            pad = (0, 0) if pad == "valid" else tuple(d[i] * (k[i] - 1) // 2 for i in range(2))
        return rf.window(k, a["stride"], pad, dil)

    def _pointwise(self, ins: list[Tensor], out: Tensor) -> ReceptiveField | None:
        out_hw = _hw(out)
        fields = []
        for t in ins:
            rf, hw = self._info[id(t)].rf, _hw(t)
            if rf is None:
                return None
            if hw is None or hw == out_hw or hw == (1, 1):  # same positions, non-spatial, or broadcast
                fields.append(rf)
            elif out_hw is None or out_hw == (1, 1):  # spatial dimensions reduced away
                fields.append(rf.globalize(hw))
            else:
                return None  # resampling, cropping, ...: not covered
        return ReceptiveField.union(fields)

    # -- memory ------------------------------------------------------------------------------------------
    def peak_bytes(self, outputs: list[Tensor]) -> int:
        """Largest sum of live storages over the traced ops, with the inputs and ``outputs`` live throughout."""
        end = self._step + 1
        last = dict(self._last)
        for key, born in self._born.items():
            if born == 0:
                last[key] = end
        for t in outputs:
            last[_storage_key(t)] = end
        delta = [0] * (end + 2)
        for key, born in self._born.items():
            delta[born] += self._bytes[key]
            delta[last[key] + 1] -= self._bytes[key]
        peak = live = 0
        for d in delta:
            live += d
            peak = max(peak, live)
        return peak
