"""Property-based fuzzing (hypothesis) of what a user types for output paths, sizes and numbers, through the CLI.

The fuzz layer's rule (tests/test_fuzz.py) at the command line: whatever is typed, a command exits 0 having
written the file it names, or exits 2 with one line on stderr; never a traceback, never another status. Sizes are
checked against the network itself: a crop is refused exactly when a real forward pass of the model fails on it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import math
from pathlib import Path

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from _fuzzing import scratch_dir
from googlenet.cli import main
from googlenet.cli._common import PLOT_SUFFIXES, check_contract_size, output_file, plot_file
from googlenet.cli.argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from googlenet.errors import InputSizeError
from googlenet.factory import create_model, default_contract
from googlenet.weights import save as save_weights

FUZZ = settings(deadline=None, database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
TINY = {"width": 0.05, "aux_logits": False}


def fuzz(n: int) -> settings:
    return settings(FUZZ, max_examples=n)


@functools.cache
def tiny_checkpoint() -> Path:
    """A 3-class GoogLeNet at width 0.05, 32 px, saved by the package."""
    torch.manual_seed(0)
    contract = default_contract("googlenet", 3, **TINY).replace(class_names=("a", "b", "c"), input_size=32)
    return save_weights(scratch_dir() / "tiny.safetensors", create_model("googlenet", 3, **TINY), contract.to_meta())


def run(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)``: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def assert_one_line_refusal(code: int, err: str, command: str) -> None:
    lines = err.splitlines()
    assert code == 2, (code, err)
    assert len(lines) == 1 and lines[0].startswith(f"googlenet {command}: error: "), err
    assert "Traceback" not in err


# ---------------------------------------------------------------- output paths
SEGMENT = st.one_of(
    st.sampled_from(["afile", "adir", "new", "..", ".", "card.md", "x" * 300, "a\nb", "nul\0", " ", "~"]),
    st.text(alphabet=st.characters(exclude_characters="/", exclude_categories=["Cs"]), min_size=1, max_size=12),
)


@functools.cache
def _counter() -> list[int]:
    return [0]


def fresh_root() -> Path:
    """A new folder for one example, holding a file ``afile`` and a folder ``adir``."""
    _counter()[0] += 1
    root = scratch_dir() / f"ex{_counter()[0]}"
    (root / "adir").mkdir(parents=True)
    (root / "afile").write_text("a file\n")
    return root


@fuzz(60)
@given(segments=st.lists(SEGMENT, min_size=1, max_size=4), absolute=st.booleans())
@example(segments=["afile", "card.md"], absolute=True)
@example(segments=["adir"], absolute=True)
@example(segments=["new", "deeper", "card.md"], absolute=True)
@example(segments=["x" * 300], absolute=True)
@example(segments=["nul\0"], absolute=True)
def test_card_output_path_is_written_or_one_line(segments: list[str], absolute: bool) -> None:
    root = fresh_root()
    target = str(root.joinpath(*segments)) if absolute else "/".join(segments)
    with contextlib.chdir(root):
        code, _, err = run(["card", str(tiny_checkpoint()), "-o", target])
        if code == 0:
            assert Path(target).read_text().startswith("# "), target  # the card is at the path it was given
        else:
            assert_one_line_refusal(code, err, "card")


@fuzz(80)
@given(text=st.text(max_size=40))
@example(text="")
@example(text="chart")
@example(text="x.svgz")
@example(text="a\0b.png")
def test_output_file_and_plot_file_types(text: str) -> None:
    """argparse types: the path back (a chart's with a drawable suffix) or a one-line ArgumentTypeError."""
    with contextlib.chdir(fresh_root()):
        for kind in (output_file, plot_file):
            try:
                got = kind(text)
            except argparse.ArgumentTypeError as err:
                assert str(err).strip() and len(str(err).splitlines()) == 1, repr(str(err))
                continue
            assert not Path(got).is_dir() and "\0" not in got
            if kind is plot_file:
                assert Path(got).suffix.lower() in PLOT_SUFFIXES and got.startswith(text)  # ".png" -> ".png.png"


# ---------------------------------------------------------------- sizes: refused exactly when the network fails
@functools.cache
def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("googlenet", 3, **TINY).eval()


def forward_fits(size: int) -> bool:
    """The independent answer: does a real forward pass of the network take a ``size`` px image?"""
    try:
        with torch.no_grad():
            return tiny_model()(torch.zeros(1, 3, size, size)).shape == (1, 3)
    except RuntimeError:
        return False


@fuzz(40)
@given(size=st.integers(1, 72))
@example(size=1)
@example(size=31)
@example(size=32)
def test_a_crop_is_refused_exactly_when_the_network_cannot_take_it(size: int) -> None:
    contract = default_contract("googlenet", 3, **TINY).replace(input_size=size)
    try:
        check_contract_size(contract)
        accepted = True
    except InputSizeError as err:
        assert len(str(err).splitlines()) == 1 and f"{size} px" in str(err)
        accepted = False
    assert accepted == forward_fits(size), size


@fuzz(25)
@given(size=st.one_of(st.integers(-3, 40), st.text(max_size=6)))
@example(size=0)
@example(size=2)
@example(size="1e3")
def test_predict_input_size_is_a_result_or_one_line(size: int | str) -> None:
    root = fresh_root()
    image = root / "img.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(image)
    code, out, err = run(["predict", "--checkpoint", str(tiny_checkpoint()), str(image), "--input-size", str(size)])
    if code == 0:
        assert str(image) in out and int(str(size)) >= 1 and forward_fits(int(str(size)))
    else:
        assert_one_line_refusal(code, err, "predict")


# ---------------------------------------------------------------- numbers typed on the command line
NUMBER_TEXT = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0", "-0", "1e3", " 7 ", "0x10", "1_000", "nan", "inf", "-inf", "1\n", "-1\n", "٣"]),
)


@fuzz(200)
@given(text=NUMBER_TEXT)
def test_number_types_keep_their_meaning(text: str) -> None:
    """Every argparse number type: a value in its range, or a one-line ArgumentTypeError."""
    bounds = {
        positive_int: lambda v: isinstance(v, int) and v >= 1,
        non_negative_int: lambda v: isinstance(v, int) and v >= 0,
        positive_float: lambda v: math.isfinite(v) and v > 0,
        non_negative_float: lambda v: math.isfinite(v) and v >= 0,
    }
    for kind, ok in bounds.items():
        try:
            value = kind(text)
        except argparse.ArgumentTypeError as err:
            assert str(err).strip() and len(str(err).splitlines()) == 1, (kind.__name__, repr(str(err)))
            continue
        assert ok(value), (kind.__name__, text, value)
