"""Learning-rate schedules, stepped once per optimiser step.

``paper``: lr * gamma^floor(epoch / step_epochs) (Section 6: 4 % less every 8 epochs);
``poly``: lr * (1 - t/T)^power (Caffe's quick_solver, power 0.5); ``cosine``: linear warmup then
lr * (r + (1 - r) (1 + cos(pi (t - W) / (T - W))) / 2); ``onecycle``: torch's OneCycleLR;
``constant``. A linear warmup over W steps multiplies ``constant``, ``paper`` and ``poly``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

from .config import ConfigError, TrainConfig

SCHEDULES = ("constant", "paper", "poly", "cosine", "onecycle")


def lr_factor(cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    """The multiplier of ``cfg.lr`` after ``t`` optimiser steps, for the LambdaLR-based schedules."""
    warmup = round(cfg.warmup_epochs * steps_per_epoch)

    def warm(t: int) -> float:
        return min(1.0, (t + 1) / warmup) if warmup > 0 else 1.0

    if cfg.schedule == "constant":
        return warm
    if cfg.schedule == "paper":
        period = cfg.step_epochs * steps_per_epoch
        return lambda t: warm(t) * cfg.step_gamma ** math.floor(t / period)
    if cfg.schedule == "poly":
        return lambda t: warm(t) * max(0.0, 1 - t / total_steps) ** cfg.poly_power
    if cfg.schedule == "cosine":
        r = cfg.min_lr_ratio

        def cosine(t: int) -> float:
            if t < warmup:
                return (t + 1) / warmup
            progress = min(1.0, (t - warmup) / max(1, total_steps - warmup))
            return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * progress))

        return cosine
    raise ConfigError(f"unknown schedule {cfg.schedule!r}; choose one of {', '.join(SCHEDULES)}")


def build_scheduler(optimizer: Optimizer, cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> LRScheduler:
    """The scheduler ``cfg.schedule`` names, spanning ``total_steps`` optimiser steps."""
    if cfg.schedule == "onecycle":
        return OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total_steps, pct_start=cfg.onecycle_pct)
    return LambdaLR(optimizer, lr_factor(cfg, steps_per_epoch, total_steps))
