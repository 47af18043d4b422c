"""DenseNet-BC, Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional Networks", CVPR 2017.

torchvision's builders, given this project's interface by :func:`~googlenet.models.adapter.adapt`; state-dict
keys are torchvision's current ones (:func:`googlenet.weights.fit.fix_state_keys` also renames the old
``norm.1``-style keys of torchvision's published files). Each layer is BN-ReLU-1x1 conv (4k) -> BN-ReLU-3x3
conv (k); transitions halve the channels and average-pool 2x2. k=32 with blocks [6,12,24,16] (121),
[6,12,32,32] (169), [6,12,48,32] (201); 161 uses k=48, 96 initial channels and [6,12,36,24].
``in_chans=1`` builds a greyscale network: only ``features.conv0`` changes (its input channels).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision import models as tvm

from ..registry import register_model, torchvision_weights
from .adapter import adapt


def _densenet(builder: Callable[..., nn.Module], num_classes: int, in_chans: int = 3, **kwargs) -> nn.Module:
    return adapt(builder(weights=None, num_classes=num_classes or 1, **kwargs), in_chans, num_classes == 0)


_DENSENET = {"family": "densenet", "min_input_size": 29}  # torchvision's min_size


@register_model(**_DENSENET, weights=(torchvision_weights("densenet121"),))
def densenet121(num_classes: int = 1000, **kwargs) -> nn.Module:
    """DenseNet-BC-121: k=32, blocks [6, 12, 24, 16]."""
    return _densenet(tvm.densenet121, num_classes, **kwargs)


@register_model(**_DENSENET, weights=(torchvision_weights("densenet161"),))
def densenet161(num_classes: int = 1000, **kwargs) -> nn.Module:
    """DenseNet-BC-161: k=48, 96 initial channels, blocks [6, 12, 36, 24]."""
    return _densenet(tvm.densenet161, num_classes, **kwargs)


@register_model(**_DENSENET, weights=(torchvision_weights("densenet169"),))
def densenet169(num_classes: int = 1000, **kwargs) -> nn.Module:
    """DenseNet-BC-169: k=32, blocks [6, 12, 32, 32]."""
    return _densenet(tvm.densenet169, num_classes, **kwargs)


@register_model(**_DENSENET, weights=(torchvision_weights("densenet201"),))
def densenet201(num_classes: int = 1000, **kwargs) -> nn.Module:
    """DenseNet-BC-201: k=32, blocks [6, 12, 48, 32]."""
    return _densenet(tvm.densenet201, num_classes, **kwargs)
