"""Inference back ends: each turns a model into ``forward(batch NCHW float) -> logits``.

Evaluation and prediction only ever call such a ``forward``, so a back end is one factory here::

    @register_backend("onnxruntime")
    def _ort(model: nn.Module, device: torch.device, input_size: int) -> Forward: ...

Modules named in :data:`PLUGIN_MODULES` (the deployment package) are imported on first use so they can
register more back ends (ONNX Runtime, ``torch.compile``) without this file knowing them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..device import checked_device
from ..errors import UserError

Forward = Callable[[Tensor], Tensor]
BackendFactory = Callable[..., Forward]  # (model, device, input_size, **options) -> forward

BACKENDS: dict[str, BackendFactory] = {}
PLUGIN_MODULES = ("googlenet.deploy.backends",)
_plugins_loaded = False


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Register ``factory(model, device, input_size, **options) -> forward`` under ``name``.

    ``options`` carry what a back end may use and others ignore (``meta``: the checkpoint's metadata, whose
    mean/std the int8 back end calibrates with).
    """

    def wrap(factory: BackendFactory) -> BackendFactory:
        BACKENDS[name] = factory
        return factory

    return wrap


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name is None or not mod.startswith(err.name):
                raise


def available_backends() -> list[str]:
    """Names accepted by ``--backend``."""
    _load_plugins()
    return sorted(BACKENDS)


def make_forward(
    model: nn.Module,
    backend: str = "eager",
    device: str | torch.device = "cpu",
    input_size: int = 224,
    **options: object,
) -> Forward:
    """Put ``model`` in eval mode on ``device`` and wrap it in the named back end (``options``: see
    :func:`register_backend`)."""
    _load_plugins()
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r}; available: {', '.join(sorted(BACKENDS))}")
    device = checked_device(device)
    return BACKENDS[backend](model.eval().to(device), device, input_size, **options)


@register_backend("eager")
def _eager(model: nn.Module, device: torch.device, input_size: int, **_: object) -> Forward:
    def forward(x: Tensor) -> Tensor:
        return model(x.to(device))

    return forward


@register_backend("channels_last")
def _channels_last(model: nn.Module, device: torch.device, input_size: int, **_: object) -> Forward:
    model = model.to(memory_format=torch.channels_last)

    def forward(x: Tensor) -> Tensor:
        return model(x.to(device, memory_format=torch.channels_last))

    return forward
