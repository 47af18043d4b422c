"""Weights on disk: safetensors plus a small JSON of metadata, written atomically.

A checkpoint ``best.safetensors`` carries its metadata twice: inside the safetensors header (key
``googlenet``, so the file is self-contained) and beside it as ``best.json`` for people and tools.
Loading never unpickles code: safetensors holds tensors only.

Metadata fields (all optional except ``model``)::

    {"format": 1, "model": "googlenet", "num_classes": 10, "model_kwargs": {"width": 0.5},
     "class_names": [...], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
     "input_size": 224, "epoch": 12, "metrics": {...}, "config": {...}}
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .errors import UserError

FORMAT_VERSION = 1
META_KEY = "googlenet"


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable, or does not fit the model."""


def _shown(path: str | os.PathLike) -> str:
    """A path for a one-line message: as is, or quoted when it holds a newline or other control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def _one_line(err: object) -> str:
    """An error's text on one line (runs of whitespace, newlines included, as one space)."""
    return " ".join(str(err).split())


def _umask() -> int:
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, fsync, then rename over ``path``: readers never see a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes it owner-only; give it the mode open() would
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _write_text(path: Path, text: str) -> None:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    atomic_write(path, write)


def save_weights(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Save ``model``'s state dict to ``path`` (.safetensors) with ``meta``, atomically, plus a .json beside it."""
    from safetensors.torch import save_file

    if "model" not in meta:
        raise ValueError("checkpoint metadata needs the registered model name under 'model'")
    meta = {"format": FORMAT_VERSION, **meta}
    text = json.dumps(meta, indent=2, sort_keys=True, default=str)
    # safetensors refuses shared storage; contiguous clones keep the file independent of the model
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={META_KEY: text}))
    _write_text(path.with_suffix(".json"), text + "\n")
    return path


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a .safetensors checkpoint; a clear :class:`CheckpointError` otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = _find(Path(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{_shown(path)} is not a readable safetensors checkpoint ({_one_line(err)})") from None
    meta: Any = {}
    source = path
    try:
        if META_KEY in header:
            meta = json.loads(header[META_KEY])
        elif path.with_suffix(".json").is_file():
            source = path.with_suffix(".json")
            meta = json.loads(source.read_text())
    except (ValueError, OSError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{_shown(source)}: unreadable checkpoint metadata ({_one_line(err)})") from None
    except RecursionError:
        raise CheckpointError(f"{_shown(source)}: unreadable checkpoint metadata (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{_shown(source)}: checkpoint metadata must be a JSON object, not {type(meta).__name__}")
    return tensors, meta


def _find(path: Path) -> Path:
    """``path``, or the best/last/model.safetensors in the run folder ``path``; CheckpointError if none."""
    try:
        if path.is_dir():
            for name in ("best.safetensors", "last.safetensors", "model.safetensors"):
                if (path / name).is_file():
                    return path / name
            raise CheckpointError(f"{_shown(path)} is a directory with no best/last/model.safetensors in it")
        if path.is_file():
            return path
    except OSError as err:  # a name too long, a folder without permission
        raise CheckpointError(f"cannot look for a checkpoint at {_shown(path)} ({err.strerror or err})") from None
    raise CheckpointError(f"checkpoint not found: {_shown(path)}")


def load_state_strict(model: nn.Module, tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Load ``tensors`` into ``model`` only if every key and shape matches; name the first mismatch otherwise."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing key {missing[0]!r} ({len(missing)} missing)")
        if unexpected:
            parts.append(f"unexpected key {unexpected[0]!r} ({len(unexpected)} unexpected)")
        raise CheckpointError(f"{_shown(source)} does not fit {type(model).__name__}: " + ", ".join(parts))
    for k, v in expected.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise CheckpointError(
                f"{_shown(source)} does not fit {type(model).__name__}: key {k!r} has shape {tuple(tensors[k].shape)}, "
                f"the model expects {tuple(v.shape)}"
            )
    model.load_state_dict(tensors, strict=True)
