"""Model registry: every builder registered here is part of the test matrix for free.

@register_model
def googlenet(num_classes: int = 1000, **kwargs) -> nn.Module: ...

model = create_model("googlenet", num_classes=10)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from .errors import UserError

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model without building it."""

    name: str
    builder: ModelBuilder
    family: str
    default_input_size: int = 224
    min_input_size: int | None = None  # None: found by probing shapes on the meta device
    tags: tuple[str, ...] = field(default_factory=tuple)

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
    tags: tuple[str, ...] = (),
) -> ModelBuilder | Callable[[ModelBuilder], ModelBuilder]:
    """Register a model builder under its function name. Usable bare or with keyword options."""

    def wrap(builder: ModelBuilder) -> ModelBuilder:
        name = builder.__name__
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        fam = family or builder.__module__.rsplit(".", 1)[-1]
        _REGISTRY[name] = ModelInfo(name, builder, fam, default_input_size, min_input_size, tuple(tags))
        return builder

    return wrap(fn) if fn is not None else wrap


def _ensure_loaded() -> None:
    from . import models  # noqa: F401  (importing registers every family)


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of all registered models, optionally filtered by an fnmatch pattern."""
    import fnmatch

    _ensure_loaded()
    names = sorted(_REGISTRY)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def model_info(name: str) -> ModelInfo:
    """Registry entry for ``name``; raises :class:`UnknownModelError` with suggestions."""
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}.{hint} Run `googlenet models` for the full list ({len(_REGISTRY)} models)."
        ) from None


def create_model(name: str, num_classes: int = 1000, weights: str | None = None, **kwargs) -> nn.Module:
    """Build a registered model by name.

    Args:
        name: a name from :func:`list_models`.
        num_classes: size of the classifier output.
        weights: path of a .safetensors checkpoint to load (strict: every key and shape must match).
        **kwargs: builder options (e.g. ``width=0.5``, ``aux_logits=False``).
    """
    info = model_info(name)
    try:
        model = info.builder(num_classes=num_classes, **kwargs)
    except TypeError as err:
        raise UserError(f"model {name!r} does not accept these options: {err}") from None
    if weights is not None:
        from .checkpoint import load_state_strict, read_checkpoint

        tensors, _ = read_checkpoint(weights)
        load_state_strict(model, tensors, source=str(weights))
    return model
