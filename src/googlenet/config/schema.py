"""The training run's config, declared once: groups of fields by concern, each choice a ``Literal``, each range a
constraint, each rule between fields a validator. YAML recipes, ``KEY=VALUE`` overrides and the config saved in
checkpoints and resume states all go through :class:`TrainConfig` (``docs/config.md`` is generated from it).

A rule that needs the data or the built model (an input size too small for the network, Caffe's scale on a
greyscale dataset, a checkpoint's architecture) is checked where the run has them, not here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError
from .legacy import migrate
from .rules import check_rules
from .types import Bool, Float, Int, Str
from .validate import error_line, shown


class Group(BaseModel):
    """A group of fields: unknown names refused, assignments validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Group):
    """What the run trains and evaluates on, and how images reach the model."""

    dataset: Str = Field("cifar10", description="fashion-mnist, cifar10, imagenette2-128, imagenette2-224 or a folder")
    root: Str | None = Field(
        None, description="where the dataset lives (default: $GOOGLENET_DATA, ../shared/data, system folders)"
    )
    download: Bool = Field(False, description="Fashion-MNIST only: fetch it with torchvision when absent")
    augment: Literal["paper", "standard", "cifar", "none"] = Field(
        "standard",
        description="paper: 8-100 % area crops, photometric distortions; standard: random-resized crops + flip; "
        "cifar: resize + padded random crop + flip; none: resize + centre crop",
    )
    auto_augment: Literal["none", "randaugment", "trivialaugment"] = Field(
        "none", description="a policy applied after the augmentation's crop and flip"
    )
    input_size: Int | None = Field(None, ge=1, description="training crop, px (default: the dataset's native size)")
    eval_size: Int | None = Field(
        None, ge=1, description="evaluation crop, px (default: input_size; larger helps after random crops)"
    )
    crop_fraction: Float = Field(
        1.0, gt=0, le=1, description="evaluation: resize the shorter side to eval_size / crop_fraction, centre-crop"
    )
    padding: Int = Field(4, ge=0, description="cifar augmentation: padding before the random crop, px")
    min_scale: Float = Field(
        0.08,
        gt=0,
        le=1,
        description="standard augmentation: the smallest random-resized crop, as a fraction of the image's area "
        "(torchvision's 0.08; fastai's Imagenette runs use 0.35)",
    )
    progressive_min_size: Int = Field(
        0, ge=0, description="progressive resizing: the first epoch's training size, growing to input_size (0: off)"
    )
    mixup: Float = Field(0.0, ge=0, description="MixUp's Beta(alpha, alpha) on whole batches (0: off)")
    cutmix: Float = Field(0.0, ge=0, description="CutMix's Beta(alpha, alpha) (0: off); with mixup, one of the two")
    train_subset: Int | None = Field(None, ge=1, description="train on a seeded random subset of this many images")
    val_subset: Int | None = Field(None, ge=1, description="evaluate on a seeded random subset of this many images")
    strict_data: Bool = Field(False, description="an unreadable image stops the run instead of being skipped")
    in_memory: Bool = Field(
        False,
        description="decode every image once into one uint8 tensor; batches are cut from it and, for the cifar and "
        "none augmentations, augmented in one pass (images of one size, such as CIFAR-10's)",
    )
    workers: Int = Field(2, ge=0, description="DataLoader worker processes (0: load in the training process)")
    batch_size: Int = Field(128, ge=1, description="images per optimiser step, per process")


class ModelConfig(Group):
    """The network, its builder options and the weights it starts from."""

    name: Str = Field("googlenet", description="a registered model (`googlenet models` lists them)")
    kwargs: dict[str, Any] = Field(
        default_factory=dict, description="builder options, e.g. {width: 0.5, batch_norm: true}"
    )
    input_contract: Literal["auto", "default", "caffe"] = Field(
        "auto",
        description="input scale: auto (init_weights' own, else default), default (the dataset's RGB 0-1 mean/std), "
        "caffe (BVLC's: BGR, pixels 0-255 minus (104, 117, 123), std 1)",
    )
    init_weights: Str | None = Field(
        None, description='a checkpoint path or "torchvision": start from them, with a fresh classifier'
    )
    freeze: Literal["none", "features"] = Field(
        "none", description="features: only the classifiers (main and auxiliary) train"
    )
    zero_init_bn: Bool = Field(
        False, description="each residual block's last batch norm starts at scale 0 (refused for Inception networks)"
    )


