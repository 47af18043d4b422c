"""Inference-only graph rewrite: each Inception module's three 1x1 convolutions on its input as one convolution.

In Figure 2b the ``#1x1`` branch, the ``#3x3 reduce`` and the ``#5x5 reduce`` all convolve the module's input
with 1x1 kernels. Once batch norm is folded (:func:`~googlenet.runtime.fuse.fold_batch_norm`) each is a conv with a
bias followed by a ReLU, so the three are one conv whose output channels are the three stacked (weights and biases
concatenated), one ReLU, then a split along channels: the first part is the ``#1x1`` branch's output, the other two
feed the 3x3 and 5x5 convolutions. The ``pool proj`` reads the pooled input and stays apart. One wider GEMM
replaces three narrow ones reading the same input; the split and the final concatenation add copies.

The naive module (Figure 2a) has no reductions and is left as it is. The result computes the same function up to
float rounding (tested in float64) and exports to ONNX (the split is one ``Split`` node).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.inception import Inception
from .fuse import fold_batch_norm


class FusedInception(nn.Module):
    """An :class:`~googlenet.models.inception.Inception` module with its three 1x1 convolutions on the input fused.

    ``conv1x1`` holds ``#1x1``, ``#3x3 reduce`` and ``#5x5 reduce`` stacked on output channels (``splits`` gives
    their counts); ``branch2`` and ``branch3`` are the 3x3 and 5x5 conv blocks after the reductions;
    ``branch4`` is the original pool -> ``pool proj`` branch.
    """

    def __init__(
        self, conv1x1: nn.Conv2d, splits: list[int], branch2: nn.Module, branch3: nn.Module, branch4: nn.Module
    ) -> None:
        super().__init__()
        self.conv1x1 = conv1x1
        self.splits = list(splits)
        self.branch2 = branch2
        self.branch3 = branch3
        self.branch4 = branch4

    def forward(self, x: Tensor) -> Tensor:
        # N x in x H x W -> N x (#1x1 + #3x3 reduce + #5x5 reduce) x H x W, split back into the three
        y = F.relu(self.conv1x1(x), inplace=True)
        parts = torch.split(y, self.splits, dim=1)
        return torch.cat([parts[0], self.branch2(parts[1]), self.branch3(parts[2]), self.branch4(x)], 1)


def _plain_1x1(block: nn.Module) -> nn.Conv2d | None:
    """The conv of a folded conv block (``conv`` -> identity ``bn`` -> ReLU) when it is a plain 1x1, else None."""
    conv = getattr(block, "conv", None)
    if not isinstance(conv, nn.Conv2d) or not isinstance(getattr(block, "bn", None), nn.Identity):
        return None
    if not isinstance(getattr(block, "relu", None), nn.ReLU):
        return None
    plain = (
        conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding in ((0, 0), "valid")
    )
    return conv if plain else None


def _stacked(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One 1x1 conv whose output channels are ``convs``' in order: weights and biases concatenated."""
    first = convs[0]
    out = sum(c.out_channels for c in convs)
    fused = nn.Conv2d(first.in_channels, out, 1, bias=True, device=first.weight.device, dtype=first.weight.dtype)
    with torch.no_grad():
        fused.weight.copy_(torch.cat([c.weight for c in convs]))
        biases = [c.bias if c.bias is not None else torch.zeros_like(c.weight[:, 0, 0, 0]) for c in convs]
        fused.bias.copy_(torch.cat(biases))
    return fused


def _fuse_module(block: Inception) -> FusedInception | None:
    """``block`` (batch norm folded) with its 1x1 convolutions fused, or None when its branches are not plain."""
    heads = [block.branch1, block.branch2[0], block.branch3[0]]
    convs = [_plain_1x1(h) for h in heads]
    if any(c is None for c in convs):
        return None
    convs_ = [c for c in convs if c is not None]
    if len({c.in_channels for c in convs_}) != 1:
        return None
    splits = [c.out_channels for c in convs_]
    return FusedInception(_stacked(convs_), splits, block.branch2[1], block.branch3[1], block.branch4)


def fuse_inception_1x1(model: nn.Module) -> nn.Module:
    """Copy of ``model`` (eval mode, batch norm folded) with every Inception module's 1x1 convolutions fused.

    Each :class:`~googlenet.models.inception.Inception` becomes a :class:`FusedInception` (two fewer ``Conv2d``
    per module); everything else, the naive modules included, is as :func:`fold_batch_norm` leaves it. The input
    model is untouched.
    """
    model = fold_batch_norm(model)  # (a copy)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Inception):
                fused = _fuse_module(child)
                if fused is not None:
                    setattr(parent, name, fused)
    return model


def count_fused(model: nn.Module) -> int:
    """Number of :class:`FusedInception` modules in ``model``."""
    return sum(isinstance(m, FusedInception) for m in model.modules())
