"""Loader-only throughput: is decoding and augmentation fast enough to feed the model?"""

from __future__ import annotations

from typing import NamedTuple

from ..config import TrainConfig
from ..data.loader import ResumableSampler, build_loader, loader_throughput
from .inputs import prepare_data


class LoaderSpeed(NamedTuple):
    rate: float  # images per second
    train_images: int  # the training set's size (the images of one epoch)


def loader_speed(cfg: TrainConfig, batches: int = 30) -> LoaderSpeed:
    """Images per second the training loader of ``cfg`` delivers with no model attached, and its image count."""
    spec, _ = prepare_data(cfg)
    sampler = ResumableSampler(len(spec.train), cfg.seed)
    loader = build_loader(spec.train, cfg.data.batch_size, sampler, cfg.data.workers, True)
    return LoaderSpeed(loader_throughput(loader, batches), len(spec.train))