class OptimConfig(Group):
    """The optimiser, the loss and what is done to the weights."""

    name: Literal["sgd", "adamw", "lamb", "lion"] = Field(
        "sgd",
        description="sgd, adamw, or timm's lamb and lion (beta1 = momentum, cycled by onecycle; no nesterov; "
        "adamw decay ~0.05; lion: lr 3-10x lower, decay as much higher)",
    )
    lr: Float = Field(0.1, gt=0, description="peak learning rate")
    momentum: Float = Field(0.9, ge=0, lt=1, description="SGD's momentum; beta1 of AdamW, LAMB and Lion")
    nesterov: Bool = Field(False, description="Nesterov momentum (SGD only)")
    weight_decay: Float = Field(
        5e-4, ge=0, description="not applied to biases and norm parameters when no_decay_bn_bias"
    )
    no_decay_bn_bias: Bool = Field(True, description="no weight decay on biases and normalisation parameters")
    classifier_lr_mult: Float = Field(
        1.0, gt=0, description="the classifiers' learning rate = lr x this (e.g. 10 when fine-tuning)"
    )
    label_smoothing: Float = Field(0.0, ge=0, lt=1, description="cross-entropy label smoothing")
    aux_weight: Float = Field(0.3, ge=0, description="each auxiliary classifier's loss weight (paper: 0.3)")
    grad_clip: Float = Field(0.0, ge=0, description="max gradient norm (0: off)")
    ema_decay: Float = Field(0.0, ge=0, lt=1, description="Polyak/EMA averaging of the weights per step (0: off)")
    precise_bn_batches: Int = Field(
        0, ge=0, description="before each evaluation, recompute batch-norm statistics on this many train batches"
    )


class ScheduleConfig(Group):
    """How long the run trains and its learning rate over the steps."""

    name: Literal["constant", "paper", "poly", "cosine", "flat_cosine", "onecycle"] = Field(
        "cosine", description="the learning-rate schedule, stepped once per optimiser step"
    )
    epochs: Int = Field(10, ge=1, description="passes over the training set (the schedule spans them)")
    max_steps: Int | None = Field(
        None, ge=1, description="stop after this many optimiser steps (the schedule then spans max_steps)"
    )
    eval_every: Int = Field(
        1, ge=1, description="evaluate (precise BN, the val pass) after every N-th epoch and after the last one"
    )
    warmup_epochs: Float = Field(0.0, ge=0, description="linear warmup (constant, paper, poly, cosine, flat_cosine)")
    step_gamma: Float = Field(0.96, gt=0, description="paper: lr x step_gamma every step_epochs epochs")
    step_epochs: Float = Field(8.0, gt=0, description="paper: epochs between the rate's steps")
    poly_power: Float = Field(0.5, gt=0, description="poly: lr (1 - t/T)^power")
    min_lr_ratio: Float = Field(0.0, ge=0, le=1, description="cosine, flat_cosine: final lr / peak lr")
    onecycle_pct: Float = Field(0.25, gt=0, lt=1, description="onecycle: fraction of the steps spent rising")
    flat_fraction: Float = Field(
        0.75, ge=0, lt=1, description="flat_cosine: fraction of the steps at the peak rate before the cosine"
    )


class PrecisionConfig(Group):
    """Where and in what arithmetic the run computes (speed, not results, apart from amp)."""

    device: Str = Field("auto", description="auto, cpu, cuda or cuda:N (checked when the run starts)")
    amp: Literal["auto", "none", "bf16", "fp16"] = Field(
        "auto",
        description="mixed precision: auto (bf16 where the CPU has amx_bf16 or avx512_bf16, or the GPU bf16; fp32 "
        "elsewhere), none (fp32), bf16, fp16 (CUDA only)",
    )
    channels_last: Bool = Field(False, description="NHWC memory format (faster convolutions and pools on CPUs)")
    compile: Bool = Field(False, description="torch.compile the model")
    threads: Int | None = Field(None, ge=1, description="torch intra-op threads (default: torch's choice)")


class CheckpointConfig(Group):
    """Where the run writes and how often."""

    out: Str = Field("runs/train", description="the run folder: checkpoints, metrics, curves, resume state")
    save_every_steps: Int = Field(0, ge=0, description="also write the resume state every N steps (0: at epoch ends)")
    save_all_ranks: Bool = Field(False, description="DDP: every rank writes last_rank<r>.safetensors")


class LogConfig(Group):
    """What the run reports while it trains."""

    progress: Bool = Field(True, description="a tqdm progress bar")


class TrainConfig(Group):
    """Everything a run depends on; saved into every checkpoint and the resume state."""

    task: Literal["classify", "detect"] = Field("classify", description="what the run trains the model to do")
    seed: Int = Field(0, description="seeds the model's initialisation, data order, augmentation and subsets")
    data: DataConfig = Field(default_factory=DataConfig, description=DataConfig.__doc__)
    model: ModelConfig = Field(default_factory=ModelConfig, description=ModelConfig.__doc__)
    optim: OptimConfig = Field(default_factory=OptimConfig, description=OptimConfig.__doc__)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig, description=ScheduleConfig.__doc__)
    precision: PrecisionConfig = Field(default_factory=PrecisionConfig, description=PrecisionConfig.__doc__)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig, description=CheckpointConfig.__doc__)
    log: LogConfig = Field(default_factory=LogConfig, description=LogConfig.__doc__)

    @model_validator(mode="after")
    def _rules(self) -> TrainConfig:
        """Combinations of fields that cannot run (each refused before any data is read)."""
        check_rules(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (what checkpoints, ``state.pt`` and ``config.yaml`` hold)."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """A config from plain data: grouped, or the flat layout of runs saved before the groups (migrated); any
        fault is a one-line :class:`~googlenet.config.errors.ConfigError` naming the field."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a mapping of fields, got {shown(data)}")
        grouped, _ = migrate(data)
        try:
            return cls.model_validate(grouped)
        except ValidationError as err:
            raise ConfigError(error_line(err, cls)) from None
