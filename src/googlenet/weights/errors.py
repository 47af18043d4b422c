"""The one-line errors of weights and model files (all :class:`~googlenet.errors.UserError`: exit 2, no traceback)."""

from __future__ import annotations

from ..errors import UserError


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable, or does not fit the model."""


class PretrainedError(UserError):
    """Published weights that cannot be had: none for this model, no file in the cache and no network, a broken
    file."""


class ModelFileError(UserError):
    """A model file of no format this project reads, or one that is damaged."""
