"""The one error of the config package."""

from __future__ import annotations

from ..errors import UserError


class ConfigError(UserError):
    """An unknown recipe or field, a badly typed value, a value out of range or a refused combination (one line)."""
