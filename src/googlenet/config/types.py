"""Value types of config fields: what YAML, overrides and saved configs may spell, read as the field's type.

Counts accept integral floats and numeric text (``1e3``, ``"1_000"``, ``" 10 "``); numbers accept integers and
numeric text and must be finite; truth values and text are strict (``true`` is no count, ``2024`` no text, unless
an override writes it: see :mod:`googlenet.config.overrides`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict


def _number_text(value: Any) -> Any:
    """``" 1e-3 "`` -> 1e-3, ``"1_000"`` -> 1000 (Python's own spellings); anything else as it is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return value


def _as_int(value: Any) -> Any:
    value = _number_text(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)  # 1e3, 1000.0
    return value


def _as_float(value: Any) -> Any:
    value = _number_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


Int = Annotated[int, BeforeValidator(_as_int), Strict()]
Float = Annotated[float, BeforeValidator(_as_float), Strict(), Field(allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]
