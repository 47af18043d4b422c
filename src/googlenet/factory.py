"""Building models by registered name (``create_model``) and each model's default
:class:`~googlenet.contract.ModelContract`.

The layers, bottom up: :mod:`~googlenet.registry` (names -> builders, a leaf), the model families, then this module,
which imports every family so the registry is complete. Weights (checkpoints, published weights) are
:mod:`googlenet.weights`'s, one layer up.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .contract import ModelContract
from .errors import UserError
from .models import FAMILIES
from .registry import ModelInfo, PublishedWeights, UnknownModelError, register_model
from .registry import list_models as _registered
from .registry import model_info as _entry

__all__ = [
    "AUX_PREFIXES",
    "FAMILIES",
    "ModelInfo",
    "PublishedWeights",
    "UnknownModelError",
    "create_model",
    "default_contract",
    "list_models",
    "model_info",
    "register_model",
]

AUX_PREFIXES = ("aux1.", "aux2.")  # state-dict keys of GoogLeNet's auxiliary classifiers


def list_models(pattern: str | None = None, task: str | None = "classify") -> list[str]:
    """Sorted names of the registered models of ``task`` (``"detect"``; None: all), optionally filtered by an
    fnmatch pattern."""
    return _registered(pattern, task)


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; raises :class:`~googlenet.registry.UnknownModelError` with suggestions."""
    return _entry(name)


def create_model(name: str, num_classes: int = 1000, **kwargs: Any) -> nn.Module:
    """Build a registered model by name, with fresh (random) weights.

    Weights come from :func:`googlenet.weights.load` (a checkpoint, or published weights by name).

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the classifier output (0: the model returns pooled features, timm's convention).
        **kwargs: builder options (e.g. ``width=0.5``, ``aux_logits=False``, ``in_chans=1``).
    """
    info = model_info(name)
    try:
        return info.builder(num_classes=num_classes, **kwargs)
    except UserError:
        raise
    except (TypeError, ValueError, ArithmeticError, RuntimeError) as err:  # an option it refuses, or a value
        reason = " ".join(str(err).split()) or type(err).__name__
        raise UserError(f"model {name!r} cannot be built with {_options(num_classes, kwargs)}: {reason}") from None


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
