"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from collections.abc import Iterator
from typing import Any

from ..config import parse_pairs


def parse_model_args(items: list[str] | None) -> dict[str, Any]:
    """``["width=5e-1", "aux_logits=false"]`` -> ``{"width": 0.5, "aux_logits": False}``: the CLI's one
    ``KEY=VALUE`` parser (:func:`googlenet.config.parse_pairs`, YAML values)."""
    return parse_pairs(items)


def _int_at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what} integer, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a clear usage error otherwise, not a failure deep inside torch)."""
    return _int_at_least(text, 1, "a positive")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0, "a non-negative")


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` options passed to the model builder."""
    parser.add_argument(
        "--set",
        dest="model_args",
        action="append",
        metavar="KEY=VALUE",
        help="model builder option, repeatable (e.g. --set width=0.5 --set aux_logits=false)",
    )


def human(n: float, unit: str = "") -> str:
    """1234567 -> '1.23M' (K, M, G)."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}{unit}"
    return f"{n:g}{unit}"


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool = True) -> Iterator[None]:
    """With ``--json``, stdout carries the JSON alone: whatever is printed meanwhile goes to stderr.

    That covers the command's own notes and any chatter of the libraries it calls; print the JSON after
    the block, with :func:`print_json`.
    """
    if not enabled:
        yield
        return
    sys.stdout.flush()
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _finite(obj: Any) -> Any:
    """``obj`` with NaN and infinities as None: JSON has no such numbers (Python would write ``NaN``)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def print_json(obj: Any, indent: int | None = 2) -> None:
    """``obj`` as strict JSON on stdout (``indent=None``: one line, for JSON lines)."""
    print(json.dumps(_finite(obj), indent=indent, allow_nan=False), flush=True)
