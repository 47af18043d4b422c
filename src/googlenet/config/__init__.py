"""The training run's configuration: one pydantic schema (:mod:`.schema`), YAML recipes (:mod:`.recipes`), the CLI's
``KEY=VALUE`` parser (:mod:`.overrides`), the flat layout of earlier runs (:mod:`.legacy`) and YAML (:mod:`.yamlio`).
"""

from .errors import ConfigError
from .overrides import parse_overrides, parse_pairs
from .recipes import list_recipes, load_recipe, merge, read_recipe
from .schema import TrainConfig
from .yamlio import dump_yaml, load_yaml

__all__ = [
    "ConfigError",
    "TrainConfig",
    "dump_yaml",
    "list_recipes",
    "load_recipe",
    "load_yaml",
    "merge",
    "parse_overrides",
    "parse_pairs",
    "read_recipe",
]
