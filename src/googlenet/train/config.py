"""Training configuration: one dataclass, YAML recipes shipped in ``googlenet/recipes``, ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError


class ConfigError(UserError):
    """An unknown recipe, field or badly typed value."""


@dataclass
class TrainConfig:
    """Everything a run depends on; saved into every checkpoint and the resume state."""

    # data
    dataset: str = "cifar10"  # fashion-mnist | cifar10 | imagenette2-128 | imagenette2-224 | a folder path
    data: str | None = None  # where the dataset lives (default: $GOOGLENET_DATA, ../shared/data, system dirs)
    download: bool = False  # Fashion-MNIST only: fetch it with torchvision when absent
    augment: str = "standard"  # paper | standard | cifar | none
    auto_augment: str = "none"  # none | randaugment | trivialaugment, after the augment's crop and flip
    input_size: int | None = None  # training/eval crop in px (default: the dataset's native size)
    eval_size: int | None = None  # evaluation crop in px (default: input_size; larger helps after random crops)
    crop_fraction: float = 1.0  # eval: resize shorter side to eval_size / crop_fraction, centre-crop
    padding: int = 4  # cifar augmentation: pad before the random crop, px
    train_subset: int | None = None  # train on a seeded random subset of this many images
    val_subset: int | None = None  # evaluate on a seeded random subset of this many images
    strict_data: bool = False  # an unreadable image stops the run instead of being skipped and counted
    workers: int = 2  # DataLoader worker processes (0: load in the training process)
    # model
    model: str = "googlenet"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    # input scale: auto (init_weights' own, else the dataset's RGB 0-1 mean/std) | default (the dataset's) | caffe
    # (BVLC's: BGR, pixels 0-255 minus (104, 117, 123), std 1; where the paper model's LRN layers act as in Caffe)
    input_contract: str = "auto"
    # fine-tuning
    init_weights: str | None = None  # a checkpoint path or "torchvision": start from them, with a fresh classifier
    freeze: str = "none"  # none | features (only the classifier and the aux heads' classifiers train)
    classifier_lr_mult: float = 1.0  # the classifiers' learning rate = lr x this (e.g. 10 when fine-tuning)
    # optimisation
    epochs: int = 10
    max_steps: int | None = None  # stop after this many optimiser steps (schedule still spans max_steps)
    batch_size: int = 128  # per process
    lr: float = 0.1  # peak learning rate
    optimizer: str = "sgd"  # sgd | adamw (beta1 = momentum, cycled by onecycle; no nesterov; decay ~0.05, not 5e-4)
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4  # not applied to biases and norm parameters when no_decay_bn_bias
    no_decay_bn_bias: bool = True
    schedule: str = "cosine"  # constant | paper | poly | cosine | flat_cosine | onecycle
    warmup_epochs: float = 0.0  # linear warmup (constant, paper, poly, cosine, flat_cosine)
    step_gamma: float = 0.96  # paper: lr x step_gamma every step_epochs epochs
    step_epochs: float = 8.0
    poly_power: float = 0.5  # poly: lr (1 - t/T)^power
    min_lr_ratio: float = 0.0  # cosine: final lr / peak lr
    onecycle_pct: float = 0.25  # onecycle: fraction of steps spent rising
    flat_fraction: float = 0.75  # flat_cosine: fraction of steps at the peak rate before the cosine decay
    label_smoothing: float = 0.0
    aux_weight: float = 0.3  # each auxiliary classifier's loss weight (paper: 0.3)
    ema_decay: float = 0.0  # Polyak/EMA of the weights per step (0: off)
    grad_clip: float = 0.0  # max gradient norm (0: off)
    mixup: float = 0.0  # MixUp's Beta(alpha, alpha) (0: off)
    cutmix: float = 0.0  # CutMix's Beta(alpha, alpha) (0: off); with mixup, one of the two per batch
    zero_init_bn: bool = False  # each residual block's last batch norm starts at scale 0 (refused for Inception)
    progressive_min_size: int = 0  # progressive resizing: first epoch's train size, growing to input_size (0: off)
    precise_bn_batches: int = 0  # before each evaluation, recompute BN statistics on this many train batches
    # speed
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str = "none"  # none | bf16 | fp16 (fp16: CUDA only)
    channels_last: bool = False
    compile: bool = False
    threads: int | None = None  # torch intra-op threads (default: leave torch's choice)
    # run
    seed: int = 0
    out: str = "runs/train"
    save_every_steps: int = 0  # also write the resume state every N steps (0: at epoch ends only)
    progress: bool = True  # tqdm bar
    save_all_ranks: bool = False  # DDP: every rank writes last_rank<r>.safetensors (to check they agree)

    def __post_init__(self) -> None:
        _check_types(self)
        _check_ranges(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known, key=repr)  # keys of any type (a YAML mapping can have int keys)
        if unknown:
            raise ConfigError(f"unknown config field {unknown[0]!r}; known fields: {', '.join(sorted(known))}")
        return cls(**d)


class _Loader(yaml.SafeLoader):
    """YAML 1.1's safe loader reading every common float spelling as a number (``1e-3``, ``1.0e12``, ``1E5``),
    as YAML 1.2 does; plain PyYAML reads those as strings."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """``010`` is ten, as YAML 1.2 and every person reads it (YAML 1.1 reads it as octal 8)."""
    value = loader.construct_scalar(node)
    if re.fullmatch(r"[-+]?0[0-9_]+", value):
        return int(value.replace("_", ""), 10)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0[0-9_]+$"), list("-+0"))
_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


class _Dumper(yaml.SafeDumper):
    """Quotes strings that :func:`load_yaml` would read as numbers (``'1e3'``), so a dump reads back equal."""


_Dumper.yaml_implicit_resolvers = {k: list(v) for k, v in _Loader.yaml_implicit_resolvers.items()}


def dump_yaml(data: Any, flow: bool = False) -> str:
    """``yaml.safe_dump`` whose output :func:`load_yaml` reads back as the same values (``flow``: on one line, as
    an override's value)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=flow)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 floats; a syntax error is a :class:`ConfigError`."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"not valid YAML{line}: {problem}") from None
    except (ValueError, RecursionError) as err:  # a scalar the constructors cannot build (2001-02-30), deep nesting
        raise ConfigError(f"not valid YAML: cannot read a value ({' '.join(str(err).split()) or 'too deep'})") from None


_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "dict[str, Any]": dict}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}


