"""Property-based fuzzing of the training config: key=value overrides, recipes, TrainConfig.from_dict.

The rule every property checks: whatever goes in, the only exception that may come out is one of the
project's own :class:`~googlenet.errors.UserError` subclasses, with a non-empty one-line message (the CLI
prints it as one line and exits 2). Examples are bounded so the file stays well under a minute on 2 cores.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import assume, example, given
from hypothesis import strategies as st

from _fuzzing import attempt, fuzz, scratch_file
from googlenet.config import ConfigError, TrainConfig, dump_yaml, load_recipe, parse_overrides, read_recipe
from googlenet.config.validate import choices, kind, leaves
from googlenet.errors import UserError
from googlenet.registry import list_models

# ---------------------------------------------------------------------------------------------------------
# training config: key=value overrides, recipes, TrainConfig.from_dict
# ---------------------------------------------------------------------------------------------------------


def _schema_fields() -> dict[str, Any]:
    """Every leaf field of the config schema by dotted path (``optim.lr``), read from the schema."""
    out = {}
    for name, info in TrainConfig.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and hasattr(sub, "model_fields"):
            out.update({f"{name}.{f}": i for f, i in sub.model_fields.items()})
        else:
            out[name] = info
    return out


FIELDS = _schema_fields()
FLOAT_FIELDS = sorted(k for k, f in FIELDS.items() if kind(f)[0] is float)
INT_FIELDS = sorted(k for k, f in FIELDS.items() if kind(f)[0] is int)


def nested(path: str, value: Any) -> dict[str, Any]:
    """``("optim.lr", 1)`` -> ``{"optim": {"lr": 1}}``."""
    head, _, rest = path.partition(".")
    return {head: nested(rest, value) if rest else value}


def tree(values: dict[str, Any]) -> dict[str, Any]:
    """``{"optim.lr": 1, "optim.momentum": 0}`` -> ``{"optim": {"lr": 1, "momentum": 0}}``."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        head, _, field = path.rpartition(".")
        (out.setdefault(head, {}) if head else out)[field] = value
    return out


def at(tree: Any, path: str) -> Any:
    for p in path.split("."):
        tree = tree[p] if isinstance(tree, dict) else getattr(tree, p)
    return tree


# characters YAML gives meaning to, so random values hit its number, date, tag, anchor and flow rules
YAML_CHARS = "0123456789._-+eEobxX:!&*[]{},'\"#|>~%@` \t\nTtrueFfalsNnYy\\"
yaml_ish = st.text(alphabet=YAML_CHARS, max_size=12)
keys = st.one_of(
    st.sampled_from(sorted(FIELDS)),
    st.sampled_from(
        ["model.kwargs.width", "model_kwargs.aux_logits", "lr.x", "optim.lr.x", "a.b.c", ".", "..", "model-kwargs.w"]
    ),
    st.sampled_from(["lr", "model", "data", "schedule", "epochs", "optim", "model.name", "data.root"]),
    st.text(max_size=12),
)
values = st.one_of(yaml_ish, st.text(max_size=20), st.sampled_from(["1e400", "-.inf", ".nan", "0x1F", "1:30", "~"]))


# PyYAML's constructors raise ValueError for some scalars its resolvers accept (a bad date, "._", "0b_"),
# and deep nesting RecursionError: config.load_yaml once let both out.
YAML_CRASHES = ["._", "._e5", "0b_", "0x_", "2001-13-45", "2001-02-30 10:00:00", "[" * 3000]


@pytest.mark.parametrize("value", YAML_CRASHES, ids=lambda v: v[:12])
def test_yaml_scalars_that_crash_the_constructor(value: str) -> None:
    attempt(parse_overrides, [f"optim.lr={value}"])


@fuzz(300)
@given(items=st.lists(st.one_of(st.builds("{}={}".format, keys, values), st.text(max_size=20)), max_size=4))
def test_parse_overrides_any_strings(items: list[str]) -> None:
    out = attempt(parse_overrides, items)
    if isinstance(out, UserError):
        assert isinstance(out, ConfigError)
        return
    assert isinstance(out, dict)
    attempt(TrainConfig.from_dict, out)


# every common spelling of a number: 1e-3, 1.0e12, 1E5, .5, 1_000, +2.5, 5., 3e+2 (no leading zeros: YAML 1.1
# reads 017 as octal, see test_leading_zero_integers_are_decimal)
_digits = st.from_regex(r"\A[1-9][0-9]{0,2}(_?[0-9]{3}){0,2}\Z|\A0\Z", fullmatch=True)
_fraction = st.from_regex(r"\A[0-9]{1,4}\Z", fullmatch=True)
_exponent = st.builds("{}{}{}".format, st.sampled_from("eE"), st.sampled_from(["", "-", "+"]), st.integers(0, 30))


