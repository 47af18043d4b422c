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
