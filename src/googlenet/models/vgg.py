"""VGG, Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image Recognition", 2014.

The six configurations of the paper's Table 1, each with and without batch norm (``*_bn``, after every
conv, as torchvision; not in the paper):

=========  ==========  ===========================================================  ======================
config     name        convs (3x3 unless marked)                                    built by
=========  ==========  ===========================================================  ======================
A          vgg11       64 M 128 M 256x2 M 512x2 M 512x2 M                           torchvision ``vgg11``
A-LRN      vgg11_lrn   A with local response normalisation after the first conv    here (``CONFIGS``)
B          vgg13       64x2 M 128x2 M 256x2 M 512x2 M 512x2 M                       torchvision ``vgg13``
C          vgg16_c     B plus a 1x1 conv at the end of blocks 3, 4 and 5            here (``CONFIGS``)
D          vgg16       64x2 M 128x2 M 256x3 M 512x3 M 512x3 M                       torchvision ``vgg16``
E          vgg19       64x2 M 128x2 M 256x4 M 512x4 M 512x4 M                       torchvision ``vgg19``
=========  ==========  ===========================================================  ======================

All share torchvision's ``VGG`` class (so its state-dict keys ``features.N`` / ``classifier.N``), its
classifier FC 4096 -> ReLU -> dropout 0.5 -> FC 4096 -> ReLU -> dropout 0.5 -> FC, and its adaptive average
pool to 7x7 before the classifier (the identity at 224 px; the paper has no such pool and instead evaluates
densely with the FC layers as convs). The LRN of A-LRN is AlexNet's (k=2, n=5, alpha=1e-4, beta=0.75).
``in_chans=1`` builds a greyscale network: only the first conv (``features.0``) changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn
from torchvision import models as tvm

from ..registry import register_model, torchvision_weights
from .adapter import adapt
from .alexnet import LRN

# Layer tokens: an int is a 3x3 conv with that many outputs, (n, 1) a 1x1 conv, "M" a 2x2/2 max pool,
# "LRN" local response normalisation.
Token = int | tuple[int, int] | str
CONFIGS: dict[str, list[Token]] = {
    "A-LRN": [64, "LRN", "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, (256, 1), "M", 512, 512, (512, 1), "M", 512, 512, (512, 1), "M"],
}


def make_features(cfg: Sequence[Token], batch_norm: bool, in_chans: int = 3) -> nn.Sequential:
    """The conv trunk of a VGG configuration, laid out as torchvision's ``make_layers`` lays it out."""
    layers: list[nn.Module] = []
    channels = in_chans
    for token in cfg:
        if token == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif token == "LRN":
            layers.append(nn.LocalResponseNorm(**LRN))
        else:
            out, k = token if isinstance(token, tuple) else (token, 3)
            layers.append(nn.Conv2d(channels, out, kernel_size=k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU(inplace=True))
            channels = out
    return nn.Sequential(*layers)


def _paper_vgg(config: str, batch_norm: bool, num_classes: int, in_chans: int = 3, **kwargs) -> nn.Module:
    features = make_features(CONFIGS[config], batch_norm, in_chans)
    return adapt(tvm.VGG(features, num_classes=num_classes or 1, **kwargs), in_chans, num_classes == 0)


def _tv_vgg(builder: Callable[..., nn.Module], num_classes: int, in_chans: int = 3, **kwargs) -> nn.Module:
    return adapt(builder(weights=None, num_classes=num_classes or 1, **kwargs), in_chans, num_classes == 0)


_VGG = {"family": "vgg", "min_input_size": 32}


@register_model(**_VGG, weights=(torchvision_weights("vgg11"),))
def vgg11(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration A (11 layers)."""
    return _tv_vgg(tvm.vgg11, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg11_bn"),))
def vgg11_bn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration A (11 layers) with batch norm."""
    return _tv_vgg(tvm.vgg11_bn, num_classes, **kwargs)


@register_model(**_VGG)
def vgg11_lrn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration A-LRN: A with local response normalisation after the first conv."""
    return _paper_vgg("A-LRN", False, num_classes, **kwargs)


@register_model(**_VGG)
def vgg11_lrn_bn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration A-LRN with batch norm."""
    return _paper_vgg("A-LRN", True, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg13"),))
def vgg13(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration B (13 layers)."""
    return _tv_vgg(tvm.vgg13, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg13_bn"),))
def vgg13_bn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration B (13 layers) with batch norm."""
    return _tv_vgg(tvm.vgg13_bn, num_classes, **kwargs)


@register_model(**_VGG)
def vgg16_c(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration C (16 layers, the last conv of blocks 3-5 is 1x1)."""
    return _paper_vgg("C", False, num_classes, **kwargs)


@register_model(**_VGG)
def vgg16_c_bn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration C with batch norm."""
    return _paper_vgg("C", True, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg16"),))
def vgg16(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration D (16 layers, "VGG16")."""
    return _tv_vgg(tvm.vgg16, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg16_bn"),))
def vgg16_bn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration D (16 layers) with batch norm."""
    return _tv_vgg(tvm.vgg16_bn, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg19"),))
def vgg19(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration E (19 layers, "VGG19")."""
    return _tv_vgg(tvm.vgg19, num_classes, **kwargs)


@register_model(**_VGG, weights=(torchvision_weights("vgg19_bn"),))
def vgg19_bn(num_classes: int = 1000, **kwargs) -> nn.Module:
    """VGG configuration E (19 layers) with batch norm."""
    return _tv_vgg(tvm.vgg19_bn, num_classes, **kwargs)
