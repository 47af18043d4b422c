"""Inference-only graph rewrite: fold batch norm into the convolutions before it.

The rewrite returns a new module (the input is left untouched) that computes the same function in eval mode up to
float rounding; tests compare it with the original model in float64.
"""

from __future__ import annotations

import copy
import itertools

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


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
