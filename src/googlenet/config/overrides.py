"""The one ``KEY=VALUE`` parser of the CLI: values are YAML scalars or flow collections (``5e-1`` is a float,
``true`` a truth value, ``{width: 0.5}`` a mapping, nothing after ``=`` is null), dotted keys nest.

:func:`parse_pairs` serves every command (``--set`` builder options); :func:`parse_overrides` is ``googlenet
train``'s: dotted paths into the config's groups (``optim.lr=0.05``), the old flat names (``lr=0.05``) still read
with a one-line notice naming the new path, and a text field keeps a value as written (``checkpoint.out=2024``).
"""

from __future__ import annotations

import sys
from typing import Any

from .errors import ConfigError
from .legacy import FLAT_NAMES, GROUP_NAMES, new_path, notice
from .schema import TrainConfig
from .validate import field_at, kind
from .yamlio import load_yaml, scalar_text


def split_pair(item: str) -> tuple[list[str], str, Any]:
    """``"a.b=1e3"`` -> (["a", "b"], "1e3", 1000.0): the key's parts (``-`` read as ``_``), the text, the value."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{item!r} is not KEY=VALUE")
    try:
        value = load_yaml(text) if text.strip() != "" else None
    except ConfigError as err:
        raise ConfigError(f"{item!r}: {err}") from None
    return key.strip().replace("-", "_").split("."), text, value


def _put(out: dict[str, Any], parts: list[str], value: Any, item: str) -> None:
    node = out
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{item!r}: {p!r} was set to a value, not a mapping of fields")
    node[parts[-1]] = value


def parse_pairs(items: list[str] | None) -> dict[str, Any]:
    """``["width=5e-1", "aux_logits=false"]`` -> ``{"width": 0.5, "aux_logits": False}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        parts, _, value = split_pair(item)
        _put(out, parts, value, item)
    return out


def parse_overrides(items: list[str] | None, warn: bool = True) -> dict[str, Any]:
    """``["optim.lr=0.05", "model.kwargs.width=0.5"]`` -> ``{"optim": {"lr": 0.05}, "model": {"kwargs": {...}}}``.

    Old flat names are moved to their paths (``lr`` -> ``optim.lr``, ``model_kwargs.width`` ->
    ``model.kwargs.width``, ``model=resnet18`` -> ``model.name``); with ``warn``, one line on stderr names them.
    """
    out: dict[str, Any] = {}
    flat: list[str] = []
    for item in items or []:
        parts, text, value = split_pair(item)
        head = parts[0]
        if head in FLAT_NAMES and (head not in GROUP_NAMES or (len(parts) == 1 and not isinstance(value, dict))):
            flat.append(head)
            parts = new_path(head).split(".") + parts[1:]
        info = field_at(tuple(parts), TrainConfig)
        if info is not None and kind(info)[0] is str and isinstance(value, int | float | bool):
            value = scalar_text(text)  # a folder named 2024 or 1e3, a dataset called "yes"
        _put(out, parts, value, item)
    if flat and warn:
        print(notice(flat, "the overrides"), file=sys.stderr)
    return out
