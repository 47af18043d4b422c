"""TorchScript files as ``googlenet export -f torchscript`` writes them (``.pt``/``.ts``): a zip archive with the
contract as JSON in the extra file ``extra/googlenet.json``, run by ``torch.jit``."""

from __future__ import annotations

import json
import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..fileio import atomic_write, one_line, shown
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

EXTRA_FILE = f"{META_KEY}.json"  # torch.jit.save puts it under extra/ in the archive
SUFFIXES = (".pt", ".ts", ".pth", ".jit")


def save_torchscript(graph: nn.Module, path: str | os.PathLike, example: Tensor, metadata: dict[str, Any]) -> Path:
    """``graph`` as TorchScript (scripted; traced when scripting fails) with the metadata as an extra file,
    written atomically."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = torch.jit.script(graph)
        except Exception:  # (models outside this package may not script; tracing covers them)
            module = torch.jit.trace(graph, example, check_trace=False)
    extra = {EXTRA_FILE: json.dumps(metadata, sort_keys=True)}

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
            torch.jit.save(module, tmp, _extra_files=extra)

    return atomic_write(path, write)


def _is_torchscript_archive(path: Path) -> bool:
    """A zip archive holding TorchScript code (``code/``) rather than ``torch.save``'s pickled data only."""
    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in n or n.startswith("code/") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_torchscript_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``googlenet`` metadata of a TorchScript file (``{}`` when it has none)."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(f"extra/{EXTRA_FILE}")]
            text = z.read(names[0]).decode() if names else ""
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{shown(path)} is not a readable TorchScript file ({one_line(err)})") from None
    return exported_meta(text, path)


def sniff(path: Path, head: bytes) -> bool:
    """A zip archive (``PK``) with TorchScript code in it."""
    return head.startswith(b"PK\x03\x04") and _is_torchscript_archive(path)


def open_torchscript(path: Path) -> ModelFile:
    """A TorchScript file with its contract; it runs on ``torch.jit`` on any device."""
    meta = read_torchscript_metadata(path)
    contract = exported_contract(meta, path)

    def runner(backend: str, device: str, batch_size: int, threads: int | None, _: object) -> Forward:
        own_runtime_only(path, "a TorchScript file", "torch.jit", backend)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
                module = torch.jit.load(str(path), map_location=device).eval()
        except Exception as err:  # (torch.jit raises RuntimeError and others for a damaged archive)
            raise ModelFileError(f"{shown(path)}: torch.jit cannot load it ({one_line(err)[:200]})") from None

        def run(x: Tensor) -> Tensor:
            with torch.inference_mode():
                return module(x.to(device))

        return run

    return ModelFile(path, "torchscript", contract, meta, runner)


register_format(ModelFormat("torchscript", sniff, open_torchscript, SUFFIXES, order=20))
