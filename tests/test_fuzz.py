"""Property-based fuzzing of everything that reads user input: config overrides and recipes, image files,
crop geometry and checkpoints.

The rule every property checks: whatever goes in, the only exception that may come out is one of the
project's own :class:`~googlenet.errors.UserError` subclasses, with a non-empty one-line message (the CLI
prints it as one line and exits 2). Examples are bounded so the file stays well under a minute on 2 cores.
Output paths, crop sizes and numbers typed on the command line are fuzzed through the CLI in test_fuzz_paths.py.
"""

from __future__ import annotations

import atexit
import functools
import io
import json
import math
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from googlenet.config import ConfigError, TrainConfig, dump_yaml, load_recipe, parse_overrides, read_recipe
from googlenet.config.validate import choices, kind, leaves
from googlenet.data.crops import center_crop, default_resize, flip_crop, make_views, paper_144_crops, ten_crop
from googlenet.data.decode import ImageDecodeError, open_image
from googlenet.errors import InputSizeError, UserError
from googlenet.registry import list_models
from googlenet.weights import CheckpointError, load_checkpoint, read_checkpoint, save

# no example database in the repository; a failure prints the blob that reproduces it
FUZZ = settings(
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def fuzz(n: int) -> settings:
    return settings(FUZZ, max_examples=n)


def check_message(err: BaseException) -> None:
    """A user error the CLI can print as one clear line."""
    assert isinstance(err, UserError), f"{type(err).__name__} escaped: {err!r}"
    msg = str(err)
    assert msg.strip(), f"{type(err).__name__} with an empty message"
    assert msg.splitlines() == [msg], f"message is not one line: {msg!r}"


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``'s result, or the :class:`UserError` it raised (checked to be one line). Anything else fails."""
    try:
        return fn(*args, **kwargs)
    except UserError as err:
        check_message(err)
        return err


@functools.cache
def _scratch() -> Path:
    path = Path(tempfile.mkdtemp(prefix="googlenet-fuzz-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def scratch_file(data: bytes | str, suffix: str = "") -> Path:
    """A fresh file holding ``data`` (a per-process temp dir: function-scoped tmp_path is shared by examples)."""
    fd, name = tempfile.mkstemp(suffix=suffix, dir=_scratch())
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    return Path(name)


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


# ---------------------------------------------------------------------------------------------------------
# image decoding
# ---------------------------------------------------------------------------------------------------------

MAGICS = [
    b"",
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xdb",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"P6\n",
    b"P5\n",
    b"P6\n3 2\n255\n",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x01\x00",
]
EXTENSIONS = ["", ".jpg", ".png", ".gif", ".bmp", ".tif", ".webp", ".ppm", ".txt"]


@pytest.mark.filterwarnings("ignore::UserWarning")  # PIL warns on corrupt EXIF before refusing the file
@fuzz(300)
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=200), suffix=st.sampled_from(EXTENSIONS))
@example(magic=b"", body=b"", suffix=".jpg")
def test_open_image_random_bytes(magic: bytes, body: bytes, suffix: str) -> None:
    path = scratch_file(magic + body, suffix)
    for mode in ("RGB", "L"):
        out = attempt(open_image, path, mode)
        if isinstance(out, UserError):
            assert isinstance(out, ImageDecodeError)
        else:
            assert out.mode == mode and min(out.size) >= 1


@fuzz(100)
@given(name=st.text(alphabet=st.characters(exclude_categories=["Cc", "Cs"]), max_size=30))
@example(name="")
@example(name="\x00")
@example(name="/")
def test_open_image_any_path(name: str) -> None:
    out = attempt(open_image, Path(name))
    assert isinstance(out, ImageDecodeError) or out.mode == "RGB"


def test_open_image_path_with_a_newline() -> None:
    attempt(open_image, Path("photo\n.jpg"))


def test_open_image_name_too_long() -> None:
    attempt(open_image, Path("a" * 300 + ".jpg"))


def _encoded(fmt: str, mode: str = "RGB", size: tuple[int, int] = (29, 21), **save: Any) -> bytes:
    g = torch.Generator().manual_seed(0)
    w, h = size
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "P": 1}[mode]
    pixels = torch.randint(0, 256, (h, w, channels), generator=g, dtype=torch.uint8).squeeze(-1).numpy()
    img = Image.fromarray(pixels, "L" if mode == "P" else mode)
    if mode == "P":
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, fmt, **save)
    return buf.getvalue()