@st.composite
def number_spellings(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "+"]))
    whole = draw(_digits)
    frac = draw(_fraction)
    form = draw(st.sampled_from(["int", "dot", "lead_dot", "trail_dot"]))
    text = {"int": whole, "dot": f"{whole}.{frac}", "lead_dot": f".{frac}", "trail_dot": f"{whole}."}[form]
    if draw(st.booleans()):
        text += draw(_exponent)
    return sign + text


def _check_number_field(name: str, spelling: str, value: Any) -> None:
    """``value`` (parsed from ``spelling``) sets ``name`` to the number, or fails on its range, not its type."""
    want = float(spelling)
    out = attempt(TrainConfig.from_dict, nested(name, value))
    if isinstance(out, UserError):
        msg = str(out)
        integral = want.is_integer()
        if kind(FIELDS[name])[0] is int and not integral:
            assert "must be an integer" in msg, msg
        else:
            assert "must be an integer" not in msg and "must be a number" not in msg, (spelling, msg)
        return
    got = at(out, name)
    assert isinstance(got, kind(FIELDS[name])[0]) and not isinstance(got, bool)
    assert math.isclose(got, want, rel_tol=1e-12), (spelling, got)


@fuzz(200)
@given(name=st.sampled_from(FLOAT_FIELDS + INT_FIELDS), spelling=number_spellings())
@example(name="optim.lr", spelling="1e-3")
@example(name="optim.lr", spelling="1.0e12")
@example(name="schedule.epochs", spelling="1E5")
@example(name="optim.momentum", spelling=".5")
@example(name="data.batch_size", spelling="1_000")
@example(name="seed", spelling="1e3")
def test_number_spellings_are_numbers(name: str, spelling: str) -> None:
    parsed = at(parse_overrides([f"{name}={spelling}"]), name)
    assert isinstance(parsed, int | float) and not isinstance(parsed, bool), (spelling, parsed)
    assert math.isclose(parsed, float(spelling), rel_tol=1e-12), (spelling, parsed)
    _check_number_field(name, spelling, parsed)  # as YAML read it
    _check_number_field(name, spelling, spelling)  # as a quoted string ("1e-3" in a recipe)
    _check_number_field(name, spelling, f" {spelling} ")
    group, _, field = name.rpartition(".")
    line = f"{group}:\n  {field}: {{}}\n" if group else f"{field}: {{}}\n"
    recipe = scratch_file(line.format(spelling) + f"log:\n  kwargs:\n    width: {spelling}\n", ".yaml")
    assert math.isclose(read_recipe(str(recipe))["log"]["kwargs"]["width"], float(spelling), rel_tol=1e-12)
    quoted = scratch_file(line.format(f"'{spelling}'"), ".yaml")
    _check_number_field(name, spelling, at(read_recipe(str(recipe)), name))
    _check_number_field(name, spelling, at(read_recipe(str(quoted)), name))


@fuzz(30)
@given(name=st.sampled_from(INT_FIELDS), n=st.integers(1, 7777))
@example(name="schedule.epochs", n=10)
def test_leading_zero_integers_are_decimal(name: str, n: int) -> None:
    spelling = f"0{n}"
    assert at(parse_overrides([f"{name}={spelling}"]), name) == n


# anything YAML or JSON can hold, as config values
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    yaml_ish,
    number_spellings(),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)
mapping_keys = st.one_of(
    st.sampled_from(sorted(FIELDS)),
    st.sampled_from(sorted(TrainConfig.model_fields)),
    st.text(max_size=10),
    st.integers(-3, 3),
    st.none(),
    st.booleans(),
    st.sampled_from(["lr", "model_kwargs", "model", "data", "out"]),
)
groups = st.fixed_dictionaries(
    {},
    optional={
        g: st.dictionaries(st.one_of(mapping_keys, st.sampled_from(["lr", "name", "kwargs"])), yaml_values, max_size=3)
        for g in ("optim", "model", "data")
    },
)


@fuzz(300)
@given(d=st.one_of(st.dictionaries(mapping_keys, yaml_values, max_size=5), groups))
@example(d={None: 1, "epochs": 2})
@example(d={"epochs": "1e400", "lr": "nan"})
@example(d={"schedule": {"epochs": "1e400"}, "optim": {"lr": "nan"}})
@example(d={"model": {"kwargs": {1: 2}}, "optim": None})
def test_from_dict_any_mapping(d: dict[Any, Any]) -> None:
    out = attempt(TrainConfig.from_dict, d)
    if isinstance(out, UserError):
        assert isinstance(out, ConfigError)
    else:
        assert isinstance(out, TrainConfig)


def test_from_dict_unknown_keys_of_mixed_types() -> None:
    attempt(TrainConfig.from_dict, {1: 2, "a": 3})


