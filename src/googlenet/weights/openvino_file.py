"""OpenVINO IR as ``googlenet export --format openvino`` writes it: ``model.xml`` (the graph) and ``model.bin`` (its
weights, float32) beside it, with the model's contract kept in the IR itself as JSON under ``googlenet`` in the
model's ``rt_info`` (``ov.Model.set_rt_info``; read back with ``get_rt_info``), so the ``.xml`` alone carries it.
The ``.bin``'s size and SHA-256 go under ``googlenet_weights`` in the same ``rt_info``: a ``.bin`` swapped for
another model's, or cut short, is refused in one line rather than run.

The file runs on OpenVINO (CPU). As exported (``--backend eager``) it runs at f32 (``INFERENCE_PRECISION_HINT``),
the precision the export's parity check held it to; ``--backend openvino`` runs it at OpenVINO's default for the
machine (bf16 where the CPU has bf16 instructions), as the ``openvino`` back end does. ``openvino`` is optional
(``pip install 'googlenet[openvino]'``) and imported on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from ..fileio import shown
from ..runtime import openvino_engine
from .errors import ModelFileError
from .formats import (
    META_KEY,
    Forward,
    ModelFile,
    ModelFormat,
    exported_contract,
    exported_meta,
    register_format,
)

SUFFIXES = (".xml",)
WEIGHTS_KEY = f"{META_KEY}_weights"  # rt_info: {"bytes": ..., "sha256": ...} of the .bin written with the .xml
INSTALL = "pip install 'googlenet[openvino]'"
AS_EXPORTED = "f32"  # the precision the export's parity check runs the IR at, and ``--backend eager`` runs it at


def weights_path(xml: str | os.PathLike) -> Path:
    """The ``.bin`` OpenVINO reads beside ``xml`` (same name, suffix ``.bin``)."""
    return Path(xml).with_suffix(".bin")


def import_openvino(what: str) -> Any:
    """The ``openvino`` module; one line naming the extra when it is not installed (``what`` needs it)."""
    try:
        import openvino
    except ModuleNotFoundError as err:
        if (err.name or "").split(".")[0] != "openvino":
            raise
        raise ModelFileError(f"{what} needs the openvino package: {INSTALL}") from None
    return openvino


def _digest(path: Path) -> dict[str, Any]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def save_openvino(ov_model: Any, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Write ``ov_model`` as IR at ``path`` (``.xml``) and its ``.bin`` beside it, float32 weights, with
    ``metadata`` (JSON) and the ``.bin``'s digest in its ``rt_info``. Not atomic: the exporter writes it in a
    staging folder and moves the pair into place once it has passed the parity check."""
    ov = import_openvino("--format openvino")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ov_model.set_rt_info(json.dumps(metadata, sort_keys=True), [META_KEY])
    ov.save_model(ov_model, str(path), compress_to_fp16=False)
    digest = _digest(weights_path(path))
    for key, value in digest.items():
        ov_model.set_rt_info(str(value), [WEIGHTS_KEY, key])
    ov.save_model(ov_model, str(path), compress_to_fp16=False)  # the .xml again, now with the .bin's digest
    if _digest(weights_path(path)) != digest:
        raise ModelFileError(f"{shown(path)}: OpenVINO wrote different weights twice; the IR is not kept")
    return path


def move_ir(source: Path, path: Path) -> Path:
    """Move the IR pair at ``source`` to ``path`` (the ``.bin`` first, so the ``.xml`` never names missing
    weights)."""
    os.replace(weights_path(source), weights_path(path))
    os.replace(source, path)
    return path


def _why(err: Exception) -> str:
    """OpenVINO's own reason, without its source locations (``Exception from src/...``, ``Check '...' failed``)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    kept = [ln for ln in lines if not ln.startswith(("Exception from ", "Check '"))]
    return (kept or lines or [type(err).__name__])[-1][:200]


def _rt_text(ov_model: Any, keys: list[str]) -> str | None:
    return str(ov_model.get_rt_info(keys).astype(str)) if ov_model.has_rt_info(keys) else None


def read_openvino(path: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """``(openvino.Model, googlenet metadata)`` of the IR at ``path``; one line for a missing or damaged ``.bin``, a
    corrupt ``.xml``, a missing ``openvino`` package, or an ``.xml`` that is no ``googlenet export``."""
    path = Path(path)
    weights = weights_path(path)
    if not weights.is_file():
        raise ModelFileError(
            f"{shown(path)}: its weights {shown(weights.name)} are missing (an OpenVINO IR is the .xml and the "
            ".bin of the same name beside it)"
        )
    ov = import_openvino(f"{shown(path)} is an OpenVINO IR: reading it")
    try:
        ov_model = ov.Core().read_model(str(path), str(weights))
    except RuntimeError as err:
        raise ModelFileError(f"{shown(path)} is not a readable OpenVINO IR with {weights.name} ({_why(err)})") from None
    meta = exported_meta(_rt_text(ov_model, [META_KEY]) or "", path)
    exported_contract(meta, path)  # an IR from elsewhere: "carries no googlenet contract", as for ONNX
    recorded = {k: _rt_text(ov_model, [WEIGHTS_KEY, k]) for k in ("bytes", "sha256")}
    if None not in recorded.values():
        found = _digest(weights)
        if str(found["bytes"]) != recorded["bytes"]:
            why = f"{found['bytes']} bytes, {recorded['bytes']} expected"
        elif found["sha256"] != recorded["sha256"]:
            why = "its size, other contents: the SHA-256 differs"
        else:
            return ov_model, meta
        raise ModelFileError(f"{shown(path)}: {weights.name} is not the weights file exported with it ({why})")
    return ov_model, meta


def sniff(path: Path, head: bytes) -> bool:
    """An ``.xml`` name, or XML whose root is an IR ``<net>``."""
    start = head.lstrip()
    return path.suffix.lower() in SUFFIXES or (start.startswith(b"<?xml") and b"<net " in start)


def open_openvino(path: Path) -> ModelFile:
    """An OpenVINO IR with its contract; it runs on OpenVINO (CPU), at f32 as exported or, with
    ``--backend openvino``, at OpenVINO's default precision for the machine."""
    ov_model, meta = read_openvino(path)
    contract = exported_contract(meta, path)

    def runner(backend: str, device: str, batch_size: int, threads: int | None, _: object) -> Forward:
        if backend not in ("eager", "openvino"):
            raise ModelFileError(
                f"{shown(path)} is an OpenVINO IR: it runs on OpenVINO as exported (--backend eager, f32) or at the "
                f"machine's default precision (--backend openvino); --backend {backend} rebuilds a graph from "
                "PyTorch weights and needs a .safetensors checkpoint"
            )
        if torch.device(device).type != "cpu":
            raise ModelFileError(f"{shown(path)} is an OpenVINO IR: it runs on the CPU (OpenVINO), not {device}")
        precision = AS_EXPORTED if backend == "eager" else None
        return openvino_engine.forward_of(openvino_engine.compile_model(ov_model, threads, precision))

    return ModelFile(path, "openvino", contract, meta, runner)


register_format(ModelFormat("openvino", sniff, open_openvino, SUFFIXES, order=35))
