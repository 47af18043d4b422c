"""Training engine: the config (:mod:`googlenet.config`), schedules, exact resume, DDP, metrics and plots."""

from ..config import TrainConfig, list_recipes, load_recipe
from .loop import train

__all__ = ["TrainConfig", "list_recipes", "load_recipe", "train"]
