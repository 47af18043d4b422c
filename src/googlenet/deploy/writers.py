"""Writing an inference graph to a file: ONNX (metadata in ``metadata_props``) or TorchScript (an extra file).

Both writers are atomic (a file appears whole at its path or not at all) and store the metadata as JSON under
:data:`~googlenet.runtime.exported.META_KEY`; ONNX also gets flat keys other tools can read without our code.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..checkpoint import atomic_write
from ..runtime.exported import META_KEY, TORCHSCRIPT_META
from ..runtime.onnx import DEFAULT_OPSET, to_onnx

FLAT_KEYS = ("model", "input_size", "mean", "std", "class_names", "normalization")


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: onnx.save(proto, tmp))


def write_onnx(
    graph: nn.Module,
    path: str | os.PathLike,
    example: Tensor,
    *,
    dynamic_batch: bool = False,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = True,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """``graph`` as a single-file ONNX model (see :func:`googlenet.runtime.onnx.to_onnx`) at ``path``."""
    proto = to_onnx(graph, example, dynamic_batch=dynamic_batch, opset=opset, dynamo=dynamo)
    return save_onnx(proto, path, metadata)


def write_torchscript(graph: nn.Module, path: str | os.PathLike, example: Tensor, metadata: dict[str, Any]) -> Path:
    """``graph`` as TorchScript (scripted; traced when scripting fails) with the metadata as an extra file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = torch.jit.script(graph)
        except Exception:  # (models outside this package may not script; tracing covers them)
            module = torch.jit.trace(graph, example, check_trace=False)
    extra = {TORCHSCRIPT_META: json.dumps(metadata, sort_keys=True)}

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
            torch.jit.save(module, tmp, _extra_files=extra)

    return atomic_write(path, write)
