"""This project's checkpoints: safetensors plus a small JSON of metadata (the model contract), written atomically.

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
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..contract import ContractError, ModelContract
from ..factory import create_model, model_info
from ..fileio import atomic_write, one_line, shown
from ..runtime.backends import make_backend
from .errors import CheckpointError
from .fit import load_state_strict
from .formats import META_KEY, Forward, ModelFile, ModelFormat, register_format

FORMAT_VERSION = 1
RUN_FILES = ("best.safetensors", "last.safetensors", "model.safetensors")  # looked for in this order in a run folder


def is_safetensors(head: bytes) -> bool:
    """Whether a file's first bytes are a safetensors header: an 8-byte little-endian length, then ``{``."""
    return len(head) >= 9 and head[8:9] == b"{" and 2 <= int.from_bytes(head[:8], "little") < 100_000_000


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> Path:
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
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text + "\n"))
    return path


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a .safetensors checkpoint (or of the run folder ``path``: its best, last or
    model.safetensors); a clear :class:`CheckpointError` otherwise."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    path = find_checkpoint(Path(path))
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{shown(path)} is not a readable safetensors checkpoint ({one_line(err)})") from None
    meta: Any = {}
    source = path
    try:
        if META_KEY in header:
            meta = json.loads(header[META_KEY])
        elif path.with_suffix(".json").is_file():
            source = path.with_suffix(".json")
            meta = json.loads(source.read_text())
    except (ValueError, OSError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(f"{shown(source)}: unreadable checkpoint metadata ({one_line(err)})") from None
    except RecursionError:
        raise CheckpointError(f"{shown(source)}: unreadable checkpoint metadata (nested too deeply)") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{shown(source)}: checkpoint metadata must be a JSON object, not {type(meta).__name__}")
    return tensors, meta


def find_checkpoint(path: Path) -> Path:
    """``path``, or the best/last/model.safetensors in the run folder ``path``; CheckpointError if none."""
    try:
        if path.is_dir():
            for name in RUN_FILES:
                if (path / name).is_file():
                    return path / name
            raise CheckpointError(f"{shown(path)} is a directory with no best/last/model.safetensors in it")
        if path.is_file():
            return path
    except OSError as err:  # a name too long, a folder without permission
        raise CheckpointError(f"cannot look for a checkpoint at {shown(path)} ({err.strerror or err})") from None
    raise CheckpointError(f"checkpoint not found: {shown(path)}")


def contract_of(meta: dict[str, Any], source: str | os.PathLike = "checkpoint") -> ModelContract:
    """The contract in checkpoint metadata, its missing fields filled from the registry's defaults."""
    if not isinstance(meta.get("model"), str):
        raise CheckpointError(f"{shown(source)} has no googlenet metadata naming its model")
    info = model_info(meta["model"])
    if info.task != "classify":
        raise CheckpointError(
            f"{shown(source)} is a {info.name} detection checkpoint, not a classifier: use `googlenet detect eval` "
            "or `googlenet detect predict`"
        )
    try:
        return ModelContract.from_meta(meta, input_size=info.default_input_size)
    except ContractError as err:
        raise CheckpointError(f"{shown(source)}: {err}") from None


def load_checkpoint(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, ModelContract, dict[str, Any]]:
    """Build the model a checkpoint names (its num_classes and builder options), load its weights strictly.

    Returns ``(model, contract, metadata)``; the metadata also holds what is not contract (epoch, metrics,
    the training config). ``overrides`` are builder options on top of the saved ones.
    """
    tensors, meta = read_checkpoint(path)
    contract = contract_of(meta, path)
    kwargs = {**contract.model_kwargs, **overrides}
    model = create_model(contract.model, num_classes=contract.num_classes, **kwargs)
    load_state_strict(model, tensors, source=str(path))
    if overrides:
        contract = contract.replace(model_kwargs=kwargs)
    return model, contract, meta


def sniff(path: Path, head: bytes) -> bool:
    """A ``.safetensors`` name, a safetensors header, or a run folder (it holds best/last/model.safetensors)."""
    if path.is_dir():
        return any((path / name).is_file() for name in RUN_FILES)
    return path.suffix.lower() == ".safetensors" or is_safetensors(head)


def open_checkpoint(path: Path) -> ModelFile:
    """A checkpoint as a :class:`~googlenet.weights.formats.ModelFile`: the eager model, runnable on every back end
    of :func:`googlenet.runtime.make_backend`."""
    found = find_checkpoint(path)
    model, contract, meta = load_checkpoint(found)
    model.eval()

    def runner(backend: str, device: str, batch_size: int, threads: int | None, c: ModelContract) -> Forward:
        return make_backend(backend, model, c, device=device, batch_size=batch_size, threads=threads)

    return ModelFile(found, "safetensors", contract, meta, runner, model)


register_format(ModelFormat("safetensors", sniff, open_checkpoint, (".safetensors",), order=10))