REAL_IMAGES = {
    "jpeg": (_encoded("JPEG", quality=90), ".jpg"),
    "progressive-jpeg": (_encoded("JPEG", progressive=True), ".jpg"),
    "png": (_encoded("PNG"), ".png"),
    "png-rgba": (_encoded("PNG", "RGBA"), ".png"),
    "png-palette": (_encoded("PNG", "P"), ".png"),
    "gif": (_encoded("GIF", "P"), ".gif"),
    "bmp": (_encoded("BMP"), ".bmp"),
    "tiff": (_encoded("TIFF"), ".tif"),
    "webp": (_encoded("WEBP"), ".webp"),
}


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_open_image_truncated_everywhere(fmt: str) -> None:
    """Every proper prefix of a real JPEG and PNG: refused as truncated or (after the pixels) decoded whole."""
    data, suffix = REAL_IMAGES[fmt]
    whole = open_image(scratch_file(data, suffix))
    path = scratch_file(b"", suffix)
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        out = attempt(open_image, path)
        if isinstance(out, UserError):
            assert isinstance(out, ImageDecodeError)
        else:  # only the trailer is missing
            assert out.size == whole.size and out.tobytes() == whole.tobytes(), cut


@pytest.mark.filterwarnings("ignore::UserWarning")
@fuzz(150)
@given(fmt=st.sampled_from(sorted(REAL_IMAGES)), data=st.data())
def test_open_image_truncated_or_corrupted(fmt: str, data: st.DataObject) -> None:
    """Any real format, truncated at a random offset and/or with random bytes overwritten."""
    blob, suffix = REAL_IMAGES[fmt]
    blob = bytearray(blob[: data.draw(st.integers(0, len(blob)), label="cut")])
    for _ in range(data.draw(st.integers(0, 4), label="flips")):
        if blob:
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    out = attempt(open_image, scratch_file(bytes(blob), suffix))
    if isinstance(out, UserError):
        assert isinstance(out, ImageDecodeError)
    else:
        assert out.mode == "RGB"


# ---------------------------------------------------------------------------------------------------------
# test-time crops
# ---------------------------------------------------------------------------------------------------------


@st.composite
def images(draw: st.DrawFn, max_side: int = 96) -> torch.Tensor:
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    c = draw(st.sampled_from([1, 3, 4]))
    if draw(st.booleans()):
        return torch.randint(0, 256, (c, h, w), dtype=torch.uint8)
    return torch.rand(c, h, w)


def _in_range(out: torch.Tensor, img: torch.Tensor) -> bool:
    """Bilinear (antialiased) resizing and cropping never leave the input's value range."""
    lo, hi = img.min().item(), img.max().item()
    tol = 1e-4 if img.is_floating_point() else 0
    return out.min().item() >= lo - tol and out.max().item() <= hi + tol


@fuzz(80)
@given(img=images(), size=st.integers(1, 40), extra=st.one_of(st.none(), st.integers(0, 20)))
@example(img=torch.zeros(3, 1, 1, dtype=torch.uint8), size=1, extra=None)
@example(img=torch.full((3, 5, 7), 200, dtype=torch.uint8), size=1, extra=None)  # uint8 to 1 x 1: torch asserts
@example(img=torch.zeros(3, 1, 96), size=40, extra=None)
@example(img=torch.zeros(3, 40, 40), size=40, extra=0)
def test_center_and_ten_crop_shapes(img: torch.Tensor, size: int, extra: int | None) -> None:
    resize = None if extra is None else size + extra
    c = img.shape[0]
    one, ten = center_crop(img, size, resize), ten_crop(img, size, resize)
    assert one.shape == (1, c, size, size) and ten.shape == (10, c, size, size)
    assert one.dtype == ten.dtype == img.dtype
    assert torch.equal(ten[5:], ten[:5].flip(-1))  # mirrors of the first five
    assert torch.equal(ten[4], one[0])  # the 10-crop centre is the centre crop
    assert _in_range(one, img) and _in_range(ten, img)
    views = make_views(10, size, resize)(img)
    assert torch.equal(views, ten)


