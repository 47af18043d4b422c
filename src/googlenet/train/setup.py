"""Everything a run is built from, made once: the process (threads, device, DDP, seeds), the weights it starts
from, and the model with its optimiser, schedule, EMA, mixing and precision."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from ..config import ConfigError, TrainConfig
from ..errors import InputSizeError
from ..factory import create_model
from ..probe import check_input_size
from ..runtime.cpu import amp_words, auto_amp, cpu_info
from . import distributed
from .finetune import (
    InitSource,
    classifier_parameters,
    freeze_features,
    load_init,
    param_groups,
    resolve_init,
)
from .inputs import Inputs
from .levers import batch_mix, build_optimizer, progressive_size, zero_init_last_bn
from .provenance import model_kwargs
from .schedules import build_scheduler


def setup_process(cfg: TrainConfig) -> tuple[distributed.Dist, torch.device]:
    """Threads, the process group and device, and the seeds: once per run (the options are checked by the config's
    schema when it is read)."""
    if cfg.task != "classify":  # declared in the schema for detection, which lands later
        raise ConfigError(f"task={cfg.task}: this version trains classification only (task=classify)")
    if cfg.precision.threads:
        torch.set_num_threads(cfg.precision.threads)
    dist, device = distributed.setup(cfg.precision.device)
    if cfg.precision.amp == "fp16" and device.type != "cuda":
        raise ConfigError("precision.amp=fp16 needs CUDA; use precision.amp=bf16 on the CPU")
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    return dist, device


def init_source(cfg: TrainConfig, state: dict[str, Any] | None) -> InitSource | None:
    """The weights a run starts from: the config's ``init_weights``, or for a resumed run its saved record."""
    if state is None:
        return resolve_init(cfg)
    return InitSource.from_state(state["init"]) if state.get("init") else None


def resolve_amp(cfg: TrainConfig, device: torch.device, state: dict[str, Any] | None = None) -> str:
    """The precision the run computes in: a resumed run's own (so the resume stays exact on any machine),
    ``precision.amp=auto``'s choice for this hardware (:func:`~googlenet.runtime.cpu.auto_amp`), or as configured.
    An explicit bf16 on a CPU without bf16 instructions runs (emulated, slowly), with a one-line warning."""
    if state is not None and state.get("amp"):
        return str(state["amp"])
    amp = cfg.precision.amp
    if amp == "auto":
        return auto_amp(device.type)
    if amp == "bf16" and device.type == "cpu" and not cpu_info().bf16_native:
        print(
            "warning: precision.amp=bf16 on a CPU without bf16 instructions (no amx_bf16 or avx512_bf16): it runs, "
            "emulated and slower than fp32; precision.amp=auto picks fp32 here",
            file=sys.stderr,
        )
    return amp


def describe_amp(amp: str, configured: str, device: torch.device) -> str:
    """One line: the precision the run computes in, and why."""
    what = amp_words(amp)
    if configured != "auto":
        return f"precision: {what} (precision.amp={configured})"
    why = "a GPU with bf16" if device.type == "cuda" else cpu_info().describe()
    return f"precision: {what} (precision.amp=auto on {why})"


def autocast(device: torch.device, amp: str) -> Any:
    """The autocast context of ``amp`` (none | bf16 | fp16) on ``device``."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


@dataclass
class Parts:
    """The model and what updates it."""

    kwargs: dict[str, Any]  # the builder options (saved in the contract)
    module: nn.Module  # the model itself, on the device
    net: nn.Module  # what the step calls: the module, wrapped in DDP and compiled as configured
    ema: AveragedModel | None
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    mix: Any  # MixUp/CutMix of a batch, or None
    frozen_norms: list[nn.Module]  # freeze=features: norms kept in eval mode


def build_parts(
    cfg: TrainConfig,
    data: Inputs,
    dist: distributed.Dist,
    device: torch.device,
    init: InitSource | None,
    fresh: bool,
    amp: str = "none",
) -> Parts:
    """The model (initial weights unless ``fresh`` is False: a resumed run loads its own) and its optimiser."""
    spec = data.spec
    kwargs = model_kwargs(cfg, spec, init)
    # a crop too small for the network is a one-line error now, not a pooling traceback at step 1
    train_size = cfg.data.input_size or spec.native_size
    check_input_size(cfg.model.name, min(train_size, data.size), **kwargs)
    first = progressive_size(cfg, 0, train_size)
    try:
        check_input_size(cfg.model.name, first, **kwargs)
    except InputSizeError as err:
        raise ConfigError(
            f"data.progressive_min_size={cfg.data.progressive_min_size} (first epoch at {first} px): {err}"
        ) from None
    model = create_model(cfg.model.name, num_classes=len(spec.classes), **kwargs)
    if cfg.model.zero_init_bn and fresh:
        zero_init_last_bn(model)
    if init is not None and fresh:
        load_init(model, init, cfg.model.name, kwargs)
    classifier = classifier_parameters(model, cfg.model.name, kwargs)
    frozen_norms = freeze_features(model, classifier) if cfg.model.freeze == "features" else []
    model = model.to(device)
    if cfg.precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = None
    if cfg.optim.ema_decay > 0:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.optim.ema_decay), use_buffers=True)
    optimizer = build_optimizer(param_groups(model, cfg, classifier), cfg)
    scheduler = build_scheduler(optimizer, cfg, data.steps_per_epoch, data.total_steps)
    scaler = torch.amp.GradScaler(device.type, enabled=amp == "fp16")
    net: nn.Module = model
    if dist.enabled:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    net = torch.compile(net) if cfg.precision.compile else net
    mix = batch_mix(cfg, len(spec.classes))
    return Parts(kwargs, model, net, ema, optimizer, scheduler, scaler, mix, frozen_norms)
