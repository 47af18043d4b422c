"""BVLC's Caffe weights: ``.caffemodel`` files of GoogLeNet and AlexNet into registered models.

``load_caffe("bvlc_googlenet.caffemodel", "googlenet")`` reads the file with a real protobuf parser
(:mod:`~googlenet.weights.caffe.proto`), maps BVLC's layer names onto the model's modules
(:mod:`~googlenet.weights.caffe.nets`), loads them strictly and returns the model with Caffe's input contract: BGR
channels, pixels 0-255 minus the mean (104, 117, 123), std 1, the image warped to 256 x 256 (aspect not kept) and
its centre 224 (227 for AlexNet) cut, the 1000 ILSVRC-2012 classes in sorted WordNet-id order with the ids as
``class_ids``. A file that is not a caffemodel, or not this network, fails in one line naming the first missing or
mis-shaped layer. A file whose SHA-1 is the one BVLC publishes is recorded as BVLC's (the registry's
:class:`~googlenet.registry.PublishedWeights`, with the figures BVLC reports).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...contract import CAFFE_MEAN_BGR, ModelContract
from ...errors import UserError
from ...factory import create_model
from ..fit import load_state_strict, without_aux_if_file_lacks
from ..imagenet import imagenet_class_ids, imagenet_class_names
from ..published import published_file
from .nets import NETWORKS
from .proto import CaffeFormatError, CaffeNet, read_caffemodel, write_caffemodel

__all__ = [
    "NETWORKS",
    "CaffeFormatError",
    "CaffeNet",
    "caffe_contract",
    "caffe_state",
    "is_caffemodel",
    "load_caffe",
    "read_caffemodel",
    "write_caffemodel",
]

CAFFE_RESIZE = 256  # create_imagenet.sh: RESIZE_HEIGHT = RESIZE_WIDTH = 256


class CaffeNetworkError(UserError):
    """A caffemodel that is not the network it is imported as."""


def is_caffemodel(path: str | os.PathLike, head: bytes | None = None) -> bool:
    """Whether ``path`` (whose first bytes are ``head``, read when None) looks like a caffemodel rather than a
    PyTorch file (zip archive or pickle)."""
    path = Path(path)
    if path.suffix.lower() == ".caffemodel":
        return True
    if head is None:
        try:
            with open(path, "rb") as f:
                head = f.read(4)
        except OSError:
            return False
    if head.startswith((b"PK", b"\x80")):  # torch.save's zip archive, or a legacy pickle
        return False
    # a NetParameter begins with a field tag: name (1), layers (2), input (3), input_dim (4) or layer (100)
    return head[:1] in (b"\x0a", b"\x12", b"\x1a", b"\x20", b"\x22") or head[:2] == b"\xa2\x06"


def _shape(a: tuple[int, ...]) -> tuple[int, ...]:
    """A shape without its leading 1s (V1 files store an FC weight as 1 x 1 x out x in, a bias as 1 x 1 x 1 x n)."""
    i = 0
    while i < len(a) - 1 and a[i] == 1:
        i += 1
    return tuple(a[i:])


def caffe_state(net: CaffeNet, model: str, expected: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The state dict of ``model`` from ``net``'s blobs, checked layer by layer against ``expected``'s shapes."""
    state: dict[str, torch.Tensor] = {}
    for layer, module in NETWORKS[model].layers.items():
        if f"{module}.weight" not in expected:
            continue  # auxiliary heads the model is built without
        blobs = net.blobs.get(layer)
        if blobs is None:
            raise CaffeNetworkError(f"{source} is not BVLC's {model}: layer {layer!r} is missing")
        if len(blobs) != 2:
            raise CaffeNetworkError(f"{source}: layer {layer!r} has {len(blobs)} blobs, {model} expects 2")
        for blob, part in zip(blobs, ("weight", "bias"), strict=True):
            want = tuple(expected[f"{module}.{part}"].shape)
            if _shape(blob.shape) != _shape(want):
                raise CaffeNetworkError(
                    f"{source} is not BVLC's {model}: layer {layer!r} {part} has shape {blob.shape}, "
                    f"{model} expects {want}"
                )
            state[f"{module}.{part}"] = torch.from_numpy(np.ascontiguousarray(blob).reshape(want))
    return state


def caffe_contract(
    model: str, num_classes: int, model_kwargs: dict[str, Any], weights: dict[str, Any]
) -> ModelContract:
    """Caffe's ImageNet input contract (BGR, 0-255 minus (104, 117, 123), warp to 256, centre crop) for ``model``."""
    size = NETWORKS[model].input_size
    imagenet = num_classes == 1000
    return ModelContract(
        model=model,
        num_classes=num_classes,
        model_kwargs=model_kwargs,
        class_names=imagenet_class_names() if imagenet else None,
        class_ids=imagenet_class_ids() if imagenet else None,
        input_size=size,
        pixel_range=255.0,
        channel_order="BGR",
        mean=CAFFE_MEAN_BGR,
        std=(1.0, 1.0, 1.0),
        resize="warp",
        crop_fraction=size / CAFFE_RESIZE,
        interpolation="bilinear",
        weights=weights,
    )


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_caffe(src: str | os.PathLike, model: str) -> tuple[nn.Module, ModelContract]:
    """Registered ``model`` (``googlenet`` or ``alexnet_bvlc``) with the weights of BVLC's caffemodel ``src``, and
    Caffe's input contract.

    The class count comes from the file's classifier; without the auxiliary layers (a deploy-only file) GoogLeNet is
    built with ``aux_logits=False``.
    """
    if model not in NETWORKS:
        raise UserError(f"Caffe weights import into {', '.join(NETWORKS)}, not {model!r}")
    src = Path(src)
    net = read_caffemodel(src)
    layers, classifier = NETWORKS[model].layers, NETWORKS[model].classifier
    if classifier not in net.blobs:
        raise CaffeNetworkError(f"{src} is not BVLC's {model}: layer {classifier!r} is missing")
    num_classes = int(_shape(net.blobs[classifier][0].shape)[0])
    keys = [f"{layers[name]}.weight" for name in net.blobs if name in layers]
    kwargs = without_aux_if_file_lacks(model, keys, {})
    torch.manual_seed(0)  # what is not loaded is nothing; the seed only keeps construction deterministic
    module = create_model(model, num_classes=num_classes, **kwargs)
    state = caffe_state(net, model, module.state_dict(), str(src))
    load_state_strict(module, state, source=str(src))
    sha1 = _sha1(src)
    weights = {"source": "caffe", "file": src.name, "sha1": sha1, "net": net.name, "format": net.format}
    known = published_file(sha1)
    if known is not None:
        weights["published"] = known[1].ref
    return module, caffe_contract(model, num_classes, kwargs, weights)
