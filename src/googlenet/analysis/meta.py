"""Models as shapes only: built on the meta device, with no memory and no arithmetic.

Counting parameters or multiply-adds of a 140M-parameter VGG needs no weights. Two things make the meta
device slow in practice, and both are skipped here: weight initialisers (their meta kernels are Python
decompositions, and their values do not exist anyway) and batch norm in eval mode (likewise a Python
decomposition, and it changes neither shapes nor the MACs counted by :mod:`googlenet.analysis.profile`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..factory import create_model


class _SkipMetaInit(TorchFunctionMode):
    """Turn in-place tensor ops (``normal_``, ``uniform_``, ``zero_``...) on meta tensors into no-ops."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name.endswith("_") and not name.endswith("__") and args and isinstance(args[0], Tensor) and args[0].is_meta:
            return args[0]
        return func(*args, **(kwargs or {}))


def meta_model(name: str, num_classes: int = 1000, **kwargs: Any) -> nn.Module:
    """Build registered model ``name`` on the meta device, skipping weight initialisation."""
    with torch.device("meta"), _SkipMetaInit():
        return create_model(name, num_classes=num_classes, **kwargs)


def _identity(x: Tensor) -> Tensor:
    return x


@contextmanager
def shapes_only_batchnorm(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, batch-norm layers of ``model`` pass their input through (parameters stay counted)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.forward = _identity
    try:
        yield model
    finally:
        for m in norms:
            del m.forward
