"""googlenet: GoogLeNet (Inception v1) as the paper describes it, and the classic CNNs around it."""

import logging

__version__ = "0.1.0"  # before the imports below: modules they load may read it

from .detect import fasterrcnn as _detectors  # noqa: F401  (registers the detectors, task="detect")
from .factory import create_model, list_models, model_info, register_model
from .hub import from_pretrained

logging.getLogger(__name__).addHandler(logging.NullHandler())  # a library: silent unless the application says

__all__ = ["__version__", "create_model", "from_pretrained", "list_models", "model_info", "register_model"]
