"""Detection recipes: a YAML file of the fields below, by name (``src/googlenet/detect/recipes/NAME.yaml``) or path.

A stand-in until the training engine's config takes ``task: detect``; unknown fields are refused in one line.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

RECIPES = Path(__file__).parent / "recipes"


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
    known = {f.name for f in dataclasses.fields(DetectionRecipe)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(f"{path}: unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})")
    if raw.get("task", "detect") != "detect":
        raise UserError(f"{path}: task {raw['task']!r} is not a detection recipe")
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return DetectionRecipe(**raw)
