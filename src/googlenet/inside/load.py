"""Where :mod:`googlenet.inside` gets its models: the one module of the package that imports the project's
model-building and weight-loading code, so a rename there is one edit here."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from ..contract import ModelContract
from ..factory import create_model, default_contract
from ..weights import load_checkpoint

__all__ = ["from_checkpoint", "from_registry"]


def from_checkpoint(path: str | os.PathLike) -> tuple[nn.Module, ModelContract]:
    """The model a checkpoint names, its weights loaded strictly, in eval mode, and its contract."""
    model, contract, _ = load_checkpoint(path)
    return model.eval(), contract


def from_registry(name: str, num_classes: int = 1000, seed: int = 0, **kwargs: Any) -> tuple[nn.Module, ModelContract]:
    """A registered model with fresh random weights (drawn from ``seed``: the same model every time), in eval
    mode, and its default contract."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model(name, num_classes=num_classes, **kwargs)
    return model.eval(), default_contract(name, num_classes, **kwargs)
