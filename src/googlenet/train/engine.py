"""The training loop: ``train(cfg)`` builds data, model and optimiser from a :class:`TrainConfig` and runs.

Outputs in ``cfg.out``: ``best.safetensors`` / ``last.safetensors`` (+ ``ema.safetensors``), each with the
:class:`~googlenet.contract.ModelContract` of the run plus epoch, metrics and config as JSON metadata, and
``state.pt`` (resume state); the :class:`~googlenet.train.logger.RunLogger` writes ``metrics.csv``,
``steps.csv``, ``curves.png``, ``config.yaml`` and the console lines.
"""

from __future__ import annotations

import inspect
import itertools
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from ..analysis.profile import check_input_size
from ..checkpoint import CheckpointError, save_weights
from ..contract import ModelContract
from ..data.datasets import DatasetError, DataSpec, TensorImages, build_data, seeded_subset
from ..data.decode import ImageDecodeError
from ..data.loader import ResumableSampler, build_loader
from ..data.transforms import BatchAugment, train_transform
from ..device import peak_memory_mib
from ..errors import InputSizeError, UserError
from ..factory import create_model
from ..preprocess import CentreCrop
from . import distributed
from .config import ConfigError, TrainConfig
from .finetune import (
    InitSource,
    InputScale,
    check_options,
    classifier_parameters,
    freeze_features,
    input_scale,
    load_init,
    param_groups,
    resolve_init,
    source_kwargs,
)
from .levers import (
    batch_mix,
    build_optimizer,
    hard_labels,
    precise_bn,
    progressive_size,
    resize_batch,
    zero_init_last_bn,
)
from .logger import RunLogger
from .schedules import build_scheduler
from .state import load_state, rng_state, save_state, set_rng_state


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


@dataclass
class Progress:
    """Where the run is; saved in the resume state."""

    epoch: int = 0  # current epoch, 0-based
    step_in_epoch: int = 0  # optimiser steps done in the current epoch
    global_step: int = 0
    best_acc: float = -1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    # the epoch so far; "seconds" is its training time, so a resumed epoch's images/s leaves out the time it was down
    sums: dict[str, float] = field(
        default_factory=lambda: {"loss": 0.0, "correct": 0.0, "seen": 0.0, "bad": 0.0, "seconds": 0.0}
    )


def prepare_data(cfg: TrainConfig, init: InitSource | None = None) -> tuple[DataSpec, int]:
    """Datasets with their transforms and subsets applied; returns (spec, evaluation input size).

    Inputs are scaled per :func:`~googlenet.train.finetune.input_scale` (``cfg.input_contract``, the init weights').
    """
    # unreadable files come back as records, never as exceptions out of a worker: the loop reports or stops
    spec = build_data(cfg.dataset, cfg.data, strict=False, download=cfg.download)
    size = cfg.input_size or spec.native_size
    eval_size = cfg.eval_size or size
    spec.train = seeded_subset(spec.train, cfg.train_subset, cfg.seed)
    spec.val = seeded_subset(spec.val, cfg.val_subset, cfg.seed + 1)
    for name, ds in (("train", spec.train), ("val", spec.val)):
        if len(ds) == 0:
            raise DatasetError(f"the {name} split of {cfg.dataset} is empty")
    scale = input_scale(cfg, spec.in_chans, tuple(spec.mean), tuple(spec.std), init)
    mean, std = scale.unit_mean_std()
    bgr = scale.channel_order == "BGR"
    if isinstance(spec.train, TensorImages) and cfg.augment in ("cifar", "none") and cfg.auto_augment == "none":
        spec.train.batch_transform = BatchAugment(cfg.augment, size, mean, std, cfg.padding, bgr)
    else:
        spec.train.transform = train_transform(cfg.augment, size, mean, std, cfg.padding, bgr, cfg.auto_augment)
    if isinstance(spec.val, TensorImages):
        spec.val.batch_transform = BatchAugment("none", eval_size, mean, std, bgr=bgr)
    else:
        # the same preprocessing `googlenet eval` applies to the checkpoints this run writes
        contract = run_contract(cfg, spec, model_kwargs(cfg, spec, init), eval_size, 0, "raw", scale=scale)
        spec.val.transform = CentreCrop(contract)
    return spec, eval_size


