"""Learning-rate schedules, stepped once per optimiser step.

``paper``: lr * gamma^floor(epoch / step_epochs) (Section 6: 4 % less every 8 epochs);
``poly``: lr * (1 - t/T)^power (Caffe's quick_solver, power 0.5); ``cosine``: linear warmup then
lr * (r + (1 - r) (1 + cos(pi (t - W) / (T - W))) / 2); ``onecycle``: torch's OneCycleLR formula
(:class:`OneCycle`); ``flat_cosine``: the peak rate for ``flat_fraction`` of the steps, then a cosine to
``min_lr_ratio`` (fastai's fit_flat_cos); ``constant``. A linear warmup over W steps multiplies ``constant``,
``paper``, ``poly`` and ``flat_cosine``.

Every schedule is defined for any positive number of steps, and past its last step (a finished run whose
``epochs`` is raised continues at the schedule's final value, or along the schedule re-spanned to the new total).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from ..config import TrainConfig


def lr_factor(cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    """The multiplier of ``cfg.optim.lr`` after ``t`` optimiser steps, for the LambdaLR-based schedules."""
    warmup = round(cfg.schedule.warmup_epochs * steps_per_epoch)

    def warm(t: int) -> float:
        return min(1.0, (t + 1) / warmup) if warmup > 0 else 1.0

    if cfg.schedule.name == "constant":
        return warm
    if cfg.schedule.name == "paper":
        period = cfg.schedule.step_epochs * steps_per_epoch
        return lambda t: warm(t) * cfg.schedule.step_gamma ** math.floor(t / period)
    if cfg.schedule.name == "poly":
        return lambda t: warm(t) * max(0.0, 1 - t / total_steps) ** cfg.schedule.poly_power
    if cfg.schedule.name == "cosine":
        r = cfg.schedule.min_lr_ratio

        def cosine(t: int) -> float:
            if t < warmup:
                return (t + 1) / warmup
            progress = min(1.0, (t - warmup) / max(1, total_steps - warmup))
            return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * progress))

        return cosine
    if cfg.schedule.name == "flat_cosine":  # fastai's fit_flat_cos: the peak rate, then a cosine over the last part
        r, flat = cfg.schedule.min_lr_ratio, max(warmup, round(cfg.schedule.flat_fraction * total_steps))

        def flat_cosine(t: int) -> float:
            if t < flat:
                return warm(t)
            progress = min(1.0, (t - flat) / max(1, total_steps - flat))
            return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * progress))

        return flat_cosine
    raise ValueError(f"lr_factor: {cfg.schedule.name!r} is not a LambdaLR schedule (onecycle is OneCycle's)")


class OneCycle(LambdaLR):
    """torch's ``OneCycleLR`` (two cosine phases: lr/25 up to lr over ``pct`` of the steps, then down to lr/25e4;
    momentum 0.95 -> 0.85 -> 0.95, or Adam's beta1 likewise), written so that it holds for every step count.

    ``OneCycleLR`` divides by the length of its first phase, ``pct * total - 1`` steps, which is zero when
    ``pct * total == 1`` (4 steps at pct 0.25: ZeroDivisionError) and negative below; it also raises one step
    past ``total``. Here a warm-up phase of zero length is skipped, and steps past the end keep the final value.
    The values match ``OneCycleLR`` wherever that one is defined (tested).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        momentum: tuple[float, float] = (0.85, 0.95),
    ) -> None:
        self.up_end = pct_start * total_steps - 1  # the step where the lr peaks (torch's phase boundary)
        self.last_step = total_steps - 1
        self.start, self.final = 1 / div_factor, 1 / (div_factor * final_div_factor)
        self.base_momentum, self.max_momentum = momentum
        self.cycle_momentum = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
        super().__init__(optimizer, self.factor)

    def _phase(self, t: int) -> tuple[float, float, float, float, float]:
        """``(lr from, lr to, momentum from, momentum to, fraction of the phase done)`` at step ``t``."""
        if self.up_end > 0 and t <= self.up_end:
            return self.start, 1.0, self.max_momentum, self.base_momentum, t / self.up_end
        begin = self.up_end  # torch's boundary, also when below 0 (less than a step of warm-up)
        length = self.last_step - begin
        done = min(1.0, (t - begin) / length) if length > 0 else 1.0
        return 1.0, self.final, self.base_momentum, self.max_momentum, max(0.0, done)

    def state_dict(self) -> dict:
        """Only where the schedule is (its step); its shape comes from the run's config, so a resumed run whose
        ``epochs`` was raised follows the schedule spanning the new total."""
        shape = ("up_end", "last_step", "start", "final", "base_momentum", "max_momentum", "cycle_momentum")
        return {k: v for k, v in super().state_dict().items() if k not in shape}

    @staticmethod
    def _anneal(a: float, b: float, pct: float) -> float:
        return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)

    def factor(self, t: int) -> float:
        a, b, _, _, pct = self._phase(t)
        return self._anneal(a, b, pct)

    def step(self, epoch: int | None = None) -> None:
        super().step(epoch)
        if self.cycle_momentum:
            _, _, m0, m1, pct = self._phase(self.last_epoch)
            m = self._anneal(m0, m1, pct)
            for group in self.optimizer.param_groups:
                if "betas" in group:  # Adam(W): beta1 is the momentum (torch's use_beta1)
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m


def build_scheduler(optimizer: Optimizer, cfg: TrainConfig, steps_per_epoch: int, total_steps: int) -> LRScheduler:
    """The scheduler ``cfg.schedule.name`` names, spanning ``total_steps`` optimiser steps."""
    if cfg.schedule.name == "onecycle":
        return OneCycle(optimizer, total_steps, pct_start=cfg.schedule.onecycle_pct)
    return LambdaLR(optimizer, lr_factor(cfg, steps_per_epoch, total_steps))
