"""Inference-only graph rewrites: fold batch norm into convolutions, merge an Inception module's 1x1 convs.

Both rewrites return a new module (the input is left untouched) that computes the same function in eval
mode up to float rounding; tests compare them with the original model.
"""

from __future__ import annotations

import copy
import itertools

import torch
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..models.inception import Inception


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """Copy of ``model`` (in eval mode) with every BatchNorm2d that follows a Conv2d folded into its weights.

    Recognised pairs: a module with ``conv`` and ``bn`` children (the project's ``ConvBlock``, torchvision's
    ``BasicConv2d``) and consecutive ``Conv2d``/``BatchNorm2d`` entries of an ``nn.Sequential``. The batch
    norm is replaced by ``nn.Identity``; a model without batch norm comes back unchanged (as a copy).
    """
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        conv, bn = getattr(module, "conv", None), getattr(module, "bn", None)
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            module.conv = fuse_conv_bn_eval(conv, bn)
            module.bn = nn.Identity()
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in itertools.pairwise(names):
                first, second = module._modules[a], module._modules[b]
                if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                    module._modules[a] = fuse_conv_bn_eval(first, second)
                    module._modules[b] = nn.Identity()
    return model


def _conv_of(block: nn.Module) -> nn.Conv2d | None:
    """The Conv2d of a ConvBlock-like module whose norm is already folded (``bn`` absent or Identity)."""
    conv, bn = getattr(block, "conv", None), getattr(block, "bn", nn.Identity())
    return conv if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.Identity) else None


class MergedInception(nn.Module):
    """An :class:`~googlenet.models.inception.Inception` whose three 1x1 convs on the input run as one conv.

    ``branch1``, the 3x3 reduce and the 5x5 reduce all read the same input with 1x1 kernels, so their
    weights stack into one wider convolution (one GEMM instead of three), whose output is split on channels.
    """

    def __init__(self, block: Inception) -> None:
        super().__init__()
        convs = [_conv_of(block.branch1), _conv_of(block.branch2[0]), _conv_of(block.branch3[0])]
        if any(c is None for c in convs):
            raise ValueError("merge needs folded conv blocks (call fold_batch_norm first)")
        first = convs[0]
        self.splits = [c.out_channels for c in convs]
        self.reduce = nn.Conv2d(first.in_channels, sum(self.splits), 1)
        with torch.no_grad():
            self.reduce.weight.copy_(torch.cat([c.weight for c in convs]))
            self.reduce.bias.copy_(
                torch.cat([c.bias if c.bias is not None else c.weight.new_zeros(c.out_channels) for c in convs])
            )
        self.branch2 = block.branch2[1]
        self.branch3 = block.branch3[1]
        self.branch4 = block.branch4
        self.out_channels = block.out_channels

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.reduce(x))
        b1, b2, b3 = torch.split(y, self.splits, 1)
        return torch.cat([b1, self.branch2(b2), self.branch3(b3), self.branch4(x)], 1)


def merge_inception_1x1(model: nn.Module) -> nn.Module:
    """Copy of ``model`` with every Inception module replaced by a :class:`MergedInception`.

    Batch norm is folded first, so any GoogLeNet form is accepted.
    """
    model = fold_batch_norm(model)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Inception):
                setattr(parent, name, MergedInception(child))
    return model


def optimize_for_inference(model: nn.Module) -> nn.Module:
    """Fold batch norm and merge Inception 1x1 convs: the project's inference graph (eval mode, a copy)."""
    return merge_inception_1x1(model).eval()
