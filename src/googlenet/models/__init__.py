"""Model families. Each module registers its builders (``@register_model``) when imported; importing this
package imports them all, which is what :mod:`googlenet.factory` does before it builds or lists models."""

from . import alexnet, densenet, googlenet, googlenet_bn, resnet, vgg

FAMILIES = (alexnet, densenet, googlenet, googlenet_bn, resnet, vgg)