@fuzz(40)
@given(img=images(max_side=64), size=st.integers(1, 24), distinct=st.booleans())
@example(img=torch.zeros(1, 1, 64, dtype=torch.uint8), size=24, distinct=False)
@example(img=torch.zeros(3, 7, 7), size=24, distinct=True)
@example(img=torch.full((3, 1, 1), 9, dtype=torch.uint8), size=1, distinct=False)
def test_144_crops_shapes(img: torch.Tensor, size: int, distinct: bool) -> None:
    c, h, w = img.shape
    out = paper_144_crops(img, size, distinct=distinct)
    n = 48 if distinct and h == w else 144
    assert out.shape == (n, c, size, size) and out.dtype == img.dtype
    assert torch.equal(out[n // 2 :], out[: n // 2].flip(-1))
    assert _in_range(out, img)
    assert make_views(144, size)(img).shape == (48 if h == w else 144, c, size, size)


@pytest.mark.slow
@fuzz(25)
@given(h=st.integers(224, 420), w=st.integers(224, 420))
def test_crops_at_paper_size(h: int, w: int) -> None:
    img = torch.randint(0, 256, (3, h, w), dtype=torch.uint8)
    assert center_crop(img, 224).shape == (1, 3, 224, 224)
    assert ten_crop(img, 224).shape == (10, 3, 224, 224)
    assert paper_144_crops(img, 224, distinct=True).shape[1:] == (3, 224, 224)


@st.composite
def bad_crop_calls(draw: st.DrawFn) -> tuple[str, torch.Tensor, Any, Any]:
    """An image with an empty side or no channels, a wrong number of dimensions, a crop size below 1 or not
    a whole number, or a resize below the crop size."""
    size: Any = draw(st.integers(1, 16))
    resize: Any = None
    kind = draw(st.sampled_from(["empty", "ndim", "size", "resize", "type"]))
    if kind == "empty":
        shape = [draw(st.integers(0, 3)), draw(st.integers(0, 20)), draw(st.integers(0, 20))]
        assume(0 in shape)
    elif kind == "ndim":
        shape = draw(st.lists(st.integers(1, 6), min_size=0, max_size=5).filter(lambda s: len(s) != 3))
    else:
        shape = [3, draw(st.integers(1, 20)), draw(st.integers(1, 20))]
        if kind == "size":
            size = draw(st.integers(-(2**40), 0))
        elif kind == "resize":
            resize = draw(st.integers(-(2**40), size - 1))
        else:
            size = draw(st.one_of(st.floats(), st.text(max_size=3), st.none(), st.just(torch.tensor(8.0))))
    dtype = draw(st.sampled_from([torch.uint8, torch.float32]))
    return kind, torch.zeros(shape, dtype=dtype), size, resize


@fuzz(150)
@given(call=bad_crop_calls(), scheme=st.sampled_from([1, 2, 10, 144]))
@example(call=("empty", torch.zeros(3, 0, 5), 8, None), scheme=1)
@example(call=("empty", torch.zeros(0, 10, 10), 8, None), scheme=10)
@example(call=("size", torch.zeros(3, 10, 10), 0, None), scheme=144)
@example(call=("size", torch.zeros(3, 10, 10), -3, None), scheme=1)
def test_crops_refuse_too_small(call: tuple[str, torch.Tensor, Any, Any], scheme: int) -> None:
    """Too small (or misshapen) images and sizes: InputSizeError; a crop size that is no size: UserError."""
    kind, img, size, resize = call
    if scheme == 144 and kind == "resize":
        return  # 144 crops take no resize
    fn = {1: center_crop, 2: flip_crop, 10: ten_crop}.get(scheme)
    with pytest.raises(UserError) as info:
        if fn is None:
            paper_144_crops(img, size)
        else:
            fn(img, size, resize)
    check_message(info.value)
    if kind in ("empty", "ndim", "resize"):
        assert isinstance(info.value, InputSizeError)


@fuzz(50)
@given(
    crops=st.one_of(st.integers(-5, 200), st.sampled_from([1, 2, 10, 144])),
    size=st.integers(-3, 16),
    resize=st.one_of(st.none(), st.integers(-3, 20)),
)
def test_make_views_any_arguments(crops: int, size: int, resize: int | None) -> None:
    img = torch.zeros(3, 9, 13, dtype=torch.uint8)
    valid = crops in (1, 2, 10, 144) and size >= 1 and (resize is None or crops == 144 or resize >= size)
    fn = attempt(make_views, crops, size, resize)
    assert isinstance(fn, UserError) != valid  # refused at once, not on the first image
    if valid:
        out = fn(img)
        assert out.shape[1:] == (3, size, size)
        assert default_resize(size) >= size


# ---------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------

TINY = {"width": 0.05, "aux_logits": False}


@functools.cache
def tiny_checkpoint() -> tuple[bytes, bytes]:
    """A real checkpoint of a 3-class GoogLeNet at width 0.05 (16k parameters), saved by the package: the
    .safetensors bytes and its .json sidecar."""
    from googlenet.factory import create_model

    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=3, **TINY)
    meta = {"model": "googlenet", "num_classes": 3, "model_kwargs": TINY, "class_names": ["a", "b", "c"]}
    path = save(_scratch() / "tiny" / "best.safetensors", model, meta)
    return path.read_bytes(), path.with_suffix(".json").read_bytes()


@functools.cache
def tiny_tensors() -> dict[str, torch.Tensor]:
    return read_checkpoint(scratch_file(tiny_checkpoint()[0], ".safetensors"))[0]


def test_tiny_checkpoint_round_trip() -> None:
    model, _, meta = load_checkpoint(scratch_file(tiny_checkpoint()[0], ".safetensors"))
    assert meta["model"] == "googlenet" and meta["num_classes"] == 3
    for k, v in model.state_dict().items():
        assert torch.equal(v, tiny_tensors()[k])


def _load_both(path: Path) -> None:
    """read_checkpoint and load_checkpoint: a result or a one-line CheckpointError/UserError."""
    out = attempt(read_checkpoint, path)
    if isinstance(out, UserError):
        assert isinstance(out, CheckpointError)
    attempt(load_checkpoint, path)


@fuzz(150)
@given(
    head=st.one_of(
        st.just(b""),
        st.builds(lambda n: struct.pack("<Q", n), st.integers(0, 2**64 - 1)),
        st.builds(lambda n: struct.pack("<Q", n), st.integers(0, 64)),
    ),
    body=st.binary(max_size=120),
)
@example(head=struct.pack("<Q", 2), body=b"{}")
@example(head=struct.pack("<Q", 2), body=b"[]")
@example(head=struct.pack("<Q", 7), body=b'{"a":1}')
def test_checkpoint_random_bytes(head: bytes, body: bytes) -> None:
    _load_both(scratch_file(head + body, ".safetensors"))


@fuzz(60)
@given(name=st.one_of(st.text(max_size=30), st.text(alphabet="ab/.", min_size=250, max_size=300)))
@example(name="a" * 300)
@example(name="\x00")
@example(name="")
def test_checkpoint_any_path(name: str) -> None:
    _load_both(Path(name))


def test_checkpoint_truncated_everywhere() -> None:
    """Every proper prefix of a real checkpoint is refused (the header's offsets no longer fit the file)."""
    data = tiny_checkpoint()[0]
    (header_len,) = struct.unpack("<Q", data[:8])
    cuts = sorted({*range(0, 8 + header_len + 64), *range(8 + header_len, len(data), 97), len(data) - 1})
    path = scratch_file(b"", ".safetensors")
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError) as info:
            read_checkpoint(path)
        check_message(info.value)


