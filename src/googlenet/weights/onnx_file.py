"""ONNX files as ``googlenet export`` writes them: the contract as JSON under ``googlenet`` in ``metadata_props``
(plus flat keys other tools can read), run by ONNX Runtime on the CPU.

A static-batch file (exported without ``--dynamic-batch``) takes exactly its batch size: ONNX Runtime's forward
(:func:`googlenet.runtime.onnx.ort_forward`) runs other batches in chunks of that size, so every command can feed it
any batch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from ..fileio import atomic_write, one_line, shown
from ..runtime.onnx import ort_forward
from .errors import ModelFileError
from .formats import (
    META_KEY,
    Forward,
    ModelFile,
    ModelFormat,
    exported_contract,
    exported_meta,
    own_runtime_only,
    register_format,
)

FLAT_KEYS = ("model", "input_size", "mean", "std", "class_names", "normalization")
SUFFIXES = (".onnx",)


def set_onnx_metadata(proto: Any, metadata: dict[str, Any]) -> None:
    """Store ``metadata`` as JSON under ``googlenet``, plus :data:`FLAT_KEYS` one by one."""
    flat = {META_KEY: json.dumps(metadata, sort_keys=True)}
    for key in FLAT_KEYS:
        if metadata.get(key) is not None:
            value = metadata[key]
            flat[key] = value if isinstance(value, str) else json.dumps(value)
    del proto.metadata_props[:]
    for key, value in flat.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def save_onnx(proto: Any, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write an ONNX model (with ``metadata`` when given) atomically; folders are created."""
    import onnx

    if metadata:
        set_onnx_metadata(proto, metadata)
    return atomic_write(path, lambda tmp: onnx.save(proto, tmp))


def _proto(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:  # (protobuf raises several types for a file that is not ONNX, or is cut short)
        raise ModelFileError(
            f"{shown(path)} is not a readable ONNX file ({one_line(err) or type(err).__name__})"
        ) from None


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``googlenet`` metadata of an ONNX file (``{}`` when it has none)."""
    path = Path(path)
    text = {p.key: p.value for p in _proto(path).metadata_props}.get(META_KEY, "")
    return exported_meta(text, path)


def sniff(path: Path, head: bytes) -> bool:
    """An ONNX ``ModelProto`` starts with field 1 (``ir_version``, varint: byte 0x08); with an ``.onnx`` suffix or
    that first byte and no other format's magic, it is tried as ONNX."""
    zipped = head.startswith(b"PK")  # TorchScript or torch.save, whatever the name says
    return not zipped and (path.suffix.lower() in SUFFIXES or head[:1] == b"\x08")


def open_onnx(path: Path) -> ModelFile:
    """An ONNX file with its contract; it runs on ONNX Runtime (CPU)."""
    meta = read_onnx_metadata(path)
    contract = exported_contract(meta, path)

    def runner(backend: str, device: str, batch_size: int, threads: int | None, _: object) -> Forward:
        own_runtime_only(path, "an ONNX file", "ONNX Runtime", backend)
        if torch.device(device).type != "cpu":
            raise ModelFileError(f"{shown(path)} is an ONNX file: it runs on the CPU (ONNX Runtime), not {device}")
        return ort_forward(path, threads)

    return ModelFile(path, "onnx", contract, meta, runner)


register_format(ModelFormat("onnx", sniff, open_onnx, SUFFIXES, order=30))
