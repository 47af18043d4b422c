"""Compatibility name: checkpoints are :mod:`googlenet.weights`'s now (``weights.save``, ``weights.read_checkpoint``).

Kept only for ``train/engine.py``, which is being split by concern at the same time; the new training modules
import :mod:`googlenet.weights` and this module goes with the old engine.
"""

from __future__ import annotations

from .weights.checkpoint import save_checkpoint as save_weights
from .weights.errors import CheckpointError

__all__ = ["CheckpointError", "save_weights"]
