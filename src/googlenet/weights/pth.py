"""PyTorch ``.pth`` state dicts (torchvision's files, or any saved ``model.state_dict()``) into a registered model.

The file is read with ``torch.load(weights_only=True)``, which unpickles tensors and plain containers only, never
code. The state dict is loaded strictly into the registered model (a file for another model fails naming the
first mismatched key), with the metadata a user of the weights needs as its contract: torchvision's ImageNet
evaluation transform, and ImageNet's class names and ids for a 1000-class file.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..contract import ModelContract
from ..factory import create_model, model_info
from .errors import CheckpointError
from .fit import (
    fill_batchnorm_counters,
    fix_state_keys,
    infer_num_classes,
    load_state_strict,
    without_aux_if_file_lacks,
)
from .imagenet import imagenet_class_ids, imagenet_class_names

# torchvision's ImageNet evaluation transform for these models: resize the shorter side to 256, centre 224
TORCHVISION_CROP_FRACTION = 224 / 256


def is_pth(head: bytes) -> bool:
    """Whether a file's first bytes are ``torch.save``'s: a zip archive, or a legacy pickle."""
    return head.startswith((b"PK\x03\x04", b"\x80"))


def read_pth(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict in a ``.pth`` file, read with ``weights_only=True``.

    Accepts a bare state dict, or a training checkpoint holding one under ``"model"`` or ``"state_dict"``
    (as torchvision's reference scripts save); strips a ``module.`` prefix left by DataParallel/DDP and
    renames old-style DenseNet keys.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: ([^\n]*)", str(err))
        if not found:  # e.g. "Unsupported operand": not a pickle at all
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint") from None
        raise CheckpointError(
            f"{path} holds more than tensors and plain containers, which weights_only loading refuses "
            f"({found.group(1).strip()}); save model.state_dict() instead"
        ) from None
    except Exception as err:  # torch.load raises many types for a file that is not a checkpoint
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: {err})") from None
    for key in ("model", "state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return fix_state_keys(obj)


def load_pth(
    src: str | os.PathLike,
    model: str,
    *,
    num_classes: int | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    class_names: list[str] | None = None,
) -> tuple[nn.Module, ModelContract]:
    """Registered ``model`` with the weights of the ``.pth`` state dict ``src``, and their contract.

    Args:
        src: the state dict, read with ``weights_only=True``.
        model: registered model name, e.g. ``resnet50`` or ``googlenet_bn``.
        num_classes: classifier size; inferred from the file when None.
        model_kwargs: builder options, recorded in the contract; they override those torchvision applies with its
            own weights for this model. Without ``aux_logits``, a file with no auxiliary-head keys gives
            ``aux_logits=False``.
        class_names: class names to record; None: ImageNet's when there are 1000 classes.
    """
    info = model_info(model)
    tv = info.published("torchvision")
    kwargs = {**(tv.model_kwargs if tv else {}), **(model_kwargs or {})}
    state = read_pth(src)
    kwargs = without_aux_if_file_lacks(model, state, kwargs)
    if num_classes is None:
        num_classes = infer_num_classes(model, state, kwargs) or 1000
    net = create_model(model, num_classes=num_classes, **kwargs)
    fill_batchnorm_counters(state, net.state_dict())
    load_state_strict(net, state, source=str(src))
    class_ids = None
    if class_names is None and num_classes == 1000:
        class_names, class_ids = list(imagenet_class_names()), imagenet_class_ids()
    if class_names is not None and len(class_names) != num_classes:
        raise CheckpointError(f"{len(class_names)} class names given for {num_classes} classes")
    contract = ModelContract(
        model=model,
        num_classes=num_classes,
        model_kwargs=kwargs,
        class_names=tuple(class_names) if class_names is not None else None,
        class_ids=class_ids,
        input_size=info.default_input_size,
        crop_fraction=TORCHVISION_CROP_FRACTION,
        weights={"source": "torchvision", "file": Path(src).name},
    )
    return net, contract
