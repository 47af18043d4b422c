"""The training loop: ``train(cfg)`` builds a run once (:mod:`~googlenet.train.setup`) and runs it.

Outputs in ``cfg.checkpoint.out``: ``best.safetensors`` / ``last.safetensors`` (+ ``ema.safetensors``), each with the
:class:`~googlenet.contract.ModelContract` of the run plus epoch, metrics and config as JSON metadata, and
``state.pt`` (resume state), written by :class:`~googlenet.train.checkpoints.RunFiles`; the
:class:`~googlenet.train.logger.RunLogger` writes ``metrics.csv``, ``steps.csv``, ``curves.png``, ``config.yaml``
and the console lines. The task (:class:`~googlenet.train.task.Classify`) is the only task-specific part.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from ..config import TrainConfig
from ..device import peak_memory_mib
from ..errors import UserError
from ..runtime.machine import code_version, device_name
from . import distributed
from .checkpoints import Progress, RunFiles
from .finetune import input_scale
from .inputs import build_inputs, report_unreadable
from .levers import precise_bn, progressive_size, resize_batch
from .logger import RunLogger
from .setup import autocast, build_parts, describe_amp, init_source, resolve_amp, setup_process
from .state import load_state
from .task import Classify


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


class Trainer:
    """One run. ``Trainer(cfg).fit()``; ``resume`` points at a run folder holding ``state.pt``."""

    def __init__(self, cfg: TrainConfig, resume: str | Path | None = None) -> None:
        self.cfg = cfg
        self.out = Path(cfg.checkpoint.out)
        self.dist, self.device = setup_process(cfg)
        state = load_state(resume) if resume is not None else None
        self.amp = resolve_amp(cfg, self.device, state)
        self.init = init_source(cfg, state)  # a resumed run reads it from its own state and loads nothing
        self.data = build_inputs(cfg, self.dist, self.device.type, self.init)
        spec = self.data.spec
        self.scale = input_scale(cfg, spec.in_chans, tuple(spec.mean), tuple(spec.std), self.init)
        self.parts = build_parts(cfg, self.data, self.dist, self.device, self.init, state is None, self.amp)
        self.task = Classify(cfg, self.parts.module)
        self.files = RunFiles(
            cfg, self.data, self.parts, self.scale, self.init, self.dist.rank, self.dist.world, self.amp
        )
        self.progress = self.files.restore(state) if state is not None else Progress()
        self.logger: RunLogger | None = None  # the main rank's, while fit() runs

    def autocast(self) -> Any:
        return autocast(self.device, self.amp)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        cfg, p, parts = self.cfg, self.progress, self.parts
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        x = resize_batch(x, progressive_size(cfg, p.epoch, x.shape[-1]))
        if parts.mix is not None:
            x, y = parts.mix(x, y)
        if cfg.precision.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            loss, correct = self.task.loss(parts.net, x, y)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"loss is {value} at step {p.global_step + 1} (epoch {p.epoch + 1}, batch {p.step_in_epoch + 1}); "
                f"lower the learning rate (lr={cfg.optim.lr}) or enable grad_clip"
            )
        parts.optimizer.zero_grad(set_to_none=True)
        parts.scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            parts.scaler.unscale_(parts.optimizer)
            nn.utils.clip_grad_norm_(parts.module.parameters(), cfg.optim.grad_clip)
        parts.scaler.step(parts.optimizer)
        parts.scaler.update()
        parts.scheduler.step()
        if parts.ema is not None:
            parts.ema.update_parameters(parts.module)
        p.sums["loss"] += value * len(y)
        p.sums["correct"] += correct
        p.sums["seen"] += len(y)
        return value

    def _bar(self) -> Any:
        p = self.progress
        tty = sys.stderr.isatty()
        return tqdm(
            total=self.data.steps_per_epoch,
            initial=p.step_in_epoch,
            desc=f"epoch {p.epoch + 1}/{self.cfg.schedule.epochs}",
            disable=not (self.cfg.log.progress and self.dist.main),
            mininterval=0.5 if tty else 30,
            dynamic_ncols=True,
            leave=tty,
        )

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; False when ``max_steps`` stopped it early."""
        cfg, p, data = self.cfg, self.progress, self.data
        self.parts.net.train()
        for m in self.parts.frozen_norms:  # freeze=features: their running statistics stay as loaded
            m.eval()
        data.train_sampler.set_epoch(p.epoch, start=p.step_in_epoch * cfg.data.batch_size)
        t0, seen0, seconds0 = time.perf_counter(), p.sums["seen"], p.sums.get("seconds", 0.0)
        with self._bar() as bar:
            for x, y, bad in data.train_loader:
                report_unreadable(bad, cfg.data.strict_data)
                p.sums["bad"] += len(bad)
                if len(x) == 0:
                    continue
                loss = self.train_step(x, y)
                p.step_in_epoch += 1
                p.global_step += 1
                p.sums["seconds"] = seconds0 + time.perf_counter() - t0
                lr = self.parts.optimizer.param_groups[0]["lr"]
                if self.logger is not None:
                    self.logger.step(p.global_step, p.epoch + 1, loss, lr)
                rate = (p.sums["seen"] - seen0) * self.dist.world / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.3g}", img_s=f"{rate:.0f}", refresh=False)
                bar.update()
                if cfg.checkpoint.save_every_steps and p.global_step % cfg.checkpoint.save_every_steps == 0:
                    self.files.save_state(p)
                if p.global_step >= data.total_steps:
                    return p.step_in_epoch >= data.steps_per_epoch
        return True

    def recompute_bn(self) -> None:
        """Precise BN: the norms' statistics averaged over the epoch's first ``precise_bn_batches`` training batches
        (the same on a resumed run), at the epoch's training size, for the raw weights and the EMA's."""
        cfg, p, parts = self.cfg, self.progress, self.parts

        def inputs() -> Any:
            self.data.train_sampler.set_epoch(p.epoch, start=0)
            for x, _, _ in itertools.islice(self.data.train_loader, cfg.optim.precise_bn_batches):
                if len(x):
                    x = resize_batch(x.to(self.device), progressive_size(cfg, p.epoch, x.shape[-1]))
                    yield x.contiguous(memory_format=torch.channels_last) if cfg.precision.channels_last else x

        # dropout draws random numbers in these forward passes: fork the generators, so that precise BN changes
        # what evaluation sees and never the training that follows
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), self.autocast():
            precise_bn(parts.module, inputs(), keep=parts.frozen_norms)
            if parts.ema is not None and not parts.frozen_norms:
                precise_bn(parts.ema.module, inputs())

    def evaluates(self) -> bool:
        """Whether this epoch's end evaluates: each ``schedule.eval_every``-th epoch, the last, a ``max_steps`` stop."""
        p, schedule = self.progress, self.cfg.schedule
        last = p.epoch + 1 >= schedule.epochs or p.global_step >= self.data.total_steps
        return last or (p.epoch + 1) % schedule.eval_every == 0

    def end_epoch(self) -> dict[str, Any]:
        """Evaluate (raw and EMA) when :meth:`evaluates`, record the epoch, write checkpoints, the logger's records
        and resume state."""
        p, s, parts = self.progress, self.progress.sums, self.parts
        seconds = s.get("seconds", 0.0)  # training time of the epoch, across resumes
        t_end = time.perf_counter()  # eval_s: what the epoch's end costs on top (precise BN, evaluation)
        evaluate = self.evaluates()
        if evaluate and self.cfg.optim.precise_bn_batches:
            self.recompute_bn()
        distributed.average_buffers(parts.module)
        if parts.ema is not None:
            distributed.average_buffers(parts.ema.module)
        bad = int(distributed.all_reduce_sum([s["bad"]], self.device)[0])
        if bad and self.logger is not None:
            self.logger.skipped(p.epoch + 1, bad)
        row: dict[str, Any] = {
            "epoch": p.epoch + 1,
            "step": p.global_step,
            "lr": parts.optimizer.param_groups[0]["lr"],
            "train_loss": s["loss"] / max(s["seen"], 1),
            "train_acc": s["correct"] / max(s["seen"], 1),
            "img_per_s": round(s["seen"] * self.dist.world / max(seconds, 1e-9), 1),
            "epoch_s": round(seconds, 1),
            "bad_images": bad,
            "peak_mem_mib": peak_memory_mib(self.device),  # this process's high-water mark so far
            "amp": self.amp,  # the precision it computed in (precision.amp=auto's choice)
            "machine": device_name(self.device),  # per epoch: a resumed run may go on on another machine
            "threads": torch.get_num_threads(),
            "code": code_version(),
        }
        strict, loader = self.cfg.data.strict_data, self.data.val_loader
        if evaluate:
            row.update(self.task.validate(parts.module, loader, self.device, self.autocast, self.dist, strict))
        if evaluate and parts.ema is not None:
            ema = self.task.validate(parts.ema, loader, self.device, self.autocast, self.dist, strict, report=False)
            row["ema_val_acc"] = ema["val_acc"]
        row["eval_s"] = round(time.perf_counter() - t_end, 1)
        p.history.append(row)
        self.files.save_weights(p, row)
        p.epoch += 1
        p.step_in_epoch = 0
        p.sums = Progress().sums
        if self.logger is not None:
            self.logger.epoch(row)
        self.files.save_state(p)
        return row

    def fit(self) -> dict[str, Any]:
        """Train to the end (or ``max_steps``) and return a summary: final metrics and output paths."""
        cfg, p = self.cfg, self.progress
        if self.dist.main:  # the run is set up: what it computes in, then its records
            print(describe_amp(self.amp, cfg.precision.amp, self.device), flush=True)
            resume_step = p.global_step if p.global_step else None
            self.logger = RunLogger(self.out, cfg, self.data.steps_per_epoch, p.history, resume_step)
        try:
            while p.epoch < cfg.schedule.epochs and p.global_step < self.data.total_steps:
                self.run_epoch()
                self.end_epoch()
        except KeyboardInterrupt:
            self.files.save_state(p)
            if self.logger is not None:
                self.logger.interrupted(p.global_step)
            raise
        finally:
            if self.logger is not None:
                self.logger.close()
                self.logger = None
        return self.summary()

    def summary(self) -> dict[str, Any]:
        last = self.progress.history[-1] if self.progress.history else {}
        return {
            "out": str(self.out),
            "final": last,
            "best_acc": self.progress.best_acc,
            "best": str(self.out / "best.safetensors"),
            "last": str(self.out / "last.safetensors"),
            "curves": str(self.out / "curves.png"),
            "steps": self.progress.global_step,
        }


def train(cfg: TrainConfig, resume: str | Path | None = None) -> dict[str, Any]:
    """Run ``cfg`` (continuing from the run folder ``resume`` if given); returns the run summary."""
    try:
        return Trainer(cfg, resume).fit()
    finally:
        distributed.teardown()
