"""One loader for every model file the project writes: :func:`open_model` picks the format by content (magic
bytes) and suffix, and returns a :class:`~googlenet.weights.formats.ModelFile` that runs batches and carries the
file's contract. ``predict``, ``eval``, ``serve``, ``bench`` and ``card`` all read their ``--checkpoint`` here.

Formats are tried by their ``order``: safetensors checkpoints (and run folders), TorchScript archives, then ONNX
(its magic is weak, so its suffix counts too), then OpenVINO IR (an ``.xml`` with its ``.bin`` beside it).
Adding one (a Hugging Face Hub folder) is one module that calls
:func:`~googlenet.weights.formats.register_format`, imported below.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fileio import shown
from . import onnx_file, openvino_file, torchscript_file  # noqa: F401  (each registers its format)
from .checkpoint import find_checkpoint  # (and registers the checkpoint format)
from .errors import ModelFileError
from .formats import FORMATS, ModelFile, sniffing_order

HEAD_BYTES = 64


def _head(path: Path) -> bytes:
    try:
        if path.is_dir():
            return b""
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError as err:  # a folder without permission, a name too long
        raise ModelFileError(f"cannot read {shown(path)} ({err.strerror or err})") from None


def model_format(path: str | os.PathLike) -> str:
    """The registered format of the file (or run folder) at ``path``; :class:`ModelFileError` when none fits."""
    path = Path(path)
    try:
        found = path.exists()
    except OSError as err:  # a name too long
        raise ModelFileError(f"cannot look for a model file at {shown(path)} ({err.strerror or err})") from None
    if not found:
        raise ModelFileError(f"checkpoint not found: {shown(path)}")
    head = _head(path)
    for fmt in sniffing_order():
        if fmt.sniff(path, head):
            return fmt.name
    if path.is_dir():  # a folder no format claims: say what a run folder should hold
        find_checkpoint(path)
    known = ", ".join(f"{f.name} ({' '.join(f.suffixes)})" for f in FORMATS.values())
    raise ModelFileError(f"{shown(path)} is not a model file this project reads; it reads {known}")


def open_model(path: str | os.PathLike) -> ModelFile:
    """The model file (or run folder) at ``path``, opened by its format; one :class:`~googlenet.errors.UserError`
    line for a missing, unknown or damaged file."""
    return FORMATS[model_format(path)].open(Path(path))
