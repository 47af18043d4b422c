"""The detection training loop: SGD, warmup then cosine per step, resumable bit-exactly at any saved step.

Exact resume, the same way the classification engine keeps it: the order of the images is a function of
``(seed, epoch)`` alone (:func:`epoch_batches`), so a resumed run needs no loader state; ``state.pt`` holds the
weights, the optimiser's momentum, the schedule, the step, every loss so far and torch's random state (the
augmentation and the RPN / RoI samplers draw from it). A run killed after a save and resumed computes the same
losses, to the bit, as one never stopped (``tests/test_detect_resume.py``).

Several processes (``torchrun``, gloo on the CPU): each step's batch is the same as one process's, split between
the ranks (rank ``r`` takes ``batch[r::world]``), and ``DistributedDataParallel`` averages the gradients, each
rank's loss weighted by its share of the batch's images; so the recipe's batch, steps and schedule hold whatever the
number of processes. Each rank draws its augmentation and samplers from its own seed (``seed + rank``) and the
resume state keeps every rank's random state (``tests/test_detect_ddp.py``). Rank 0 evaluates and writes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from ..runtime.machine import code_version, device_name
from ..train.distributed import Dist, all_reduce_sum
from .train import collate, evaluate_detector, make_optimizer, train_step

SaveState = Callable[[dict[str, Any]], None]
ONE_PROCESS = Dist()  # no torchrun


@dataclass
class DetectionRun:
    """What :func:`train_detector` did: the loss of every step, a record per epoch, seconds of training."""

    losses: list[float] = field(default_factory=list)
    epochs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The batches (dataset indices) of ``epoch``: a permutation drawn from ``(seed, epoch)`` only."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n, generator=g).tolist()
    return [order[i : i + batch_size] for i in range(0, n, batch_size)]


def rank_share(batch: list[int], dist: Dist) -> tuple[list[int], float]:
    """This rank's images of a step's ``batch`` and the weight of its loss, so that DDP's mean over the ranks is
    the batch's mean over its images. A rank left without an image (a short last batch) runs the batch's first
    image at weight 0: every rank must take part in the step."""
    share = batch[dist.rank :: dist.world]
    if not share:
        return batch[:1], 0.0
    return share, len(share) * dist.world / len(batch)


def _gather_rng(dist: Dist, rng: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's random state, on every rank (rank 0 saves them all)."""
    if not dist.enabled:
        return [rng]
    states: list[Any] = [None] * dist.world
    torch_dist.all_gather_object(states, rng)
    return states


