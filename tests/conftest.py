"""Shared fixtures. Real data comes from ../shared/data (or $GOOGLENET_DATA); absent data skips with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from googlenet.data.sources import DataNotFoundError, locate

torch.set_num_threads(min(2, os.cpu_count() or 1))


def _dataset(name: str) -> Path:
    try:
        return locate(name)
    except DataNotFoundError as err:
        pytest.skip(f"real data not on this machine: {err}")


@pytest.fixture(scope="session")
def cifar10_root() -> Path:
    """``cifar10/{train,test}/<class>/*.jpg`` (extracted once into the cache)."""
    return _dataset("cifar10")


@pytest.fixture(scope="session")
def imagenette128_root() -> Path:
    """``imagenette2-128/{train,val}/<wnid>/*.jpg`` (extracted once into the cache)."""
    return _dataset("imagenette2-128")
