"""BVLC's layer names -> this project's state-dict keys, for the networks of BVLC's model zoo.

GoogLeNet (``models/bvlc_googlenet``): the names of its ``train_val.prototxt``, whose caffemodel also holds the
auxiliary heads (``loss1/*`` after 4a, ``loss2/*`` after 4d); ``loss3/classifier`` is the main classifier. The
project's module names are the paper's (``inception3a.branch2.1`` is the 3x3 conv of inception 3a).
AlexNet (``models/bvlc_alexnet``): conv1..conv5, fc6..fc8, into ``alexnet_bvlc`` (torchvision's ``features.N`` /
``classifier.N`` layout).

Which files BVLC published, with their SHA-1 and figures, is data on the registry entries
(:class:`~googlenet.registry.PublishedWeights` tagged ``bvlc``).

Caffe stores a convolution's weight as out x in/group x kh x kw and an inner product's as out x in, as PyTorch does;
the second blob of each layer is its bias.
"""

from __future__ import annotations

from dataclasses import dataclass

# Inception module branches: Caffe suffix -> module path inside ``inceptionNN``
_BRANCHES = {
    "1x1": "branch1",
    "3x3_reduce": "branch2.0",
    "3x3": "branch2.1",
    "5x5_reduce": "branch3.0",
    "5x5": "branch3.1",
    "pool_proj": "branch4.1",
}
INCEPTIONS = ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")


def _googlenet() -> dict[str, str]:
    layers = {
        "conv1/7x7_s2": "conv1.conv",
        "conv2/3x3_reduce": "conv2.conv",
        "conv2/3x3": "conv3.conv",
    }
    for row in INCEPTIONS:
        for suffix, path in _BRANCHES.items():
            layers[f"inception_{row}/{suffix}"] = f"inception{row}.{path}.conv"
    for loss, aux in (("loss1", "aux1"), ("loss2", "aux2")):
        layers.update(
            {f"{loss}/conv": f"{aux}.conv.conv", f"{loss}/fc": f"{aux}.fc1", f"{loss}/classifier": f"{aux}.fc2"}
        )
    layers["loss3/classifier"] = "fc"
    return layers


GOOGLENET = _googlenet()
ALEXNET = {
    "conv1": "features.0",
    "conv2": "features.4",
    "conv3": "features.8",
    "conv4": "features.10",
    "conv5": "features.12",
    "fc6": "classifier.0",
    "fc7": "classifier.3",
    "fc8": "classifier.6",
}


@dataclass(frozen=True)
class BvlcNet:
    """How a BVLC network's caffemodel maps onto a registered model."""

    layers: dict[str, str]  # BVLC layer -> module path
    classifier: str  # the main classifier's layer (its first dimension is the class count)
    input_size: int  # crop side of Caffe's test phase, px


NETWORKS: dict[str, BvlcNet] = {
    "googlenet": BvlcNet(GOOGLENET, "loss3/classifier", 224),
    "alexnet_bvlc": BvlcNet(ALEXNET, "fc8", 227),
}
