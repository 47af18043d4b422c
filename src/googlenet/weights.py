"""Import torchvision checkpoints (``.pth`` state dicts, or its published weights by name) into this project's
safetensors format.

The ``.pth`` file is read with ``torch.load(weights_only=True)``, which unpickles tensors and plain
containers only, never code. The state dict is loaded strictly into the registered model (a file for
another model fails naming the first mismatched key), then saved with
:func:`googlenet.checkpoint.save_weights` together with the metadata a user of the weights needs.
:func:`import_torchvision_by_name` takes torchvision's default ImageNet weights for a model through torchvision's
own weights API and download cache (:mod:`googlenet.pretrained`), with their transforms and categories as contract.
BVLC's Caffe files are :mod:`googlenet.caffe`'s.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError, load_state_strict, save_weights
from .contract import ModelContract
from .factory import AUX_PREFIXES, create_model, model_info, torchvision_model
from .pretrained import TORCHVISION_KWARGS, fix_state_keys, imagenet_class_ids, imagenet_class_names

# torchvision's ImageNet evaluation transform for these models: resize the shorter side to 256, centre 224
TORCHVISION_CROP_FRACTION = 224 / 256


def read_torchvision_state(path: str | os.PathLike) -> dict[str, torch.Tensor]:
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


def _classifier_keys(name: str, model_kwargs: Mapping[str, Any]) -> list[str]:
    """State-dict keys whose first dimension is ``num_classes`` (found by building on the meta device twice)."""
    with torch.device("meta"):
        a = create_model(name, num_classes=2, **model_kwargs).state_dict()
        b = create_model(name, num_classes=3, **model_kwargs).state_dict()
    return [k for k in a if k in b and a[k].shape != b[k].shape]


def infer_num_classes(name: str, state: Mapping[str, torch.Tensor], model_kwargs: Mapping[str, Any]) -> int | None:
    """Classifier size of ``state`` for model ``name``, or None when its classifier key is absent."""
    for key in _classifier_keys(name, model_kwargs):
        if key in state:
            return int(state[key].shape[0])
    return None


def _add_batchnorm_counters(state: dict[str, torch.Tensor], expected: Mapping[str, torch.Tensor]) -> None:
    """Files saved before PyTorch 0.4.1 lack ``num_batches_tracked``; fill in 0, as BatchNorm's own loader does."""
    if any(k.endswith(".num_batches_tracked") for k in state):
        return
    for key in expected:
        if key.endswith(".num_batches_tracked"):
            state[key] = torch.tensor(0, dtype=torch.long)


def _aux_logits_as_in_file(name: str, state: Mapping[str, torch.Tensor], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` plus ``aux_logits=False`` when the model has auxiliary heads and the file has none.

    torchvision's ``googlenet()`` drops its auxiliary heads whenever it loads weights (``aux_logits=False``),
    so a state dict saved from it has no ``aux1.``/``aux2.`` keys. The model is then built without the heads
    and the option recorded, so the checkpoint loads back. An explicit ``aux_logits`` is left as given (and
    loading stays strict: a file with some aux keys, or any other key missing, still fails).
    """
    if "aux_logits" in kwargs or any(k.startswith(AUX_PREFIXES) for k in state):
        return kwargs
    with torch.device("meta"):
        expected = create_model(name, num_classes=2, **kwargs).state_dict()
    if any(k.startswith(AUX_PREFIXES) for k in expected):
        return {**kwargs, "aux_logits": False}
    return kwargs


def default_model_kwargs(name: str) -> dict[str, Any]:
    """Options torchvision itself applies when it loads its published weights for this model."""
    return dict(TORCHVISION_KWARGS.get(name, {}))


def import_torchvision(
    src: str | os.PathLike,
    model: str,
    out: str | os.PathLike,
    *,
    num_classes: int | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    class_names: list[str] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Convert a torchvision ``.pth`` state dict for ``model`` into ``out`` (.safetensors + .json).

    Args:
        src: torchvision checkpoint (state dict), read with ``weights_only=True``.
        model: registered model name, e.g. ``resnet50`` or ``googlenet_bn``.
        out: destination ``.safetensors`` path.
        num_classes: classifier size; inferred from the checkpoint when None.
        model_kwargs: builder options, recorded in the metadata; they override :func:`default_model_kwargs`.
            Without ``aux_logits``, a file with no auxiliary-head keys gives ``aux_logits=False``.
        class_names: class names to record; None: ImageNet's when there are 1000 classes.

    Returns:
        The written path and its metadata.
    """
    info = model_info(model)
    kwargs = {**default_model_kwargs(model), **(model_kwargs or {})}
    state = read_torchvision_state(src)
    kwargs = _aux_logits_as_in_file(model, state, kwargs)
    if num_classes is None:
        num_classes = infer_num_classes(model, state, kwargs) or 1000
    net = create_model(model, num_classes=num_classes, **kwargs)
    _add_batchnorm_counters(state, net.state_dict())
    load_state_strict(net, state, source=str(src))
    class_ids = None
    if class_names is None and num_classes == 1000:
        class_names, class_ids = imagenet_class_names(), imagenet_class_ids()
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
    meta = contract.to_meta()
    return save_weights(out, net, meta), meta


def import_torchvision_by_name(
    model: str, out: str | os.PathLike, *, model_kwargs: Mapping[str, Any] | None = None
) -> tuple[Path, dict[str, Any]]:
    """torchvision's default ImageNet weights for ``model`` (through its weights API and download cache) into
    ``out``, with their transforms, categories, ImageNet class ids and URL as the contract."""
    net, contract = torchvision_model(model, **dict(model_kwargs or {}))
    meta = contract.to_meta()
    return save_weights(out, net, meta), meta