def _as_number(value: Any, want: type) -> Any:
    """A numeric string (``"1e-3"``, ``"1_000"``, ``" 0.5 "``) as a number for an int or float field."""
    if want in (int, float) and isinstance(value, str):
        try:
            return float(value.strip()) if want is float else _int_or_float(value.strip())
        except ValueError:
            return value
    return value


def _int_or_float(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _check_types(config: TrainConfig) -> None:
    """Each field holds its annotated type (YAML and ``key=value`` overrides can hold anything)."""
    for f in fields(config):
        value = getattr(config, f.name)
        base = str(f.type).replace(" | None", "")
        if value is None and "None" in str(f.type):
            continue
        want = _TYPES[base]
        value = _as_number(value, want)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if want is int and isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # 1e3, 1000.0
        setattr(config, f.name, value)
        if want is float and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config field {f.name!r} must be a finite number, got {value!r}")
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            word = _TYPE_WORDS.get(base, "a mapping")
            raise ConfigError(f"config field {f.name!r} must be {word}, got {value!r}")


# allowed ranges: (lowest, highest, lowest included, highest included)
_INF = float("inf")
_COUNT, _NON_NEGATIVE, _POSITIVE = (1, _INF, True, True), (0, _INF, True, True), (0, _INF, False, True)
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    **dict.fromkeys(
        ("epochs", "batch_size", "max_steps", "input_size", "eval_size", "train_subset", "val_subset", "threads"),
        _COUNT,
    ),
    **dict.fromkeys(
        (
            "workers",
            "padding",
            "save_every_steps",
            "weight_decay",
            "warmup_epochs",
            "aux_weight",
            "grad_clip",
            "mixup",
            "cutmix",
            "progressive_min_size",
            "precise_bn_batches",
        ),
        _NON_NEGATIVE,
    ),
    **dict.fromkeys(("lr", "step_gamma", "step_epochs", "poly_power", "classifier_lr_mult"), _POSITIVE),
    "crop_fraction": (0, 1, False, True),
    "min_lr_ratio": (0, 1, True, True),
    "flat_fraction": (0, 1, True, False),
    "onecycle_pct": (0, 1, False, False),
    **dict.fromkeys(("momentum", "label_smoothing", "ema_decay"), (0, 1, True, False)),
}


