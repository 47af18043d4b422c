"""What a declared config field allows, in words, and pydantic's errors as the one line a user sees (the field's
dotted path, the value, what is allowed). Every function takes the schema's root model (``root``): this module
knows pydantic, not :class:`~googlenet.config.schema.TrainConfig`."""

from __future__ import annotations

import math
import typing
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

_KINDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a string", dict: "a mapping"}
_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def field_at(path: tuple[str, ...], root: type[BaseModel]) -> FieldInfo | None:
    """The declared field at the dotted ``path`` (``("optim", "lr")``), or None."""
    model: Any = root
    info = None
    for name in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or name not in model.model_fields:
            return None
        info = model.model_fields[name]
        model = info.annotation
    return info


def choices(info: FieldInfo) -> tuple[Any, ...] | None:
    """The values of a ``Literal`` field (None for any other field)."""
    ann = info.annotation
    return typing.get_args(ann) if typing.get_origin(ann) is Literal else None


def kind(info: FieldInfo) -> tuple[type, bool]:
    """(the field's base type, whether null is allowed)."""
    ann = info.annotation
    args = typing.get_args(ann)
    optional = type(None) in args
    if optional:
        ann = next(a for a in args if a is not type(None))
    while typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    return (typing.get_origin(ann) or ann), optional


def value_range(info: FieldInfo) -> str:
    """``">= 1"``, ``"in (0, 1]"`` or ``""`` from the field's constraints."""
    low = high = None
    for m in info.metadata:
        if isinstance(m, at.Ge | at.Gt):
            low = ("[", m.ge) if isinstance(m, at.Ge) else ("(", m.gt)
        elif isinstance(m, at.Le | at.Lt):
            high = ("]", m.le) if isinstance(m, at.Le) else (")", m.lt)
    if low and high:
        return f"in {low[0]}{low[1]:g}, {high[1]:g}{high[0]}"
    if low:
        return f"{'>=' if low[0] == '[' else '>'} {low[1]:g}"
    if high:
        return f"{'<=' if high[0] == ']' else '<'} {high[1]:g}"
    return ""


def allowed(info: FieldInfo) -> str:
    """What the field accepts, in words: ``"one of sgd, adamw"``, ``"an integer >= 1, or null"``."""
    values = choices(info)
    if values is not None:
        return "one of " + ", ".join(map(str, values))
    base, optional = kind(info)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return "a mapping of " + ", ".join(base.model_fields)
    words = " ".join(filter(None, [_KINDS.get(base, str(base)), value_range(info)]))
    return f"{words}, or null" if optional else words


def error_line(err: ValidationError, root: type[BaseModel]) -> str:
    """The first of pydantic's errors as the one line a user sees."""
    e = err.errors(include_url=False)[0]
    loc = tuple(str(p) for p in e["loc"])
    path = ".".join(loc) or "config"
    kind_ = e["type"]
    if kind_ == "value_error" and e.get("ctx", {}).get("error") is not None:
        return str(e["ctx"]["error"])
    if kind_ == "extra_forbidden":
        parent = field_at(loc[:-1], root)
        group = parent.annotation if parent is not None else root
        names = ", ".join(group.model_fields) if isinstance(group, type) and issubclass(group, BaseModel) else ""
        where = ".".join(loc[:-1]) or "a config"
        return f"unknown config field {path!r}; {where} has: {names}"
    if kind_ == "invalid_key" or loc[-1:] == ("[key]",):
        where = f" of {'.'.join(loc[:-2])!r}" if len(loc) > 2 else ""
        return f"unknown config field {shown(e['input'])}{where}: field names are text"
    info = field_at(loc, root)
    if info is None:  # inside a field's value (a model.kwargs key), or a group given something else
        return f"config field {path!r}: {e['msg'].lower()}, got {shown(e['input'])}"
    finite = not (isinstance(e["input"], float) and not math.isfinite(e["input"]))  # nan fails a range check first
    want = value_range(info) if kind_ in _RANGE_ERRORS and finite else allowed(info)
    return f"config field {path!r} must be {want}, got {shown(e['input'])}"


def shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def leaves(data: dict[str, Any], root: type[BaseModel]) -> dict[str, Any]:
    """A config's plain data as ``{"optim.lr": 0.1, "model.kwargs": {...}, ...}``: one entry per declared field."""
    out: dict[str, Any] = {}
    for name, info in root.model_fields.items():
        if name not in data:
            continue
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and isinstance(data[name], dict):
            out.update({f"{name}.{k}": v for k, v in leaves(data[name], sub).items()})
        else:
            out[name] = data[name]
    return out
