"""Moved to :mod:`googlenet.config` (issue 24); imported from here until every caller names the new package."""

from ..config import ConfigError, TrainConfig, dump_yaml, list_recipes, load_recipe, merge, parse_overrides, read_recipe

__all__ = ["ConfigError", "TrainConfig", "dump_yaml", "list_recipes", "load_recipe", "merge", "parse_overrides"]
__all__ += ["read_recipe"]
