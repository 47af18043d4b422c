"""ResNet, He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.

torchvision's builders, given this project's interface by :func:`~googlenet.models.adapter.adapt`; state-dict
keys are torchvision's. Basic blocks (two 3x3) for 18/34 layers, bottlenecks (1x1 -> 3x3 -> 1x1, x4 expansion)
for 50/101/152; stages [2,2,2,2], [3,4,6,3], [3,4,6,3], [3,4,23,3], [3,8,36,3].

torchvision's bottleneck is "v1.5": a downsampling block strides in its 3x3 conv. The paper ("v1") strides
in the first 1x1 conv; ``stride_in_1x1=True`` moves the stride there (same parameters, fewer MACs in the
3x3, slightly less accurate). The projection shortcut strides in its 1x1 conv in both forms.

``in_chans=1`` builds a greyscale network: only ``conv1`` changes (its input channels).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn
from torchvision import models as tvm
from torchvision.models.resnet import Bottleneck

from ..registry import register_model, torchvision_weights
from .adapter import adapt


def move_stride_to_1x1(model: nn.Module) -> nn.Module:
    """Turn torchvision's v1.5 bottlenecks into the paper's v1: stride in conv1 (1x1) instead of conv2 (3x3)."""
    for block in model.modules():
        if isinstance(block, Bottleneck) and block.conv2.stride != (1, 1):
            block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return model


def _resnet(
    builder: Callable[..., nn.Module], num_classes: int, stride_in_1x1: bool = False, in_chans: int = 3, **kwargs
) -> nn.Module:
    model = builder(weights=None, num_classes=num_classes or 1, **kwargs)  # 0: built, then features only
    if stride_in_1x1:
        if not any(isinstance(m, Bottleneck) for m in model.modules()):
            # TypeError: an option this builder does not take (create_model reports it as a UserError)
            raise TypeError("stride_in_1x1 applies to bottleneck ResNets (50/101/152) only")
        move_stride_to_1x1(model)
    return adapt(model, in_chans, features_only=num_classes == 0)


_RESNET = {"family": "resnet", "min_input_size": 1}  # torchvision's min_size for every ResNet


@register_model(**_RESNET, weights=(torchvision_weights("resnet18"),))
def resnet18(num_classes: int = 1000, **kwargs) -> nn.Module:
    """ResNet-18: basic blocks [2, 2, 2, 2]."""
    return _resnet(tvm.resnet18, num_classes, **kwargs)


@register_model(**_RESNET, weights=(torchvision_weights("resnet34"),))
def resnet34(num_classes: int = 1000, **kwargs) -> nn.Module:
    """ResNet-34: basic blocks [3, 4, 6, 3]."""
    return _resnet(tvm.resnet34, num_classes, **kwargs)


@register_model(**_RESNET, weights=(torchvision_weights("resnet50"),))
def resnet50(num_classes: int = 1000, **kwargs) -> nn.Module:
    """ResNet-50: bottlenecks [3, 4, 6, 3] (v1.5; ``stride_in_1x1=True`` for the paper's v1)."""
    return _resnet(tvm.resnet50, num_classes, **kwargs)


@register_model(**_RESNET, weights=(torchvision_weights("resnet101"),))
def resnet101(num_classes: int = 1000, **kwargs) -> nn.Module:
    """ResNet-101: bottlenecks [3, 4, 23, 3] (v1.5; ``stride_in_1x1=True`` for the paper's v1)."""
    return _resnet(tvm.resnet101, num_classes, **kwargs)


@register_model(**_RESNET, weights=(torchvision_weights("resnet152"),))
def resnet152(num_classes: int = 1000, **kwargs) -> nn.Module:
    """ResNet-152: bottlenecks [3, 8, 36, 3] (v1.5; ``stride_in_1x1=True`` for the paper's v1)."""
    return _resnet(tvm.resnet152, num_classes, **kwargs)
