"""The model ``export`` works on, with its contract: from a checkpoint (PyTorch weights to build a graph from), or
by registered name."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..contract import ModelContract
from ..errors import UserError
from ..factory import create_model, default_contract
from ..weights import load_checkpoint


def resolve_model(
    checkpoint: str | None, model: str | None, model_args: dict[str, Any] | None = None, num_classes: int = 1000
) -> tuple[nn.Module, ModelContract]:
    """``(model in eval mode, contract)`` from ``checkpoint`` or from registered name ``model`` (random weights,
    :func:`~googlenet.factory.default_contract`); ``model_args`` are builder options on top."""
    if checkpoint and model:
        raise UserError("give either --checkpoint or a model name, not both")
    if checkpoint:
        net, contract, _ = load_checkpoint(checkpoint, **(model_args or {}))
        return net.eval(), contract
    if not model:
        raise UserError("give a model name or --checkpoint")
    kwargs = dict(model_args or {})
    net = create_model(model, num_classes=num_classes, **kwargs)
    return net.eval(), default_contract(model, num_classes, **kwargs)