@fuzz(100)
@given(data=st.data())
def test_checkpoint_corrupted_header(data: st.DataObject) -> None:
    """Random bytes overwritten in the length prefix or the JSON header of a real checkpoint."""
    blob = bytearray(tiny_checkpoint()[0])
    (header_len,) = struct.unpack("<Q", blob[:8])
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        blob[data.draw(st.integers(0, 8 + header_len - 1))] = data.draw(st.integers(0, 255))
    _load_both(scratch_file(bytes(blob), ".safetensors"))


# metadata values: the right types, plausible wrong ones, and anything JSON holds (numbers kept small: a
# checkpoint naming 10**9 classes would build that model before its shapes are compared)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=5,
)
small_kwargs = st.dictionaries(
    st.sampled_from(
        ["width", "aux_logits", "in_chans", "lrn", "dropout", "init", "ch5x5_kernel", "pool4_kernel", "bogus", ""]
    ),
    st.one_of(st.none(), st.booleans(), st.integers(-3, 4), st.floats(-1, 0.06), st.text(max_size=6)),
    max_size=3,
).map(lambda kw: {**TINY, **kw} if "width" not in kw else kw)
META_FIELDS = {
    "format": st.one_of(st.just(1), json_values),
    "model": st.one_of(st.just("googlenet"), st.sampled_from(["", "resnet18x", "googlenet\n"]), json_values),
    "num_classes": st.one_of(st.just(3), json_values),
    "model_kwargs": st.one_of(st.just(TINY), small_kwargs, json_values),
    "class_names": st.one_of(st.just(["a", "b", "c"]), st.lists(st.text(max_size=4), max_size=4), json_values),
    "mean": st.one_of(st.just([0.5, 0.5, 0.5]), st.lists(st.floats(), max_size=4), json_values),
    "std": st.one_of(st.just([0.2, 0.2, 0.2]), st.lists(st.floats(), max_size=4), json_values),
    "input_size": st.one_of(st.just(32), json_values),
    "crop_fraction": st.one_of(st.just(0.875), json_values),
    "epoch": json_values,
    "metrics": json_values,
    "config": st.one_of(st.just({"crop_fraction": 0.875}), st.dictionaries(st.just("crop_fraction"), json_values)),
}
metadata = st.fixed_dictionaries({}, optional=META_FIELDS)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: initializing zero-element tensors
@pytest.mark.parametrize(
    "kwargs",
    [{"width": -1}, {"dropout": 2}, {"ch5x5_kernel": 0}, {"a\nb": 1}],
    ids=["width", "dropout", "kernel", "newline"],
)
def test_builder_refusals(kwargs: dict[str, Any]) -> None:
    """Builder options no GoogLeNet can have are refused in one line naming the option, never built."""
    meta = {"model": "googlenet", "num_classes": 3, "model_kwargs": {**TINY, **kwargs}}
    with pytest.raises(UserError) as refused:
        load_checkpoint(_write_checkpoint(json.dumps(meta), None))
    check_message(refused.value)
    assert repr(next(iter(kwargs)))[1:-1] in str(refused.value), str(refused.value)


