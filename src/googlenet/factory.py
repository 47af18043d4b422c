"""Building models: by registered name (``create_model``), with weights from a checkpoint, and each model's
default :class:`~googlenet.contract.ModelContract`.

The layers, bottom up: :mod:`~googlenet.registry` (names -> builders, a leaf), :mod:`~googlenet.checkpoint`
(files), the model families, then this module, which imports every family so the registry is complete.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from .checkpoint import CheckpointError, load_state_strict, read_checkpoint
from .contract import ContractError, ModelContract
from .errors import UserError
from .models import FAMILIES
from .registry import ModelInfo, UnknownModelError, register_model
from .registry import list_models as _registered
from .registry import model_info as _entry

__all__ = [
    "FAMILIES",
    "ModelInfo",
    "UnknownModelError",
    "create_model",
    "default_contract",
    "list_models",
    "load_checkpoint",
    "load_model",
    "model_info",
    "register_model",
]


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of all registered models, optionally filtered by an fnmatch pattern."""
    return _registered(pattern)


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; raises :class:`~googlenet.registry.UnknownModelError` with suggestions."""
    return _entry(name)


def create_model(
    name: str, num_classes: int = 1000, weights: str | os.PathLike | None = None, **kwargs: Any
) -> nn.Module:
    """Build a registered model by name.

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the classifier output (0: the model returns pooled features).
        weights: path of a .safetensors checkpoint to load (strict: every key and shape must match).
        **kwargs: builder options (e.g. ``width=0.5``, ``aux_logits=False``, ``in_chans=1``).
    """
    info = model_info(name)
    try:
        model = info.builder(num_classes=num_classes, **kwargs)
    except UserError:
        raise
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as err:  # an option it refuses, or a value
        reason = " ".join(str(err).split()) or type(err).__name__
        raise UserError(f"model {name!r} cannot be built with {_options(num_classes, kwargs)}: {reason}") from None
    if weights is not None:
        tensors, _ = read_checkpoint(weights)
        load_state_strict(model, tensors, source=str(weights))
    return model


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
