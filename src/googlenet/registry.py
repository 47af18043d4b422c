"""Model registry (a leaf: it imports no model and nothing of the package but its errors).

Every builder registered here is part of the test matrix for free::

    @register_model
    def googlenet(num_classes: int = 1000, **kwargs) -> nn.Module: ...

Building and listing go through :mod:`googlenet.factory`, which imports every model family first
(``create_model("googlenet", num_classes=10)``); the functions here see only what is registered so far.

Weights someone published for a model are data on its entry (:class:`PublishedWeights`, as timm's
``default_cfgs`` and torchvision's ``Weights`` enums): where they come from, what they need, and the figures
their publisher reports. :mod:`googlenet.weights` reads them; nothing else keeps a copy.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from torch import nn

from .errors import UserError

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class PublishedWeights:
    """Weights published for a registered model by someone else, and what they say about them.

    Attributes:
        tag: the name that picks them (``init_weights=torchvision``, ``googlenet.weights.resolve("bvlc", ...)``).
        source: the contract's ``weights["source"]`` once loaded: ``"torchvision"`` or ``"caffe"``.
        publisher: who published them, for cards.
        ref: torchvision's builder of the same architecture (its default weights are these), or the file name
            BVLC publishes.
        url: where the file is downloaded from.
        sha1: the file's SHA-1 as the publisher gives it (BVLC's readme files).
        model_kwargs: builder options the weights need (torchvision's GoogLeNet: ``transform_input=True``).
        top1, top5: ILSVRC-2012 val accuracy (%) as the publisher reports it; None where the figures travel
            with the publisher's own metadata (torchvision's ``Weights.meta``).
        evaluation: how the publisher measured them.
    """

    tag: str
    source: str
    publisher: str
    ref: str
    url: str = ""
    sha1: str = ""
    model_kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    top1: float | None = None
    top5: float | None = None
    evaluation: str = ""


def torchvision_weights(twin: str, **model_kwargs: Any) -> PublishedWeights:
    """torchvision's default ImageNet weights of builder ``twin`` (the same architecture, the same keys)."""
    return PublishedWeights(
        "torchvision", "torchvision", "torchvision", twin, model_kwargs=MappingProxyType(dict(model_kwargs))
    )


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without building it."""

    name: str
    builder: ModelBuilder
    family: str
    default_input_size: int = 224
    min_input_size: int | None = None  # None: found by probing shapes on the meta device
    weights: tuple[PublishedWeights, ...] = field(default_factory=tuple)
    task: str = "classify"  # or "detect" (a detector): listed only by list_models(task="detect") or task=None

    def published(self, tag: str) -> PublishedWeights | None:
        """The published weights tagged ``tag``, or None."""
        return next((w for w in self.weights if w.tag == tag), None)

    @property
    def doc(self) -> str:
        return (self.builder.__doc__ or "").strip().splitlines()[0] if self.builder.__doc__ else ""


_REGISTRY: dict[str, ModelInfo] = {}


class UnknownModelError(UserError, KeyError):
    """Raised for a model name that is not registered; the message lists close names."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


def register_model(
    fn: ModelBuilder | None = None,
    *,
    family: str | None = None,
    default_input_size: int = 224,
    min_input_size: int | None = None,
    weights: tuple[PublishedWeights, ...] = (),
    task: str = "classify",
) -> ModelBuilder | Callable[[ModelBuilder], ModelBuilder]:
    """Register a model builder under its function name, with the weights published for it. Usable bare or with
    keyword options.

    ``task="detect"`` registers a detector (:mod:`googlenet.detect`): buildable by name like any model, but
    left out of :func:`list_models`'s default listing, which the classification commands and tests iterate.
    """

    def wrap(builder: ModelBuilder) -> ModelBuilder:
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        fam = family or builder.__module__.rsplit(".", 1)[-1]
        _REGISTRY[name] = ModelInfo(name, builder, fam, default_input_size, min_input_size, tuple(weights), task)
        return builder

    return wrap(fn) if fn is not None else wrap


def list_models(pattern: str | None = None, task: str | None = "classify") -> list[str]:
    """Sorted names of the registered models of ``task`` (None: every task), optionally filtered by an fnmatch
    pattern."""
    names = sorted(n for n, info in _REGISTRY.items() if task is None or info.task == task)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; raises :class:`UnknownModelError` with suggestions."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Run `googlenet models` for the full list ({len(_REGISTRY)} models)."
        ) from None
