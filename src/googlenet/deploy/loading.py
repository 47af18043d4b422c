"""Building the model a deploy command works on: from a checkpoint, or by registered name."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import UserError


def resolve_model(
    checkpoint: str | None, model: str | None, model_args: dict[str, Any] | None = None, num_classes: int = 1000
) -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode, metadata)`` from ``checkpoint`` or from registered name ``model`` (random init).

    The metadata of a bare model holds its name, kwargs and default input size; no class names.
    """
    from ..factory import load_checkpoint
    from ..factory import create_model, model_info

    if checkpoint and model:
        raise UserError("give either --checkpoint or a model name, not both")
    if checkpoint:
        net, meta = load_checkpoint(checkpoint, **(model_args or {}))
        return net.eval(), meta
    if not model:
        raise UserError("give a model name or --checkpoint")
    kwargs = dict(model_args or {})
    net = create_model(model, num_classes=num_classes, **kwargs)
    meta = {
        "model": model,
        "num_classes": num_classes,
        "model_kwargs": kwargs,
        "input_size": model_info(model).default_input_size,
    }
    return net.eval(), meta
