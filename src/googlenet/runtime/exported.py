"""Exported files (ONNX, TorchScript): their metadata, the contract it holds, and running them.

A file written by ``googlenet export`` carries its model's :meth:`~googlenet.contract.ModelContract.to_meta`
plus export fields (format, opset, whether normalisation is baked in) as JSON under the key ``googlenet``: in
ONNX ``metadata_props``, in TorchScript an extra file ``extra/googlenet.json`` of the zip archive.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..contract import ContractError, ModelContract
from .onnx import ExportError, ort_forward

META_KEY = "googlenet"
TORCHSCRIPT_META = f"{META_KEY}.json"  # extra file name (torch.jit.save puts it under extra/)
BAKED = "baked"  # metadata "normalization": the file takes 0..1 RGB and normalises itself


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"exported model not found: {path}")
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``googlenet`` metadata stored in an exported ONNX or TorchScript file (``{}`` when it has none)."""
    path = _existing(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(f"extra/{TORCHSCRIPT_META}")]
            text = z.read(names[0]).decode() if names else ""
    else:
        import onnx

        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as err:  # (protobuf raises several types)
            raise ExportError(f"{path} is neither an ONNX nor a TorchScript file ({err})") from None
        text = {p.key: p.value for p in proto.metadata_props}.get(META_KEY, "")
    try:
        meta = json.loads(text or "{}")
    except json.JSONDecodeError as err:
        raise ExportError(f"{path}: unreadable {META_KEY} metadata ({err})") from None
    if not isinstance(meta, dict):
        raise ExportError(f"{path}: {META_KEY} metadata is not a JSON object")
    return meta


def exported_contract(path: str | os.PathLike, meta: dict[str, Any] | None = None) -> ModelContract:
    """The contract of the model in an exported file (from ``meta`` when already read)."""
    meta = read_metadata(path) if meta is None else meta
    try:
        return ModelContract.from_meta(meta)
    except ContractError as err:
        raise ExportError(f"{path}: {err}") from None


def input_contract(contract: ModelContract, meta: dict[str, Any]) -> ModelContract:
    """What the file itself takes: ``contract``, or for baked normalisation 0..1 RGB and no mean/std."""
    if meta.get("normalization") != BAKED:
        return contract
    c = contract.in_chans
    return contract.replace(pixel_range=1.0, channel_order="RGB", mean=(0.0,) * c, std=(1.0,) * c)


def _jit_load(path: Path) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
        return torch.jit.load(str(path), map_location="cpu")


def load_exported(path: str | os.PathLike, threads: int | None = None) -> Callable[[Tensor], Tensor]:
    """An exported file as ``Tensor -> Tensor`` on the CPU: ONNX Runtime for ONNX, ``torch.jit`` for TorchScript."""
    path = _existing(path)
    if not zipfile.is_zipfile(path):
        return ort_forward(path, threads=threads)
    module = _jit_load(path).eval()

    def run(x: Tensor) -> Tensor:
        with torch.inference_mode():
            return module(x)

    return run