def model_kwargs(cfg: TrainConfig, spec: DataSpec, init: InitSource | None = None) -> dict[str, Any]:
    """The builder options of the run's model: the init weights' (if any), the config's on top, ``in_chans``."""
    kwargs = source_kwargs(init, dict(cfg.model_kwargs))
    if spec.in_chans != 3:
        kwargs.setdefault("in_chans", spec.in_chans)
    return kwargs


def run_contract(
    cfg: TrainConfig,
    spec: DataSpec,
    kwargs: dict[str, Any],
    eval_size: int,
    epoch: int,
    kind: str,
    scale: InputScale | None = None,
    init: InitSource | None = None,
) -> ModelContract:
    """The contract of weights this run trained: its model, classes, and the evaluation preprocessing it used.

    Args:
        cfg: the run's config (model, dataset, crop fraction).
        spec: the data it trained on (classes, channels, mean and std in 0-1 units, RGB).
        kwargs: the builder options of the model (``in_chans`` among them when not 3).
        eval_size: the crop side the validation set was evaluated at, px.
        epoch: epochs done (1-based), recorded in ``weights``.
        kind: "raw" or "ema" (the averaged weights).
        scale: the input scale (default: the dataset's RGB 0-1 mean and std).
        init: the weights the run started from, recorded under ``weights["init"]``.
    """
    scale = scale or InputScale(1.0, "RGB", tuple(spec.mean), tuple(spec.std))
    weights: dict[str, Any] = {"source": "trained", "dataset": cfg.dataset, "epoch": epoch, "kind": kind}
    if init is not None:
        weights["init"] = init.record()
    return ModelContract(
        model=cfg.model,
        num_classes=len(spec.classes),
        model_kwargs=kwargs,
        class_names=tuple(spec.classes),
        input_size=eval_size,
        in_chans=spec.in_chans,
        pixel_range=scale.pixel_range,
        channel_order=scale.channel_order,
        mean=scale.mean,
        std=scale.std,
        resize="shorter",
        crop_fraction=cfg.crop_fraction,
        interpolation="bilinear",
        weights=weights,
    )


def has_aux(model: nn.Module) -> bool:
    return "return_aux" in inspect.signature(model.forward).parameters


