"""Shared fixtures. Generated data (``synthetic_root``) runs everywhere; real data comes from ../shared/data (or
$GOOGLENET_DATA), and absent real data skips with a reason, never standing in for the generated one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from _synthetic import make_dataset
from googlenet.data.sources import DataNotFoundError, locate

# under pytest-xdist (make test: two worker processes) each worker takes its share of the cores
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))


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


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``synthetic/{train,test}/<class>/*.jpg``: 10 CIFAR-10 class names, 10 train and 4 test images each."""
    return make_dataset(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(params=["synthetic", "cifar10"])
def train_root(request: pytest.FixtureRequest) -> Path:
    """A training image folder: the generated one (always), then real CIFAR-10 where it is on the machine."""
    if request.param == "synthetic":
        return request.getfixturevalue("synthetic_root")
    return request.getfixturevalue("cifar10_root")
