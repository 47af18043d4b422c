"""Building models: by registered name (``create_model``), with weights from a checkpoint, and each model's
default :class:`~googlenet.contract.ModelContract`.

The layers, bottom up: :mod:`~googlenet.registry` (names -> builders, a leaf), :mod:`~googlenet.checkpoint`
(files), the model families, then this module, which imports every family so the registry is complete.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any

import torch
from torch import nn

from .checkpoint import CheckpointError, load_state_strict, read_checkpoint
from .contract import ContractError, ModelContract
from .detect import fasterrcnn as _detectors  # noqa: F401  (registers the detectors, task="detect")
from .errors import UserError
from .models import FAMILIES
from .pretrained import TORCHVISION_KWARGS, torchvision_contract, torchvision_state
from .registry import ModelInfo, UnknownModelError, register_model
from .registry import list_models as _registered
from .registry import model_info as _entry

__all__ = [
    "FAMILIES",
    "ModelInfo",
    "UnknownModelError",
    "classifier_keys",
    "create_model",
    "default_contract",
    "list_models",
    "load_checkpoint",
    "load_model",
    "load_pretrained",
    "model_info",
    "register_model",
]


def list_models(pattern: str | None = None, task: str | None = "classify") -> list[str]:
    """Sorted names of the registered models of ``task`` (``"detect"``; None: all), optionally filtered by an
    fnmatch pattern."""
    return _registered(pattern, task)


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; raises :class:`~googlenet.registry.UnknownModelError` with suggestions."""
    return _entry(name)


def create_model(
    name: str, num_classes: int = 1000, weights: str | os.PathLike | None = None, **kwargs: Any
) -> nn.Module:
    """Build a registered model by name.

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the classifier output (0: the model returns pooled features, timm's convention).
        weights: path of a .safetensors checkpoint to load (strict: every key and shape must match), or
            ``"torchvision"``: torchvision's published ImageNet weights for a model with a torchvision twin
            (``resnet50``, ``googlenet_bn``...), from its download cache; with ``num_classes`` other than the
            weights' own, everything but the classifier is loaded (:func:`load_pretrained`).
        **kwargs: builder options (e.g. ``width=0.5``, ``aux_logits=False``, ``in_chans=1``).
    """
    if isinstance(weights, str) and weights == "torchvision":
        return torchvision_model(name, num_classes, **kwargs)[0]
    model = _build(name, num_classes, kwargs)
    if weights is not None:
        tensors, _ = read_checkpoint(weights)
        load_state_strict(model, tensors, source=str(weights))
    return model


def _build(name: str, num_classes: int, kwargs: dict[str, Any]) -> nn.Module:
    info = model_info(name)
    try:
        return info.builder(num_classes=num_classes, **kwargs)
    except UserError:
        raise
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as err:  # an option it refuses, or a value
        reason = " ".join(str(err).split()) or type(err).__name__
        raise UserError(f"model {name!r} cannot be built with {_options(num_classes, kwargs)}: {reason}") from None


def torchvision_model(name: str, num_classes: int | None = None, **kwargs: Any) -> tuple[nn.Module, ModelContract]:
    """``name`` with torchvision's published weights, and their contract (transforms, categories, provenance).

    Builder options torchvision applies with its weights (``transform_input`` for ``googlenet_bn``) are set unless
    given. ``num_classes`` None or equal to the weights' keeps their classifier; another count loads everything
    else and leaves a fresh classifier (recorded in the contract's ``weights["reset"]``).
    """
    in_chans = int(kwargs.get("in_chans", 3))
    if in_chans != 3:
        raise UserError(f"torchvision's {name} weights take 3 input channels, not in_chans={in_chans}")
    state, weights = torchvision_state(name)
    fields = torchvision_contract(weights)
    kwargs = {**TORCHVISION_KWARGS.get(name, {}), **kwargs}
    if "aux_logits" not in kwargs and not any(k.startswith(AUX_PREFIXES) for k in state):
        with torch.device("meta"):
            if any(k.startswith(AUX_PREFIXES) for k in _build(name, 2, kwargs).state_dict()):
                kwargs["aux_logits"] = False  # a file without auxiliary heads
    k = fields["num_classes"] if num_classes is None else num_classes
    model = _build(name, k, kwargs)
    reset = load_pretrained(model, state, weights.url, classifier_keys(name, **kwargs))
    provenance = {**fields["weights"], **({"reset": reset} if reset else {})}
    if k != fields["num_classes"]:
        fields = {f: v for f, v in fields.items() if f not in ("class_names", "class_ids")}
    contract = ModelContract(model=name, **{**fields, "num_classes": k, "weights": provenance}, model_kwargs=kwargs)
    return model, contract


