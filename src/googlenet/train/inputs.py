"""The data side of a run: datasets with their transforms, the resumable loaders, and unreadable-image reports.

Validation inputs are made by the model contract the run saves (:func:`~googlenet.train.provenance.run_contract`),
so the accuracy a run records is what ``googlenet eval`` measures on its checkpoint; augmentation is the only
training-only part.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from ..config import TrainConfig
from ..data.datasets import DatasetError, DataSpec, ImageFolder, TensorImages, build_data, seeded_subset
from ..data.decode import ImageDecodeError
from ..data.loader import ResumableSampler, build_loader
from ..data.memory import decode_folder
from ..data.transforms import BatchAugment, train_transform
from ..preprocess import CentreCrop, CentreCropBatch
from . import distributed
from .finetune import InitSource, input_scale
from .provenance import model_kwargs, run_contract


def prepare_data(cfg: TrainConfig, init: InitSource | None = None) -> tuple[DataSpec, int]:
    """Datasets with their transforms and subsets applied; returns (spec, evaluation input size).

    Inputs are scaled per :func:`~googlenet.train.finetune.input_scale` (``model.input_contract``, the init weights').
    """
    # unreadable files come back as records, never as exceptions out of a worker: the loop reports or stops
    d = cfg.data
    spec = build_data(cfg.data.dataset, cfg.data.root, strict=False, download=cfg.data.download)
    size = cfg.data.input_size or spec.native_size
    eval_size = cfg.data.eval_size or size
    spec.train = seeded_subset(spec.train, cfg.data.train_subset, cfg.seed)
    spec.val = seeded_subset(spec.val, cfg.data.val_subset, cfg.seed + 1)
    if d.in_memory:
        spec.train, spec.val = (
            decode_folder(ds, lambda reasons: report_unreadable(reasons, d.strict_data))
            if isinstance(ds, ImageFolder)
            else ds
            for ds in (spec.train, spec.val)
        )
    for name, ds in (("train", spec.train), ("val", spec.val)):
        if len(ds) == 0:
            raise DatasetError(f"the {name} split of {cfg.data.dataset} is empty")
    scale = input_scale(cfg, spec.in_chans, tuple(spec.mean), tuple(spec.std), init)
    mean, std = scale.unit_mean_std()
    bgr = scale.channel_order == "BGR"
    if isinstance(spec.train, TensorImages) and d.augment in ("cifar", "none") and d.auto_augment == "none":
        spec.train.batch_transform = BatchAugment(d.augment, size, mean, std, d.padding, bgr)
    else:
        spec.train.transform = train_transform(d.augment, size, mean, std, d.padding, bgr, d.auto_augment, d.min_scale)
    # the same preprocessing `googlenet eval` applies to the checkpoints this run writes
    contract = run_contract(cfg, spec, model_kwargs(cfg, spec, init), eval_size, 0, "raw", scale=scale)
    if isinstance(spec.val, TensorImages):
        spec.val.batch_transform = CentreCropBatch(contract)
    else:
        spec.val.transform = CentreCrop(contract)
    return spec, eval_size


@dataclass
class Inputs:
    """The run's data: datasets, evaluation size, samplers and loaders, and the step counts they give."""

    spec: DataSpec
    size: int  # evaluation crop, px
    train_sampler: ResumableSampler
    val_sampler: ResumableSampler
    train_loader: Any
    val_loader: Any
    steps_per_epoch: int
    total_steps: int


def build_inputs(cfg: TrainConfig, dist: distributed.Dist, device_type: str, init: InitSource | None = None) -> Inputs:
    """Datasets (:func:`prepare_data`) and this rank's resumable loaders over them."""
    spec, size = prepare_data(cfg, init)
    train_sampler = ResumableSampler(len(spec.train), cfg.seed, True, dist.rank, dist.world)
    val_sampler = ResumableSampler(len(spec.val), cfg.seed, False, dist.rank, dist.world, with_seeds=False)
    train_loader = build_loader(
        spec.train, cfg.data.batch_size, train_sampler, cfg.data.workers, True, device_type, seed=cfg.seed
    )
    val_loader = build_loader(spec.val, cfg.data.batch_size, val_sampler, cfg.data.workers, False, device_type)
    steps_per_epoch = len(train_sampler.positions()) // cfg.data.batch_size
    if steps_per_epoch == 0:
        raise DatasetError(
            f"the train split has {len(spec.train)} images: fewer than one batch of {cfg.data.batch_size} "
            f"per process; lower batch_size"
        )
    total_steps = cfg.schedule.epochs * steps_per_epoch
    if cfg.schedule.max_steps:
        total_steps = min(total_steps, cfg.schedule.max_steps)
    return Inputs(spec, size, train_sampler, val_sampler, train_loader, val_loader, steps_per_epoch, total_steps)


def report_unreadable(reasons: list[str], strict: bool) -> None:
    """One line on stderr per skipped file, or (``strict``) stop with the first one."""
    for reason in reasons:
        if strict:
            raise ImageDecodeError(f"{reason} (strict_data: the run stops at an unreadable image)")
        print(f"skipping unreadable image: {reason}", file=sys.stderr, flush=True)