def compute_loss(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, aux: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Main cross-entropy plus ``aux_weight`` x each auxiliary classifier's; returns (loss, main logits).

    ``y`` holds class indices, or class probabilities (MixUp/CutMix)."""
    if aux:
        logits, aux_logits = model(x, return_aux=True)
    else:
        logits, aux_logits = model(x), ()
    loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    for a in aux_logits:
        loss = loss + cfg.aux_weight * F.cross_entropy(a, y, label_smoothing=cfg.label_smoothing)
    return loss, logits


def report_unreadable(reasons: list[str], strict: bool) -> None:
    """One line on stderr per skipped file, or (``strict``) stop with the first one."""
    for reason in reasons:
        if strict:
            raise ImageDecodeError(f"{reason} (strict_data: the run stops at an unreadable image)")
        print(f"skipping unreadable image: {reason}", file=sys.stderr, flush=True)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Any,
    device: torch.device,
    autocast: Any,
    dist: distributed.Dist,
    strict: bool = False,
    report: bool = True,
) -> dict[str, float]:
    """Loss, top-1 and top-5 over this rank's shard, summed over ranks (each sample counted once)."""
    model.eval()
    loss = correct = top5 = count = 0.0
    for x, y, bad in loader:
        if report or strict:
            report_unreadable(bad, strict)
        if len(x) == 0:
            continue
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with autocast():
            logits = model(x).float()
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        correct += (top[:, 0] == y).sum().item()
        top5 += (top == y[:, None]).any(dim=1).sum().item()
        count += len(y)
    loss, correct, top5, count = distributed.all_reduce_sum([loss, correct, top5, count], device)
    return {"val_loss": loss / count, "val_acc": correct / count, "val_top5": top5 / count, "val_count": int(count)}


class Trainer:
    """One run. ``Trainer(cfg).fit()``; ``resume`` points at a run folder holding ``state.pt``."""

    def __init__(self, cfg: TrainConfig, resume: str | Path | None = None) -> None:
        self.cfg = cfg
        self.out = Path(cfg.out)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.dist, self.device = distributed.setup(cfg.device)
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("amp=fp16 needs CUDA; use amp=bf16 on the CPU")
        if cfg.amp not in ("none", "bf16", "fp16"):
            raise ConfigError(f"amp must be none, bf16 or fp16, got {cfg.amp!r}")
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        check_options(cfg)
        state = load_state(resume) if resume is not None else None
        # fine-tuning: the source of the weights; a resumed run reads it from its own state (and loads nothing)
        if state is None:
            self.init = resolve_init(cfg)
        else:
            self.init = InitSource.from_state(state["init"]) if state.get("init") else None
        self.spec, self.size = prepare_data(cfg, self.init)
        self.scale = input_scale(cfg, self.spec.in_chans, tuple(self.spec.mean), tuple(self.spec.std), self.init)
        self._build_loaders()
        self._build_model(fresh=state is None)
        self.progress = Progress()
        self.logger: RunLogger | None = None  # the main rank's, while fit() runs
        if state is not None:
            self._restore(state)

    # ---- construction -------------------------------------------------------------------------------
    def _build_loaders(self) -> None:
        cfg, d = self.cfg, self.dist
        self.train_sampler = ResumableSampler(len(self.spec.train), cfg.seed, True, d.rank, d.world)
        self.val_sampler = ResumableSampler(len(self.spec.val), cfg.seed, False, d.rank, d.world, with_seeds=False)
        dev = self.device.type
        self.train_loader = build_loader(
            self.spec.train, cfg.batch_size, self.train_sampler, cfg.workers, True, dev, seed=cfg.seed
        )
        self.val_loader = build_loader(self.spec.val, cfg.batch_size, self.val_sampler, cfg.workers, False, dev)
        self.steps_per_epoch = len(self.train_sampler.positions()) // cfg.batch_size
        if self.steps_per_epoch == 0:
            raise DatasetError(
                f"the train split has {len(self.spec.train)} images: fewer than one batch of {cfg.batch_size} "
                f"per process; lower batch_size"
            )
        self.total_steps = cfg.epochs * self.steps_per_epoch
        if cfg.max_steps:
            self.total_steps = min(self.total_steps, cfg.max_steps)

    def _build_model(self, fresh: bool = True) -> None:
        cfg = self.cfg
        self.kwargs = model_kwargs(cfg, self.spec, self.init)
        # a crop too small for the network is a one-line error now, not a pooling traceback at step 1
        train_size = cfg.input_size or self.spec.native_size
        check_input_size(cfg.model, min(train_size, self.size), **self.kwargs)
        first = progressive_size(cfg, 0, train_size)
        try:
            check_input_size(cfg.model, first, **self.kwargs)
        except InputSizeError as err:
            raise ConfigError(
                f"progressive_min_size={cfg.progressive_min_size} (first epoch at {first} px): {err}"
            ) from None
        model = create_model(cfg.model, num_classes=len(self.spec.classes), **self.kwargs)
        if cfg.zero_init_bn and fresh:
            zero_init_last_bn(model)
        if self.init is not None and fresh:
            load_init(model, self.init, cfg.model, self.kwargs)
        classifier = classifier_parameters(model, cfg.model, self.kwargs)
        self.frozen_norms = freeze_features(model, classifier) if cfg.freeze == "features" else []
        model = model.to(self.device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.module = model
        self.aux = has_aux(model)
        self.ema = None
        if cfg.ema_decay > 0:
            self.ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
        self.optimizer = build_optimizer(param_groups(model, cfg, classifier), cfg)
        self.mix = batch_mix(cfg, len(self.spec.classes))
        self.scheduler = build_scheduler(self.optimizer, cfg, self.steps_per_epoch, self.total_steps)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.amp == "fp16")
        net: nn.Module = model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = DistributedDataParallel(model, device_ids=ids)
        self.net = torch.compile(net) if cfg.compile else net

    def autocast(self) -> Any:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.cfg.amp)
        return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

    # ---- resume state -------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        p = self.progress
        return {
            "format": 1,
            "config": self.cfg.to_dict(),
            "world_size": self.dist.world,  # the global batch and each rank's shard depend on it
            "global_batch": self.cfg.batch_size * self.dist.world,
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": rng_state(),
            "init": self.init.to_state() if self.init is not None else None,
            "progress": {
                "epoch": p.epoch,
                "step_in_epoch": p.step_in_epoch,
                "global_step": p.global_step,
                "best_acc": p.best_acc,
                "history": p.history,
                "sums": p.sums,
            },
        }

    def _restore(self, state: dict[str, Any]) -> None:
        world = int(state.get("world_size", 1))
        if world != self.dist.world:
            raise CheckpointError(
                f"{self.out}: this run was trained with {world} process(es) (global batch "
                f"{state.get('global_batch', self.cfg.batch_size * world)}) and is resumed with {self.dist.world}; "
                f"an exact resume needs the same number: "
                + (
                    f"torchrun --nproc_per_node {world} -m googlenet train --resume {self.out}"
                    if world > 1
                    else f"googlenet train --resume {self.out} (one process)"
                )
            )
        try:
            self.module.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            if self.ema is not None and state.get("ema") is not None:
                self.ema.load_state_dict(state["ema"])
            set_rng_state(state["rng"])
            self.progress = Progress(**state["progress"])
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise CheckpointError(f"{self.out}: the resume state does not fit this run ({first})") from None

    def save_resume_state(self) -> None:
        if self.dist.main:
            save_state(self.out, self._state())

    # ---- checkpoints --------------------------------------------------------------------------------
    def _meta(self, metrics: dict[str, Any], kind: str) -> dict[str, Any]:
        """Checkpoint metadata: the contract of the ``kind`` ("raw" or "ema") weights, epoch, metrics, config."""
        epoch = self.progress.epoch + 1
        contract = run_contract(self.cfg, self.spec, self.kwargs, self.size, epoch, kind, self.scale, self.init)
        return {**contract.to_meta(), "epoch": epoch, "metrics": metrics, "config": self.cfg.to_dict()}

    def save_checkpoints(self, metrics: dict[str, Any]) -> None:
        """``last`` (raw weights), ``ema`` and, when the val accuracy improved, ``best`` (raw or EMA)."""
        if self.cfg.save_all_ranks and self.dist.enabled:
            save_weights(self.out / f"last_rank{self.dist.rank}.safetensors", self.module, self._meta(metrics, "raw"))
        if not self.dist.main:
            return
        save_weights(self.out / "last.safetensors", self.module, self._meta(metrics, "raw"))
        candidates = [(metrics.get("val_acc", -1.0), "raw", self.module)]
        if self.ema is not None:
            save_weights(self.out / "ema.safetensors", self.ema.module, self._meta(metrics, "ema"))
            candidates.append((metrics.get("ema_val_acc", -1.0), "ema", self.ema.module))
        acc, kind, module = max(candidates, key=lambda c: c[0])
        if acc > self.progress.best_acc:
            self.progress.best_acc = acc
            save_weights(self.out / "best.safetensors", module, self._meta(metrics, kind))

    # ---- loop ---------------------------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        cfg, p = self.cfg, self.progress
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        x = resize_batch(x, progressive_size(cfg, p.epoch, x.shape[-1]))
        if self.mix is not None:
            x, y = self.mix(x, y)
        if cfg.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self.autocast():
            loss, logits = compute_loss(self.net, x, y, cfg, self.aux)
        value = loss.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"loss is {value} at step {p.global_step + 1} (epoch {p.epoch + 1}, batch {p.step_in_epoch + 1}); "
                f"lower the learning rate (lr={cfg.lr}) or enable grad_clip"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.module.parameters(), cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.module)
        p.sums["loss"] += value * len(y)
        p.sums["correct"] += (logits.argmax(1) == hard_labels(y)).sum().item()
        p.sums["seen"] += len(y)
        return value

    def _bar(self) -> Any:
        p = self.progress
        tty = sys.stderr.isatty()
        return tqdm(
            total=self.steps_per_epoch,
            initial=p.step_in_epoch,
            desc=f"epoch {p.epoch + 1}/{self.cfg.epochs}",
            disable=not (self.cfg.progress and self.dist.main),
            mininterval=0.5 if tty else 30,
            dynamic_ncols=True,
            leave=tty,
        )

    def run_epoch(self) -> bool:
        """Train the rest of the current epoch; False when ``max_steps`` stopped it early."""
        cfg, p = self.cfg, self.progress
        self.net.train()
        for m in self.frozen_norms:  # freeze=features: their running statistics stay as loaded
            m.eval()
        self.train_sampler.set_epoch(p.epoch, start=p.step_in_epoch * cfg.batch_size)
        t0, seen0, seconds0 = time.perf_counter(), p.sums["seen"], p.sums.get("seconds", 0.0)
        with self._bar() as bar:
            for x, y, bad in self.train_loader:
                report_unreadable(bad, cfg.strict_data)
                p.sums["bad"] += len(bad)
                if len(x) == 0:
                    continue
                loss = self.train_step(x, y)
                p.step_in_epoch += 1
                p.global_step += 1
                p.sums["seconds"] = seconds0 + time.perf_counter() - t0
                lr = self.optimizer.param_groups[0]["lr"]
                if self.logger is not None:
                    self.logger.step(p.global_step, p.epoch + 1, loss, lr)
                rate = (p.sums["seen"] - seen0) * self.dist.world / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.3g}", img_s=f"{rate:.0f}", refresh=False)
                bar.update()
                if cfg.save_every_steps and p.global_step % cfg.save_every_steps == 0:
                    self.save_resume_state()
                if p.global_step >= self.total_steps:
                    return p.step_in_epoch >= self.steps_per_epoch
        return True

    def recompute_bn(self) -> None:
        """Precise BN: the norms' statistics averaged over the epoch's first ``precise_bn_batches`` training batches
        (the same on a resumed run), at the epoch's training size, for the raw weights and the EMA's."""
        cfg, p = self.cfg, self.progress

        def inputs() -> Any:
            self.train_sampler.set_epoch(p.epoch, start=0)
            for x, _, _ in itertools.islice(self.train_loader, cfg.precise_bn_batches):
                if len(x):
                    x = resize_batch(x.to(self.device), progressive_size(cfg, p.epoch, x.shape[-1]))
                    yield x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x

        # dropout draws random numbers in these forward passes: fork the generators, so that precise BN changes
        # what evaluation sees and never the training that follows
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), self.autocast():
            precise_bn(self.module, inputs(), keep=self.frozen_norms)
            if self.ema is not None and not self.frozen_norms:
                precise_bn(self.ema.module, inputs())

    def end_epoch(self) -> dict[str, Any]:
        """Evaluate (raw and EMA), record the epoch, write checkpoints, the logger's records and resume state."""
        p, s = self.progress, self.progress.sums
        seconds = s.get("seconds", 0.0)  # training time of the epoch, across resumes
        t_end = time.perf_counter()  # eval_s: what the epoch's end costs on top (precise BN, evaluation)
        if self.cfg.precise_bn_batches:
            self.recompute_bn()
        distributed.average_buffers(self.module)
        if self.ema is not None:
            distributed.average_buffers(self.ema.module)
        bad = int(distributed.all_reduce_sum([s["bad"]], self.device)[0])
        if bad and self.logger is not None:
            self.logger.skipped(p.epoch + 1, bad)
        row: dict[str, Any] = {
            "epoch": p.epoch + 1,
            "step": p.global_step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": s["loss"] / max(s["seen"], 1),
            "train_acc": s["correct"] / max(s["seen"], 1),
            "img_per_s": round(s["seen"] * self.dist.world / max(seconds, 1e-9), 1),
            "epoch_s": round(seconds, 1),
            "bad_images": bad,
            "peak_mem_mib": peak_memory_mib(self.device),  # this process's high-water mark so far
        }
        strict = self.cfg.strict_data
        row.update(evaluate(self.module, self.val_loader, self.device, self.autocast, self.dist, strict))
        if self.ema is not None:
            ema = evaluate(self.ema, self.val_loader, self.device, self.autocast, self.dist, strict, report=False)
            row["ema_val_acc"] = ema["val_acc"]
        row["eval_s"] = round(time.perf_counter() - t_end, 1)
        p.history.append(row)
        self.save_checkpoints(row)
        p.epoch += 1
        p.step_in_epoch = 0
        p.sums = Progress().sums
        if self.logger is not None:
            self.logger.epoch(row)
        self.save_resume_state()
        return row

    def fit(self) -> dict[str, Any]:
        """Train to the end (or ``max_steps``) and return a summary: final metrics and output paths."""
        cfg, p = self.cfg, self.progress
        if self.dist.main:
            resume_step = p.global_step if p.global_step else None
            self.logger = RunLogger(self.out, cfg, self.steps_per_epoch, p.history, resume_step)
        try:
            while p.epoch < cfg.epochs and p.global_step < self.total_steps:
                self.run_epoch()
                self.end_epoch()
        except KeyboardInterrupt:
            self.save_resume_state()
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
