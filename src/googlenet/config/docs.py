"""Every config field with its type, default and help, as Markdown: ``googlenet train --print-schema`` and
``docs/config.md`` (``python -m googlenet.config.docs > docs/config.md``; a test keeps the page equal to this)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .schema import TrainConfig
from .validate import choices, kind, value_range
from .yamlio import dump_yaml

INTRO = """# Training config

Generated from the schema (`googlenet/config/schema.py`) by `googlenet train --print-schema`; do not edit by hand.

A run's config is grouped by concern. A recipe (`googlenet train --recipe NAME`) is a YAML file of these groups;
`KEY=VALUE` overrides name a field by its dotted path (`optim.lr=0.05`, `model.kwargs.width=0.5`), the value read as
YAML (`5e-1` is a number, `{width: 0.5}` a mapping, nothing after `=` is null). The flat names of earlier versions
(`lr=0.05`, `model_kwargs.width=0.5`) still work, with a one-line notice naming the new path; recipes in the flat
layout and the configs saved by earlier runs are read too. `googlenet train ... --print-config` prints the whole
config, every value checked, and exits.
"""

_WORDS = {int: "integer", float: "number", bool: "bool", str: "string", dict: "mapping"}


def _type(info: FieldInfo) -> str:
    values = choices(info)
    if values is not None:
        return " \\| ".join(f"`{v}`" for v in values)
    base, optional = kind(info)
    words = " ".join(filter(None, [_WORDS.get(base, str(base)), value_range(info)]))
    return f"{words} or null" if optional else words


def _default(info: FieldInfo) -> str:
    value: Any = info.get_default(call_default_factory=True)
    return f"`{dump_yaml(value, flow=True).split(chr(10))[0]}`"


def schema_markdown() -> str:
    """The config page: one table per group, fields in declared order."""
    top = [n for n, f in TrainConfig.model_fields.items() if not _is_group(f)]
    lines = [INTRO, "## Top level", "", "| field | type | default | help |", "|---|---|---|---|"]
    lines += [_row(name, TrainConfig.model_fields[name]) for name in top]
    for name, info in TrainConfig.model_fields.items():
        if not _is_group(info):
            continue
        group = info.annotation
        lines += ["", f"## `{name}`: {(group.__doc__ or '').strip()}", ""]
        lines += ["| field | type | default | help |", "|---|---|---|---|"]
        lines += [_row(f"{name}.{field}", sub) for field, sub in group.model_fields.items()]
    return "\n".join(lines) + "\n"


def _is_group(info: FieldInfo) -> bool:
    return isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)


def _row(path: str, info: FieldInfo) -> str:
    help_ = (info.description or "").replace("|", "\\|")
    return f"| `{path}` | {_type(info)} | {_default(info)} | {help_} |"


if __name__ == "__main__":
    print(schema_markdown(), end="")
