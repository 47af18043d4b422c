"""Detection recipes: a YAML file of the fields below, by name (``src/googlenet/detect/recipes/NAME.yaml``) or path.

A stand-in until the training engine's config takes ``task: detect``; unknown fields are refused in one line.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from ..config.legacy import merge_into
from ..errors import UserError

RECIPES = Path(__file__).parent / "recipes"
AMPS = ("none", "bf16", "auto")  # fp32, bf16 autocast, bf16 where the CPU has bf16 instructions


@dataclass
class DetectionRecipe:
    """What a detection training run needs (see ``recipes/pennfudan-fasterrcnn.yaml`` for each field)."""

    task: str = "detect"
    model: str = "fasterrcnn_googlenet"
    data: str = "pennfudan"
    num_classes: int = 2
    split: dict[str, Any] = field(default_factory=lambda: {"val_fraction": 0.2, "seed": 0})
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    init_weights: str | None = None
    epochs: int = 12
    batch_size: int = 2
    lr: float = 0.01
    warmup_steps: int = 50
    augment: dict[str, Any] = field(default_factory=lambda: {"flip": 0.5, "crop": True, "zoom_out": False})
    threads: int | None = None
    seed: int = 0
    amp: Literal["none", "bf16", "auto"] = "none"
    val_every_epoch: bool = False
    save_all_ranks: bool = False  # under torchrun, each rank also writes last_rank{r}.safetensors (checks DDP)


def recipe_names() -> list[str]:
    """The recipes shipped with the package."""
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def load_recipe(name_or_path: str | os.PathLike, **overrides: Any) -> DetectionRecipe:
    """A recipe by shipped name or YAML path, with ``overrides`` (None values ignored) on top."""
    path = Path(name_or_path)
    if not path.is_file():
        path = RECIPES / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UserError(f"unknown detection recipe {str(name_or_path)!r}; shipped: {', '.join(recipe_names())}")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not a readable recipe ({' '.join(str(err).split())})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a recipe is a mapping of fields, not a {type(raw).__name__}")
    if raw.get("task", "detect") != "detect":
        raise UserError(f"{path}: task {raw['task']!r} is not a detection recipe")
    raw = merge_into(raw, {k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(DetectionRecipe)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    check_values(raw, str(path))
    return DetectionRecipe(**raw)


def is_detection_recipe(name_or_path: str | os.PathLike) -> bool:
    """Whether ``name_or_path`` names a shipped detection recipe or a YAML file saying ``task: detect``."""
    if (RECIPES / f"{name_or_path}.yaml").is_file():
        return True
    path = Path(name_or_path)
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False
    return isinstance(raw, dict) and raw.get("task") == "detect"


# the scalar fields' types (None allowed where the default is None)
TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "data": (str,), "num_classes": (int,), "init_weights": (str, type(None)), "epochs": (int,),
    "batch_size": (int,), "lr": (float, int), "warmup_steps": (int,), "threads": (int, type(None)), "seed": (int,),
    "val_every_epoch": (bool,), "save_all_ranks": (bool,), "split": (dict,), "model_kwargs": (dict,),
    "augment": (dict,),
}  # fmt: skip
POSITIVE = ("num_classes", "epochs", "batch_size", "lr", "threads")


def check_values(raw: dict[str, Any], where: str) -> None:
    """One line for a value of the wrong type, a non-positive count or rate, or an ``amp`` that does not exist."""
    for key, types in TYPES.items():
        value = raw.get(key)
        if key in raw and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            raise UserError(f"{where}: {key} must be {' or '.join(t.__name__ for t in types)}, got {value!r}")
        if key in POSITIVE and isinstance(value, int | float) and value <= 0:
            raise UserError(f"{where}: {key} must be positive, got {value!r}")
    if raw.get("amp", "none") not in AMPS:
        raise UserError(f"{where}: amp {raw['amp']!r} is not one of {', '.join(AMPS)}")
