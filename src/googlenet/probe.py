"""What a registered model accepts, found without memory or arithmetic: models on the meta device, the smallest
input a model takes, and whether it has auxiliary heads.

Counting parameters or multiply-adds of a 140M-parameter VGG needs no weights. Two things make the meta
device slow in practice, and both are skipped here: weight initialisers (their meta kernels are Python
decompositions, and their values do not exist anyway) and batch norm in eval mode (likewise a Python
decomposition, and it changes neither shapes nor the MACs counted by :mod:`googlenet.analysis.profile`).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .errors import InputSizeError
from .factory import create_model, model_info


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


def accepts_return_aux(model: nn.Module) -> bool:
    """Does ``model.forward`` take ``return_aux`` (GoogLeNet's auxiliary classifiers, run only when asked)?"""
    return "return_aux" in inspect.signature(model.forward).parameters


def _fits(model: nn.Module, size: int) -> bool:
    x = torch.zeros(1, model.in_chans, size, size, device="meta")
    try:
        model(x)
    except (RuntimeError, ValueError, IndexError):
        return False
    return True


@lru_cache(maxsize=256)
def _min_size(name: str, kwargs: tuple) -> int:
    model = meta_model(name, **dict(kwargs)).eval()
    lo, hi = 1, 2048  # invariant: hi fits (checked), every size below lo does not
    with shapes_only_batchnorm(model):
        if not _fits(model, hi):
            raise InputSizeError(f"{name} does not run even at {hi} px")
        while lo < hi:
            mid = (lo + hi) // 2
            if _fits(model, mid):
                hi = mid
            else:
                lo = mid + 1
    return lo


def min_input_size(name: str, **kwargs) -> int:
    """Smallest square input (px) that ``name`` (built with ``kwargs``) accepts, found by shape propagation.

    Uses the registry's ``min_input_size`` when set; otherwise binary-searches forward passes on the meta
    device (no memory, no arithmetic), assuming larger inputs keep fitting.
    """
    info = model_info(name)
    if info.min_input_size is not None and not kwargs:
        return info.min_input_size
    return _min_size(name, tuple(sorted(kwargs.items())))


def check_input_size(name: str, input_size: int, **kwargs) -> None:
    """Raise :class:`InputSizeError` with the minimum when ``input_size`` is too small for ``name``."""
    if input_size < 1:
        raise InputSizeError(f"input size must be a positive number of pixels, got {input_size}")
    smallest = min_input_size(name, **kwargs)
    if input_size < smallest:
        raise InputSizeError(
            f"input size {input_size} px is too small for {name}: the smallest it accepts is {smallest} px "
            f"(default {model_info(name).default_input_size} px)"
        )
