"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import parse_pairs
from ..contract import ModelContract
from ..errors import one_line, path_error
from ..probe import check_input_size


def parse_model_args(items: list[str] | None) -> dict[str, Any]:
    """``["width=5e-1", "aux_logits=false"]`` -> ``{"width": 0.5, "aux_logits": False}``: the CLI's one
    ``KEY=VALUE`` parser (:func:`googlenet.config.parse_pairs`, YAML values)."""
    return parse_pairs(items)


def writable_parent(path: Path) -> None:
    """Refuse ``path`` when its folder cannot be made or written: a file on the way, no permission.

    Missing folders are fine: the commands create them (as ``atomic_write`` does)."""
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {one_line(path)}: {one_line(probe)} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {one_line(path)}: no permission to write in {one_line(probe)}")


def output_file(text: str) -> str:
    """argparse type: a file the command will write (not a folder; its folder can be made and written)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"a file name cannot hold a NUL character: {text!r}")
    if text.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{one_line(text)} names a folder; give a file name")
    path = Path(text)
    try:
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{one_line(text)} is a folder; give a file name")
        writable_parent(path)
    except OSError as err:  # a name too long, a loop of links: what the system says, on one line
        raise argparse.ArgumentTypeError(path_error(err) or f"cannot write {text!r}: {err.strerror}") from None
    return text


PLOT_SUFFIXES = (".png", ".svg", ".pdf")


def output_file_or_stdout(text: str) -> str:
    """argparse type: ``-`` (standard output) or a file the command will write (:func:`output_file`)."""
    return text if text == "-" else output_file(text)


def plot_file(text: str) -> str:
    """argparse type: a chart file, ``.png``, ``.svg`` or ``.pdf``; a name without a suffix gets ``.png`` (the file
    the command then names is the one written)."""
    suffix = Path(output_file(text)).suffix.lower()
    if not suffix:
        return output_file(text + ".png")
    if suffix not in PLOT_SUFFIXES:
        raise argparse.ArgumentTypeError(f"cannot draw {one_line(text)}: charts are {', '.join(PLOT_SUFFIXES)}")
    return text


def check_contract_size(contract: ModelContract) -> None:
    """The crop a command will feed ``contract``'s model must fit the network: one line with its smallest size."""
    check_input_size(contract.model, contract.input_size, **dict(contract.model_kwargs))


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
