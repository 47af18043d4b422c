"""Putting a state dict into a model: strictly (every key and shape), or for transfer (all but the classifier).

The rules that files from elsewhere need live here once: a ``module.`` prefix and old DenseNet key names
(:func:`fix_state_keys`), BatchNorm counters missing from files older than PyTorch 0.4.1
(:func:`fill_batchnorm_counters`), and a file without auxiliary heads (:func:`without_aux_if_file_lacks`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import torch
from torch import nn

from ..factory import AUX_PREFIXES, create_model
from ..fileio import shown
from .errors import CheckpointError

# torchvision's published DenseNet files predate its module names: "denselayer1.norm.1.weight" is now
# "denselayer1.norm1.weight" (the same pattern torchvision's own loader rewrites).
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)
_COUNTER = ".num_batches_tracked"


def fix_state_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A ``module.`` prefix left by DataParallel/DDP stripped, old-style DenseNet keys renamed."""
    state = dict(state)
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return {_OLD_DENSENET_KEY.sub(r"\1\2", k): v for k, v in state.items()}


def classifier_keys(name: str, **kwargs: Any) -> list[str]:
    """State-dict keys of model ``name`` whose shape depends on the class count: the main and auxiliary
    classifiers. Found by building the model twice on the meta device (no memory, no arithmetic that matters)."""
    with torch.device("meta"):
        a = create_model(name, 2, **kwargs).state_dict()
        b = create_model(name, 3, **kwargs).state_dict()
    return [k for k in a if k in b and a[k].shape != b[k].shape]


def infer_num_classes(name: str, state: Mapping[str, torch.Tensor], model_kwargs: Mapping[str, Any]) -> int | None:
    """Classifier size of ``state`` for model ``name``, or None when its classifier key is absent."""
    for key in classifier_keys(name, **model_kwargs):
        if key in state:
            return int(state[key].shape[0])
    return None


def fill_batchnorm_counters(state: dict[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    """Files saved before PyTorch 0.4.1 lack ``num_batches_tracked``; fill in 0, as BatchNorm's own loader does."""
    if any(k.endswith(_COUNTER) for k in state):
        return
    state.update({k: torch.tensor(0, dtype=torch.long) for k in expected if k.endswith(_COUNTER)})


def without_aux_if_file_lacks(name: str, keys: Collection[str], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus ``aux_logits=False`` when model ``name`` has auxiliary heads and a file's ``keys`` have none.

    torchvision's ``googlenet()`` drops its auxiliary heads whenever it loads weights, and BVLC's deploy files have
    none, so such a file has no ``aux1.``/``aux2.`` keys: the model is then built without the heads and the option
    recorded, so the weights load back. An explicit ``aux_logits`` is left as given.
    """
    if "aux_logits" in kwargs or any(k.startswith(AUX_PREFIXES) for k in keys):
        return dict(kwargs)
    with torch.device("meta"):
        expected = create_model(name, 2, **kwargs).state_dict()
    if any(k.startswith(AUX_PREFIXES) for k in expected):
        return {**kwargs, "aux_logits": False}
    return dict(kwargs)


def load_state_strict(model: nn.Module, tensors: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load ``tensors`` into ``model`` only if every key and shape matches; name the first mismatch otherwise."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing key {missing[0]!r} ({len(missing)} missing)")
        if unexpected:
            parts.append(f"unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)")
        raise CheckpointError(f"{shown(source)} does not fit {type(model).__name__}: " + ", ".join(parts))
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{shown(source)} does not fit {type(model).__name__}: key {k!r} has shape "
                f"{tuple(tensors[k].shape)}, the model expects {tuple(v.shape)}"
            )
    model.load_state_dict(dict(tensors), strict=True)


def load_state_except_classifier(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str, classifier: Collection[str]
) -> list[str]:
    """Load ``state`` into ``model`` for transfer: every key and shape must fit, except ``classifier`` keys of
    another shape (or absent), which keep the model's fresh initialisation, and auxiliary heads the model does not
    have.

    Returns the classifier keys left at initialisation (a model built with ``num_classes=0`` has no classifier:
    the file's is dropped). Any other mismatch is a one-line :class:`CheckpointError` naming the first key.
    """
    own = model.state_dict()
    fitted = {k: v for k, v in state.items() if k in own or not k.startswith(AUX_PREFIXES)}
    reset = []
    for key in classifier:
        if key not in own:  # a features-only model (num_classes=0) has no classifier
            fitted.pop(key, None)
        elif key not in fitted or tuple(fitted[key].shape) != tuple(own[key].shape):
            fitted[key] = own[key]
            reset.append(key)
    fill_batchnorm_counters(fitted, own)
    load_state_strict(model, fitted, source=source)
    return reset
