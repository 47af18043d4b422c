"""Rules between fields of a :class:`~googlenet.config.schema.TrainConfig`, decided from the config alone.

Each raises ``ValueError`` with the one line the user sees (pydantic carries it to ``TrainConfig.from_dict``, which
raises it as a :class:`~googlenet.config.errors.ConfigError`). Whether a model is an Inception network is the
registry's word (its family), so every model family is imported here.
"""

from __future__ import annotations

from typing import Any

from .. import models  # noqa: F401 (registers every model family)
from ..data.transforms import STANDARD_MIN_SCALE
from ..registry import UnknownModelError, model_info

OPTIMISER_NAMES = {"sgd": "SGD", "adamw": "AdamW", "lamb": "LAMB", "lion": "Lion"}  # as their papers write them
INCEPTION_FAMILIES = frozenset({"googlenet"})  # modules that concatenate branches: no identity path to zero


def check_rules(cfg: Any) -> None:
    """Refuse the combinations that cannot run (see each message)."""
    if cfg.optim.name != "sgd" and cfg.optim.nesterov:
        raise ValueError(
            f"optim.nesterov=true is SGD's momentum; {OPTIMISER_NAMES[cfg.optim.name]} has none to make Nesterov: "
            "set optim.nesterov=false"
        )
    init = cfg.model.init_weights
    if init is not None and not init.strip():
        raise ValueError("config field 'model.init_weights' must be a checkpoint path or 'torchvision', got ''")
    if cfg.model.freeze != "none" and init is None:
        raise ValueError(
            f"model.freeze={cfg.model.freeze} keeps weights as they start: give model.init_weights=PATH|torchvision"
        )
    if cfg.data.min_scale != STANDARD_MIN_SCALE and cfg.data.augment != "standard":
        raise ValueError(
            f"data.min_scale={cfg.data.min_scale:g} sizes the standard augmentation's random-resized crops; "
            f"data.augment={cfg.data.augment} has none: set data.augment=standard or leave data.min_scale out"
        )
    if cfg.precision.amp == "fp16" and cfg.precision.device.strip().lower().startswith("cpu"):
        raise ValueError("precision.amp=fp16 needs CUDA; use precision.amp=bf16 on the CPU")
    _check_model(cfg)


def _check_model(cfg: Any) -> None:
    """``model.name`` is registered, and ``model.zero_init_bn`` is not asked of an Inception network."""
    try:
        info = model_info(cfg.model.name)
    except UnknownModelError as err:
        raise ValueError(f"config field 'model.name': {err}") from None
    if cfg.model.zero_init_bn and info.family in INCEPTION_FAMILIES:
        raise ValueError(
            f"model.zero_init_bn: {cfg.model.name}'s Inception modules concatenate their branches with no identity "
            "path; zeroing each branch's last batch norm makes every module output 0 and stops all learning before "
            "the classifier. It is for residual networks (resnet*)"
        )
