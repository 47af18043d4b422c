"""Weights in one place: every read and write of model weights, and the loader of every model file.

The API::

    source = resolve("runs/x/best.safetensors")        # or resolve("torchvision", model="resnet50"),
                                                        # resolve("bvlc_googlenet.caffemodel", model="googlenet")
    model, contract = load(source)                      # build the model the weights fit, load them strictly
    model, contract = load("torchvision", model="resnet50", num_classes=10)   # all but the classifier
    reset = load_into(model, source, "resnet50", {})    # fine-tuning: into a model built for the run's classes
    save("out.safetensors", model, contract)            # safetensors + its contract, atomically
    mf = open_model("exp/model.onnx")                   # any model file: .safetensors, .onnx, TorchScript, .xml
    logits = mf.forward()(batch)                        # batches prepared per mf.feed_contract

One module per format: :mod:`.checkpoint` (this project's safetensors checkpoints), :mod:`.torchvision`
(torchvision's published weights by name), :mod:`.caffe` (BVLC's ``.caffemodel``), :mod:`.pth` (PyTorch state
dicts), :mod:`.onnx_file`, :mod:`.torchscript_file` and :mod:`.openvino_file` (exported graphs); :mod:`.fit` puts
a state dict into a model, :mod:`.published` reads what the registry records about published weights (and their
figures), :mod:`.files` picks a model file's format.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..contract import ModelContract
from ..factory import create_model
from .checkpoint import contract_of, load_checkpoint, read_checkpoint, save_checkpoint
from .errors import CheckpointError, ModelFileError, PretrainedError
from .files import model_format, open_model
from .fit import classifier_keys, load_state_except_classifier, load_state_strict
from .formats import FORMATS, ModelFile, register_format
from .sources import Source, resolve
from .torchvision import load_torchvision

__all__ = [
    "FORMATS",
    "CheckpointError",
    "ModelFile",
    "ModelFileError",
    "PretrainedError",
    "Source",
    "classifier_keys",
    "contract_of",
    "convert",
    "load",
    "load_checkpoint",
    "load_into",
    "load_state_except_classifier",
    "load_state_strict",
    "model_format",
    "open_model",
    "read_checkpoint",
    "register_format",
    "resolve",
    "save",
]


def _source(spec: Source | str | os.PathLike, model: str | None) -> Source:
    return spec if isinstance(spec, Source) else resolve(spec, model)


def load(
    spec: Source | str | os.PathLike,
    model: str | None = None,
    *,
    num_classes: int | None = None,
    **options: Any,
) -> tuple[nn.Module, ModelContract]:
    """The model the weights ``spec`` fit, built and loaded, with their contract.

    Args:
        spec: a :class:`Source`, or what :func:`resolve` takes (a path, or a published tag with ``model``).
        model: the registered model (tags, ``.caffemodel`` and ``.pth`` files need it; a checkpoint names its own
            and must name this one when given).
        num_classes: None keeps the weights' classifier (strict: every key and shape); another count loads all
            but the classifier, which stays freshly initialised (recorded in the contract's ``weights["reset"]``).
        **options: builder options on top of the weights' own; for a ``.pth`` file also ``model_kwargs=`` and
            ``class_names=`` (:func:`~googlenet.weights.pth.load_pth`).
    """
    source = _source(spec, model)
    if source.kind == "torchvision":
        return load_torchvision(source.model, num_classes, **options)
    if source.kind in ("caffe", "pth"):
        return source.build(num_classes, **options)
    net, contract, _ = load_checkpoint(source.path, **options)
    if model is not None and contract.model != model:
        raise CheckpointError(f"{source.label} holds a {contract.model}, not a {model}")
    if num_classes is None or num_classes == contract.num_classes:
        return net, contract
    kwargs = dict(contract.model_kwargs)
    fresh = create_model(contract.model, num_classes, **kwargs)
    reset = load_into(fresh, source, contract.model, kwargs)
    weights = {**contract.weights, "reset": reset} if reset else dict(contract.weights)
    return fresh, contract.replace(num_classes=num_classes, class_names=None, class_ids=None, weights=weights)


def load_into(module: nn.Module, spec: Source | str | os.PathLike, model: str, kwargs: Mapping[str, Any]) -> list[str]:
    """Load the weights ``spec`` into ``module`` (registered ``model`` built with ``kwargs``, for its own classes):
    all but a classifier of another size, which keeps its initialisation. Returns the classifier keys left so."""
    source = _source(spec, model)
    label = source.label if source.kind != "torchvision" else source.spec
    return load_state_except_classifier(module, source.state(), label, classifier_keys(model, **kwargs))


def save(path: str | os.PathLike, model: nn.Module, contract: ModelContract | Mapping[str, Any]) -> Path:
    """``model``'s weights at ``path`` (.safetensors, with a .json beside it), with ``contract`` (or checkpoint
    metadata: the contract's fields plus epoch, metrics, config), atomically."""
    meta = contract.to_meta() if isinstance(contract, ModelContract) else dict(contract)
    return save_checkpoint(path, model, meta)


def convert(
    spec: str | os.PathLike, out: str | os.PathLike, model: str | None = None, **options: Any
) -> tuple[Path, dict[str, Any]]:
    """Weights from elsewhere (a ``.pth``, a ``.caffemodel``, a published tag) into a checkpoint at ``out``: the
    written path and its metadata (``googlenet import-weights``)."""
    net, contract = load(spec, model, **options)
    meta = contract.to_meta()
    return save(out, net, meta), meta
