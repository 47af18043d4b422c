"""YAML as recipes, overrides and saved configs are read and written: YAML 1.1's safe loader with YAML 1.2's
numbers (``1e-3`` is a float, ``010`` is ten), and a dumper whose output reads back as the same values."""

from __future__ import annotations

import re
from typing import Any

import yaml

from .errors import ConfigError


class _Loader(yaml.SafeLoader):
    """YAML 1.1's safe loader reading every common float spelling as a number (``1e-3``, ``1.0e12``, ``1E5``),
    as YAML 1.2 does; plain PyYAML reads those as strings."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """``010`` is ten, as YAML 1.2 and every person reads it (YAML 1.1 reads it as octal 8)."""
    value = loader.construct_scalar(node)
    if re.fullmatch(r"[-+]?0[0-9_]+", value):
        return int(value.replace("_", ""), 10)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0[0-9_]+$"), list("-+0"))
_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


class _Dumper(yaml.SafeDumper):
    """Quotes strings that :func:`load_yaml` would read as numbers (``'1e3'``), so a dump reads back equal."""


_Dumper.yaml_implicit_resolvers = {k: list(v) for k, v in _Loader.yaml_implicit_resolvers.items()}


def dump_yaml(data: Any, flow: bool = False) -> str:
    """``yaml.safe_dump`` whose output :func:`load_yaml` reads back as the same values (``flow``: on one line, as
    an override's value)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=flow)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with YAML 1.2 floats; a syntax error is a :class:`ConfigError`."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"not valid YAML{line}: {problem}") from None
    except (ValueError, RecursionError) as err:  # a scalar the constructors cannot build (2001-02-30), deep nesting
        raise ConfigError(f"not valid YAML: cannot read a value ({' '.join(str(err).split()) or 'too deep'})") from None


def scalar_text(text: str) -> str:
    """The YAML scalar ``text`` as written (``2024``, ``1e3``, ``yes``), for a text field given a number or a truth
    value (``checkpoint.out=2024`` names the folder "2024"). ``text`` must hold one scalar."""
    return yaml.compose(text, Loader=_Loader).value
