"""Local response normalisation as one ONNX ``LRN`` node instead of torch's pad/pool/pow decomposition.

``F.local_response_norm`` is composite Python, so both ONNX exporters spell it as some ten elementwise and
pooling nodes (about a fifth of the paper model's ONNX Runtime time at 224 px). Here it is a custom op,
``googlenet::lrn``, with a translation for each exporter onto ONNX's ``LRN``, whose definition equals
torch's for odd sizes: ``x / (k + alpha / size * sum_{window} x^2) ^ beta`` over ``size`` channels centred
on each channel.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@torch.library.custom_op("googlenet::lrn", mutates_args=())
def lrn(x: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
    """Local response normalisation across channels (torch's definition)."""
    return F.local_response_norm(x, size, alpha, beta, k)


@lrn.register_fake
def _(x: Tensor, size: int, alpha: float, beta: float, k: float) -> Tensor:
    return torch.empty_like(x)


class ExportLRN(nn.Module):
    """``nn.LocalResponseNorm`` that exports as a single ONNX ``LRN`` node."""

    def __init__(self, size: int, alpha: float, beta: float, k: float) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        return torch.ops.googlenet.lrn(x, self.size, self.alpha, self.beta, self.k)


def use_onnx_lrn(model: nn.Module) -> nn.Module:
    """Copy of ``model`` with every odd-sized ``nn.LocalResponseNorm`` replaced by :class:`ExportLRN`."""
    model = copy.deepcopy(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.LocalResponseNorm) and child.size % 2 == 1:
                setattr(parent, name, ExportLRN(child.size, child.alpha, child.beta, child.k))
    return model


def _legacy_symbolic(g, x, size, alpha, beta, k):  # (TorchScript graph values)
    from torch.onnx import symbolic_helper

    get = symbolic_helper._maybe_get_const
    size, alpha, beta, k = get(size, "i"), get(alpha, "f"), get(beta, "f"), get(k, "f")
    return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


def register_legacy_symbolic(opset: int) -> None:
    """Teach the TorchScript-based exporter ``googlenet::lrn`` -> ``LRN``."""
    torch.onnx.register_custom_op_symbolic("googlenet::lrn", _legacy_symbolic, opset)


def dynamo_translation_table() -> dict:
    """``custom_translation_table`` for the torch.export-based exporter."""
    from onnxscript import opset18 as op

    def lrn_onnx(x, size: int, alpha: float, beta: float, k: float):
        return op.LRN(x, size=size, alpha=alpha, beta=beta, bias=k)

    return {torch.ops.googlenet.lrn.default: lrn_onnx}


class ConvLRN(nn.Module):
    """LRN as GEMM-friendly arithmetic: the window sum of squares is a 1x1 conv with a banded 0/1 weight.

    ``x / (k + alpha / size * band(x^2)) ^ beta``; for the paper's beta = 0.75 the power is
    ``sqrt(t) * sqrt(sqrt(t))``, which vectorises far better than ``pow``. Equal to torch's LRN up to float
    rounding (a sum in a different order).
    """

    def __init__(self, channels: int, size: int, alpha: float, beta: float, k: float) -> None:
        super().__init__()
        idx = torch.arange(channels)
        band = ((idx[:, None] - idx[None, :]).abs() <= size // 2).float() * (alpha / size)
        self.register_buffer("band", band.view(channels, channels, 1, 1))
        self.beta, self.k = beta, k

    def forward(self, x: Tensor) -> Tensor:
        t = F.conv2d(x * x, self.band) + self.k
        if self.beta == 0.75:
            s = torch.sqrt(t)
            return x / (s * torch.sqrt(s))
        return x * t.pow(-self.beta)


def use_conv_lrn(model: nn.Module, example: Tensor) -> nn.Module:
    """Copy of ``model`` with each odd-sized ``nn.LocalResponseNorm`` replaced by a :class:`ConvLRN`.

    The channel count of each LRN is found by one forward pass of ``example`` (one input of the model's shape).
    """
    model = copy.deepcopy(model).eval()
    found: dict[nn.Module, int] = {}

    def record(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        found[module] = inputs[0].shape[1]

    hooks = [
        m.register_forward_hook(record)
        for m in model.modules()
        if isinstance(m, nn.LocalResponseNorm) and m.size % 2 == 1
    ]
    if not hooks:
        return model
    with torch.no_grad():
        model(torch.zeros_like(example[:1]))
    for h in hooks:
        h.remove()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if child in found:
                setattr(parent, name, ConvLRN(found[child], child.size, child.alpha, child.beta, child.k))
    return model
