"""DataLoaders for 2-core machines and up, with a seeded sampler that can restart in the middle of an epoch.

The sampler's order depends only on ``(seed, epoch)``; each training sample also carries its own
augmentation seed. Resuming at step ``k`` of an epoch therefore replays exactly the batches an
uninterrupted run would have seen. Under DDP each rank takes every ``world``-th position: training
drops the tail so every rank runs the same number of steps, evaluation pads nothing, so a distributed
evaluation counts each sample exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torch.utils.data._utils.collate import default_collate

from .datasets import Unreadable

SEED_MIX = (1_000_000_007, 1_000_003)


class ResumableSampler(Sampler):
    """Seeded per-epoch order, sharded by rank, restartable at any position.

    Args:
        size: number of samples in the dataset.
        seed: run seed; epoch ``e`` uses ``torch.randperm`` seeded with ``seed + e``.
        shuffle: permute (training) or keep the natural order (evaluation).
        rank, world: this process's shard of a DDP run.
        with_seeds: yield ``(index, augmentation_seed)`` keys instead of bare indices.
    """

    def __init__(
        self, size: int, seed: int = 0, shuffle: bool = True, rank: int = 0, world: int = 1, with_seeds: bool = True
    ) -> None:
        self.size, self.seed, self.shuffle, self.rank, self.world = size, seed, shuffle, rank, world
        self.with_seeds = with_seeds
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Use ``epoch``'s order and skip its first ``start`` positions (of this rank's shard)."""
        self.epoch, self.start = epoch, start

    def positions(self) -> list[int]:
        """This rank's dataset indices for the current epoch, from position 0."""
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch))
            usable = self.size - self.size % self.world  # equal shards: every rank runs the same steps
            return order[self.rank : usable : self.world].tolist()
        return list(range(self.rank, self.size, self.world))  # no padding: each sample counted once

    def __iter__(self) -> Iterator[Any]:
        for i in self.positions()[self.start :]:
            if self.with_seeds:
                yield (i, (self.seed * SEED_MIX[0] + self.epoch * SEED_MIX[1] + i) % (2**63))
            else:
                yield i

    def __len__(self) -> int:
        return max(0, len(self.positions()) - self.start)


def collate_skip_bad(batch: list[Any]) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Stack the decodable samples; return ``(images, targets, reasons the others were skipped)``."""
    good = [b for b in batch if not isinstance(b, Unreadable)]
    bad = [b.reason for b in batch if isinstance(b, Unreadable)]
    if not good:
        return torch.empty(0), torch.empty(0, dtype=torch.long), bad
    x, y = default_collate(good)
    return x, y, bad


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # decoding workers must not fight the training threads


def build_loader(
    dataset: Dataset,
    batch_size: int,
    sampler: ResumableSampler,
    workers: int = 2,
    train: bool = True,
    device: str = "cpu",
    prefetch: int = 4,
    seed: int = 0,
) -> DataLoader:
    """A DataLoader with the settings that keep 2 cores busy: worker processes with one thread each,
    persistent between epochs, pinned memory only when batches go to CUDA. Its own generator keeps
    iterator creation from drawing on the global RNG (which dropout uses), so resumed runs stay exact."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_skip_bad,
        pin_memory=device.startswith("cuda"),
        drop_last=train,
        persistent_workers=workers > 0,
        prefetch_factor=prefetch if workers > 0 else None,
        worker_init_fn=_worker_init if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
    )


def loader_throughput(loader: DataLoader, max_batches: int = 50) -> float:
    """Images per second of the loader alone (decoding + augmentation, no model); first batch excluded."""
    it = iter(loader)
    next(it)
    n, t0 = 0, time.perf_counter()
    for i, (x, _, _) in enumerate(it):
        n += len(x)
        if i + 1 >= max_batches:
            break
    return n / max(time.perf_counter() - t0, 1e-9)
