"""Recipes: YAML files of config fields, shipped in ``googlenet/recipes`` or the user's own, with overrides on top."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .legacy import merge_into, migrate, notice
from .schema import TrainConfig
from .yamlio import load_yaml


def recipe_dir() -> Path:
    """The folder of the shipped recipes."""
    return Path(str(resources.files("googlenet") / "recipes"))


def list_recipes() -> list[str]:
    """Names of the recipes shipped with the package."""
    return sorted(p.stem for p in recipe_dir().glob("*.yaml"))


def read_recipe(name_or_path: str) -> dict[str, Any]:
    """The mapping in a shipped recipe (by name) or a YAML file (by path), as written (not validated)."""
    path = Path(name_or_path)
    try:
        if not path.is_file():
            path = recipe_dir() / f"{name_or_path}.yaml"
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


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict update (nested mappings such as ``model.kwargs`` merge key by key)."""
    return merge_into(base, over)


def load_recipe(name_or_path: str, overrides: dict[str, Any] | None = None, warn: bool = True) -> TrainConfig:
    """A :class:`TrainConfig` from a recipe (a flat one migrated, with a one-line notice under ``warn``) with
    ``overrides`` (grouped, as :func:`~googlenet.config.overrides.parse_overrides` gives them) applied on top."""
    grouped, flat = migrate(read_recipe(name_or_path))
    if flat and warn:
        print(notice(flat, f"recipe {name_or_path}"), file=sys.stderr)
    return TrainConfig.from_dict(merge(grouped, overrides or {}))