def warmup_cosine(warmup_steps: int, total: int) -> Callable[[int], float]:
    """The learning-rate factor at a step: linear warmup, then cosine decay to 0 at ``total``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return 0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, total - warmup_steps)))

    return factor


def train_detector(
    model: nn.Module,
    train_data: Dataset,
    *,
    epochs: int = 1,
    batch_size: int = 2,
    lr: float = 0.01,
    warmup_steps: int = 50,
    val_data: Dataset | None = None,
    class_names: list[str] | None = None,
    max_steps: int | None = None,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
    amp: str = "none",
    resume: dict[str, Any] | None = None,
    save_state: SaveState | None = None,
    save_every: int = 20,
    end_epoch: Callable[[DetectionRun], None] | None = None,
    dist: Dist = ONE_PROCESS,
) -> DetectionRun:
    """Train ``model`` on ``train_data``; evaluate on ``val_data`` (pycocotools) after each epoch when given.

    ``resume``: a state written by ``save_state`` (every ``save_every`` steps, at each epoch's end and when
    interrupted); training continues from it exactly. ``end_epoch`` is called after each epoch (records, weights).
    ``amp``: ``none`` or ``bf16`` (autocast). ``dist``: this process's rank under torchrun (the process group
    joined); ``save_state``, ``end_epoch``, ``log`` and ``val_data`` are used by rank 0 alone.
    """
    n = len(train_data)  # type: ignore[arg-type]
    per_epoch = math.ceil(n / batch_size)
    total = epochs * per_epoch if max_steps is None else min(max_steps, epochs * per_epoch)
    optimizer = make_optimizer(model, lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, epochs * per_epoch))
    run, step = DetectionRun(), 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        step, run.losses, run.epochs = int(resume["step"]), list(resume["losses"]), list(resume["epochs"])
        run.seconds = float(resume["seconds"])
        torch.set_rng_state(resume.get("rng_ranks", [resume["rng"]])[dist.rank])
    else:
        torch.manual_seed(seed + dist.rank)
    net = DistributedDataParallel(model) if dist.enabled else model
    main = dist.rank == 0

    def state(rngs: list[torch.Tensor]) -> dict[str, Any]:
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "step": step,
            "losses": list(run.losses),
            "epochs": list(run.epochs),
            "seconds": run.seconds,
            "rng": rngs[0],
            "rng_ranks": rngs,
            "world": dist.world,
            "amp": amp,
        }

    def save(rng: torch.Tensor) -> None:  # a collective under DDP: every rank calls it
        rngs = _gather_rng(dist, rng)
        if save_state is not None and main:
            save_state(state(rngs))

    started = time.perf_counter() - run.seconds
    rng, rng_step = torch.get_rng_state(), step
    try:
        while step < total:
            rng, rng_step = torch.get_rng_state(), step  # where this step draws from: a step cut short is redone
            epoch, index = divmod(step, per_epoch)
            share, weight = rank_share(epoch_batches(n, batch_size, seed, epoch)[index], dist)
            images, targets = collate([train_data[i] for i in share])
            loss = train_step(net, optimizer, images, targets, amp=amp, weight=weight)
            if dist.enabled:  # the batch's loss: each rank's weighted by its images
                loss = all_reduce_sum([loss * weight / dist.world], torch.device("cpu"))[0]
            run.losses.append(loss)
            schedule.step()
            step += 1
            run.seconds = time.perf_counter() - started
            if log and main and (step % 10 == 0 or step == total):
                parts = " ".join(f"{k}={v:.3f}" for k, v in net.last_losses.items())
                log(f"epoch {epoch + 1} step {step}/{total} loss {run.losses[-1]:.4f} ({parts})")
            if step % per_epoch == 0 or step == total:
                _end_epoch(run, epoch, per_epoch, model, val_data if main else None, class_names, log if main else None)
                if end_epoch is not None and main:
                    end_epoch(run)
                if dist.enabled:
                    torch_dist.barrier()  # the other ranks wait for rank 0's evaluation and files
                started = time.perf_counter() - run.seconds  # evaluation is not training time
                save(torch.get_rng_state())
            elif step % save_every == 0:
                save(torch.get_rng_state())
    except KeyboardInterrupt:
        # cut in a step: its start; between steps: the state now. Under DDP the ranks cannot meet any more:
        # the last periodic save stands.
        if save_state is not None and step < total and not dist.enabled:
            save_state(state([rng if step == rng_step else torch.get_rng_state()]))
        raise
    return run


def _end_epoch(
    run: DetectionRun,
    epoch: int,
    per_epoch: int,
    model: nn.Module,
    val_data: Dataset | None,
    class_names: list[str] | None,
    log: Callable[[str], None] | None,
) -> None:
    """The epoch's record: its mean loss, the training seconds so far, COCO metrics on ``val_data`` if given."""
    losses = run.losses[epoch * per_epoch :]
    record: dict[str, Any] = {
        "epoch": epoch + 1,
        "step": len(run.losses),
        "loss": sum(losses) / max(1, len(losses)),
        "seconds": round(run.seconds, 1),
        # what the epoch ran on: a resumed run may go on on another machine or code
        "machine": device_name(next(model.parameters()).device),
        "threads": torch.get_num_threads(),
        "code": code_version(),
    }
    if val_data is not None:
        record.update(evaluate_detector(model, val_data, class_names))
        if log:
            log(f"epoch {epoch + 1}: AP {record['ap']:.3f} AP50 {record['ap50']:.3f}")
    run.epochs.append(record)
