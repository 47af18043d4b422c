"""DDP set-up from the ``torchrun`` environment (gloo on CPU, NCCL on CUDA) and small collective helpers."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..device import checked_device


@dataclass(frozen=True)
class Dist:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` is this rank's GPU when there is one, else the CPU."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return checked_device(name)


def is_main_process() -> bool:
    """Rank 0 of a torchrun launch, or a single process: the one that reports (before any process group)."""
    return int(os.environ.get("RANK", "0")) == 0


def place() -> Dist:
    """This process's place in a torchrun launch, from its environment (one process without torchrun)."""
    env = os.environ
    return Dist(int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0")))


def setup(device_name: str) -> tuple[Dist, torch.device]:
    """Join the process group when launched by torchrun (``WORLD_SIZE`` > 1); return (Dist, device)."""
    here = place()
    device = resolve_device(device_name, here.local_rank)
    if here.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return here, device


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum ``values`` over all ranks (float64, so counts stay exact)."""
    if not dist.is_initialized():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def average_buffers(module: torch.nn.Module) -> None:
    """Average floating-point buffers (batch-norm running statistics) over ranks.

    DDP keeps parameters identical, but each rank's last forward pass updates its running statistics
    from its own batch; averaging them before evaluation and saving makes every rank hold the same model.
    """
    if not dist.is_initialized():
        return
    world = dist.get_world_size()
    for buf in module.buffers():
        if buf.is_floating_point():
            dist.all_reduce(buf)
            buf.div_(world)
