"""Training engine: dataclass config + YAML recipes, schedules, exact resume, DDP, metrics and plots."""

from .config import TrainConfig, load_recipe, list_recipes
from .engine import train

__all__ = ["TrainConfig", "list_recipes", "load_recipe", "train"]