AUX_PREFIXES = ("aux1.", "aux2.")


def classifier_keys(name: str, **kwargs: Any) -> list[str]:
    """State-dict keys whose shape depends on the class count: the main and auxiliary classifiers.

    Found by building the model twice on the meta device (no memory, no arithmetic that matters).
    """
    with torch.device("meta"):
        a = _build(name, 2, kwargs).state_dict()
        b = _build(name, 3, kwargs).state_dict()
    return [k for k in a if k in b and a[k].shape != b[k].shape]


def load_pretrained(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str, classifier: Collection[str]
) -> list[str]:
    """Load ``state`` into ``model``: every key and shape must fit, except ``classifier`` keys of another shape (or
    absent), which keep the model's fresh initialisation, and auxiliary heads the model does not have.

    Returns the classifier keys left at initialisation (a model built with ``num_classes=0`` has no classifier:
    the file's is dropped). Any other mismatch is a one-line
    :class:`~googlenet.checkpoint.CheckpointError` naming the first key.
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
    if any(k.endswith(".num_batches_tracked") for k in own) and not any(
        k.endswith(".num_batches_tracked") for k in fitted
    ):  # files saved before PyTorch 0.4.1 lack the counters; BatchNorm's own loader fills in 0
        fitted.update({k: torch.tensor(0, dtype=torch.long) for k in own if k.endswith(".num_batches_tracked")})
    load_state_strict(model, fitted, source=source)
    return reset


def _options(num_classes: int, kwargs: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in {"num_classes": num_classes, **kwargs}.items())
    return shown if shown.isprintable() else repr(shown)


def default_contract(name: str, num_classes: int = 1000, **kwargs: Any) -> ModelContract:
    """The contract of a freshly built ``name``: the registry's input size, ImageNet's RGB mean/std (0.5 per
    channel for another channel count), random weights."""
    info = model_info(name)
    in_chans = int(kwargs.get("in_chans", 3))
    meta = {"model": name, "num_classes": num_classes, "model_kwargs": kwargs, "in_chans": in_chans}
    return ModelContract.from_meta(meta, input_size=info.default_input_size)


def contract_of(meta: dict[str, Any], source: str | os.PathLike = "checkpoint") -> ModelContract:
    """The contract in checkpoint metadata, its missing fields filled from the registry's defaults."""
    if not isinstance(meta.get("model"), str):
        raise CheckpointError(
            f"{source} has no googlenet metadata naming its model; load it with create_model(weights=)"
        )
    info = model_info(meta["model"])
    if info.task != "classify":
        raise CheckpointError(
            f"{source} is a {info.name} detection checkpoint, not a classifier: use `googlenet detect eval` or "
            "`googlenet detect predict`"
        )
    try:
        return ModelContract.from_meta(meta, input_size=info.default_input_size)
    except ContractError as err:
        raise CheckpointError(f"{source}: {err}") from None


def load_model(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, ModelContract, dict[str, Any]]:
    """Build the model a checkpoint names (its num_classes and builder options), load its weights strictly.

    Returns ``(model, contract, metadata)``; the metadata also holds what is not contract (epoch, metrics,
    the training config). ``overrides`` are builder options on top of the saved ones.
    """
    tensors, meta = read_checkpoint(path)
    contract = contract_of(meta, path)
    kwargs = {**contract.model_kwargs, **overrides}
    model = create_model(contract.model, num_classes=contract.num_classes, **kwargs)
    load_state_strict(model, tensors, source=str(path))
    if overrides:
        contract = contract.replace(model_kwargs=kwargs)
    return model, contract, meta


def load_checkpoint(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """``(model, metadata)`` of a checkpoint: :func:`load_model` without the contract."""
    model, _, meta = load_model(path, **overrides)
    return model, meta