@fuzz(200)
@given(
    doc=st.one_of(
        st.text(max_size=60),
        st.text(alphabet=YAML_CHARS, max_size=60),
        st.dictionaries(st.sampled_from(sorted(FIELDS)), yaml_values, max_size=4).map(tree).map(yaml.safe_dump),
        st.dictionaries(st.sampled_from(["lr", "model", "epochs", "model_kwargs"]), yaml_values).map(yaml.safe_dump),
        st.dictionaries(st.text(max_size=6), yaml_values, max_size=3).map(yaml.safe_dump),
    ),
    raw=st.one_of(st.none(), st.binary(max_size=40)),
    overrides=st.lists(st.builds("{}={}".format, keys, values), max_size=2),
)
def test_recipe_files(doc: str, raw: bytes | None, overrides: list[str]) -> None:
    path = str(scratch_file(raw if raw is not None else doc, ".yaml"))
    data = attempt(read_recipe, path)
    over = attempt(parse_overrides, overrides)
    assert isinstance(data, dict | ConfigError)
    if isinstance(data, dict) and isinstance(over, dict):
        out = attempt(load_recipe, path, over)
        assert isinstance(out, TrainConfig | ConfigError)


def _bounds(info: Any) -> tuple[float, float, bool, bool]:
    """(lowest, highest, lowest included, highest included) from the field's declared constraints."""
    low, high, low_ok, high_ok = -math.inf, math.inf, True, True
    for m in info.metadata:
        for attr, is_low, inclusive in (
            ("ge", True, True),
            ("gt", True, False),
            ("le", False, True),
            ("lt", False, False),
        ):
            if hasattr(m, attr):
                if is_low:
                    low, low_ok = getattr(m, attr), inclusive
                else:
                    high, high_ok = getattr(m, attr), inclusive
    return low, high, low_ok, high_ok


def _field_values(name: str) -> st.SearchStrategy[Any]:
    """Values ``name`` accepts, from the schema: its choices, or its type within its range (and None if optional)."""
    info = FIELDS[name]
    base, optional = kind(info)
    if choices(info) is not None:
        strategy: st.SearchStrategy[Any] = st.sampled_from(choices(info))
    elif name == "model.name":
        strategy = st.sampled_from(list_models())
    elif base is bool:
        strategy = st.booleans()
    elif base is str:
        strategy = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
    elif base is dict:
        strategy = st.dictionaries(st.text(max_size=6), scalars.filter(lambda v: v == v), max_size=3)
    else:
        low, high, low_ok, high_ok = _bounds(info)
        if base is int:
            lo = None if low == -math.inf else math.ceil(low) if low_ok else math.floor(low) + 1
            strategy = st.integers(lo, None if high == math.inf else int(high))
        else:
            strategy = st.floats(
                low, high, exclude_min=not low_ok, exclude_max=not high_ok, allow_nan=False, allow_infinity=False
            )
    return st.one_of(st.none(), strategy) if optional else strategy


@st.composite
def valid_configs(draw: st.DrawFn) -> TrainConfig:
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=8))
    out = attempt(TrainConfig.from_dict, tree({n: draw(_field_values(n), label=n) for n in names}))
    assume(isinstance(out, TrainConfig))  # a rule between fields refused the combination (checked elsewhere)
    return out


@fuzz(150)
@given(cfg=valid_configs())
def test_config_round_trips(cfg: TrainConfig) -> None:
    """A config saved as training saves it (config.yaml) reads back equal, as a recipe and as overrides."""
    path = scratch_file(dump_yaml(cfg.to_dict()), ".yaml")  # as training writes config.yaml
    assert load_recipe(str(path)) == cfg
    items = [f"{k}={dump_yaml(v, flow=True)}" for k, v in leaves(cfg.to_dict(), TrainConfig).items()]
    assert TrainConfig.from_dict(parse_overrides(items)) == cfg


def test_config_yaml_string_like_a_float() -> None:
    cfg = TrainConfig(checkpoint={"out": "1e3"})
    path = scratch_file(dump_yaml(cfg.to_dict()), ".yaml")
    assert attempt(load_recipe, str(path)) == cfg
    # YAML 1.2 reads 0E0 as a number (PyYAML's 1.1 does not, and writes the text bare): hypothesis found this one
    cfg = TrainConfig(model={"kwargs": {"": "0E0"}})
    assert TrainConfig.from_dict(parse_overrides([f"model.kwargs={dump_yaml(cfg.model.kwargs, flow=True)}"])) == cfg


def test_read_recipe_name_too_long() -> None:
    attempt(read_recipe, "a" * 300)


@fuzz(200)
@given(name=st.text(max_size=40))
@example(name="\x00")
@example(name="cifar10")
@example(name="/")
@example(name="../../etc/passwd")
def test_read_recipe_any_name(name: str) -> None:
    out = attempt(read_recipe, name)
    assert isinstance(out, dict | ConfigError)