def _check_ranges(config: TrainConfig) -> None:
    for name, (low, high, low_ok, high_ok) in _RANGES.items():
        value = getattr(config, name)
        if value is None:
            continue
        above = value > low or (low_ok and value == low)
        below = value < high or (high_ok and value == high)
        if not (above and below):
            if high == _INF:
                allowed = f"{'>=' if low_ok else '>'} {low:g}"
            else:
                allowed = f"in {'[' if low_ok else '('}{low:g}, {high:g}{']' if high_ok else ')'}"
            raise ConfigError(f"config field {name!r} must be {allowed}, got {value!r}")


def _recipe_dir() -> Path:
    return Path(str(resources.files("googlenet") / "recipes"))


def list_recipes() -> list[str]:
    """Names of the recipes shipped with the package."""
    return sorted(p.stem for p in _recipe_dir().glob("*.yaml"))


def read_recipe(name_or_path: str) -> dict[str, Any]:
    """The mapping in a shipped recipe (by name) or a YAML file (by path)."""
    path = Path(name_or_path)
    try:
        if not path.is_file():
            path = _recipe_dir() / f"{name_or_path}.yaml"
        found = path.is_file()
    except (OSError, ValueError) as err:  # a name too long for the file system, a NUL byte
        raise ConfigError(f"cannot use {name_or_path!r} as a recipe name or file ({err.__class__.__name__})") from None
    if not found:
        raise ConfigError(f"unknown recipe {name_or_path!r}; shipped recipes: {', '.join(list_recipes())}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read the recipe ({err})") from None
    try:
        data = load_yaml(text) or {}
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping of config fields")
    return data


_STR_FIELDS = {f.name for f in fields(TrainConfig) if str(f.type).replace(" | None", "") == "str"}


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["lr=0.05", "model_kwargs.width=0.5"]`` -> ``{"lr": 0.05, "model_kwargs": {"width": 0.5}}`` (YAML values).

    A text field keeps the text as written when YAML would read a number or a truth value (``out=2024``,
    ``out=1e3`` name folders "2024" and "1e3")."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not key=value")
        try:
            parsed = load_yaml(value) if value != "" else None
        except ConfigError as err:
            raise ConfigError(f"override {item!r}: {err}") from None
        parts = key.replace("-", "_").split(".")
        if len(parts) == 1 and parts[0] in _STR_FIELDS and isinstance(parsed, (int, float, bool)):
            parsed = yaml.compose(value, Loader=_Loader).value  # the scalar as written (no "..." end marker)
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {p!r} was set to a value, not a mapping of fields")
        node[parts[-1]] = parsed
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict update (nested dicts such as model_kwargs merge key by key; an empty one, ``model_kwargs={}``,
    replaces: the way to drop a recipe's options)."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and v and isinstance(out.get(k), dict) else v
    return out


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from a recipe with ``overrides`` applied on top."""
    return TrainConfig.from_dict(merge(read_recipe(name_or_path), overrides or {}))