def _write_checkpoint(header_meta: str | None, sidecar: bytes | None) -> Path:
    from safetensors.torch import save_file

    folder = Path(tempfile.mkdtemp(dir=_scratch()))
    path = folder / "best.safetensors"
    save_file(tiny_tensors(), str(path), metadata=None if header_meta is None else {"googlenet": header_meta})
    if sidecar is not None:
        path.with_suffix(".json").write_bytes(sidecar)
    return path


@pytest.mark.filterwarnings("ignore::UserWarning")
@fuzz(150)
@given(meta=st.one_of(metadata, json_values), where=st.sampled_from(["header", "sidecar"]))
@example(meta={"model": "googlenet", "model_kwargs": [1]}, where="header")
@example(meta={"model": 5}, where="header")
@example(meta={"model": None, "num_classes": 3}, where="header")
@example(meta={"model": ["googlenet"]}, where="sidecar")
@example(meta={"model": "googlenet", "num_classes": "3", "model_kwargs": TINY}, where="header")
def test_checkpoint_metadata_wrong_types(meta: Any, where: str) -> None:
    text = json.dumps(meta)
    path = _write_checkpoint(text if where == "header" else None, text.encode() if where == "sidecar" else None)
    _load_both(path)
    out = attempt(load_checkpoint, path.parent)  # a run folder finds best.safetensors
    if not isinstance(out, UserError):
        model, got = out
        assert isinstance(model, torch.nn.Module) and json.dumps(got) == text


@fuzz(100)
@given(
    header=st.one_of(st.none(), st.text(max_size=40), st.just("[" * 5000), st.just('{"a":' * 3000)),
    sidecar=st.one_of(st.none(), st.binary(max_size=40), st.just(b"[" * 100000), st.text(max_size=40).map(str.encode)),
)
@example(header="[" * 100000, sidecar=None)
@example(header=None, sidecar=b"\xff\xfe")
@example(header=None, sidecar=b"NaN")
def test_checkpoint_metadata_not_json(header: str | None, sidecar: bytes | None) -> None:
    _load_both(_write_checkpoint(header, sidecar))
