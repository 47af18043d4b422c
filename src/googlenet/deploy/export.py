"""Export a model's inference graph to ONNX, TorchScript or OpenVINO IR, with its contract inside and a parity check.

The exported graph is ``forward(x) -> logits`` only (auxiliary heads are not on that path), with batch norm
folded into the convolutions and, optionally, the input normalisation baked in (the file then takes RGB in
[0, 1] and does the contract's scaling, channel order and mean/std itself). The file carries
``contract.to_meta()`` plus export fields; :func:`googlenet.weights.open_model` reads it back (the writers are
:mod:`googlenet.weights.onnx_file`, :mod:`googlenet.weights.torchscript_file` and
:mod:`googlenet.weights.openvino_file`; an IR is ``ov.convert_model`` of the graph, saved as ``.xml`` + ``.bin``
with float32 weights and the contract in its ``rt_info``).

Every export is checked: the file is loaded back with ONNX Runtime, ``torch.jit.load`` or OpenVINO (compiled at
f32) and run on real images, and its logits must match the eager model's within ``tolerance`` (max abs), else
:class:`ParityError`. A file that fails never reaches its path (an earlier file there stays).
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from ..contract import ModelContract
from ..preprocess import normalizer
from ..runtime.fuse import fold_batch_norm
from ..runtime.lrn import use_conv_lrn
from ..runtime.onnx import DEFAULT_OPSET, ExportError, to_onnx
from ..runtime.openvino_engine import convert_graph
from ..weights.formats import BAKED
from ..weights.onnx_file import open_onnx, save_onnx
from ..weights.openvino_file import move_ir, open_openvino, save_openvino
from ..weights.torchscript_file import open_torchscript, save_torchscript
from .parity import ParityError, check_parity

FORMATS = ("onnx", "torchscript", "openvino")

__all__ = ["FORMATS", "ExportError", "ExportResult", "ParityError", "check_format", "export_model", "inference_graph"]


@dataclass
class ExportResult:
    """What :func:`export_model` wrote and how closely it matches the eager model."""

    path: Path
    format: str
    max_abs_diff: float
    images: int
    max_rel_diff: float
    metadata: dict[str, Any] = field(default_factory=dict)


def inference_graph(model: nn.Module, contract: ModelContract | None = None) -> nn.Module:
    """Eval-mode copy of ``model`` with batch norm folded; with ``contract``, its normalisation baked in front."""
    graph = fold_batch_norm(model)
    return nn.Sequential(normalizer(contract), graph).eval() if contract is not None else graph


def _whole_batches(images: Tensor, batch_size: int) -> Tensor:
    """``images`` repeated up to the next multiple of ``batch_size`` (a static-batch file takes whole batches)."""
    wanted = -(-len(images) // batch_size) * batch_size
    return images.repeat(-(-wanted // len(images)), 1, 1, 1)[:wanted]


def check_format(fmt: str, path: str | os.PathLike | None = None) -> None:
    """:class:`ExportError` (one line) for a format this exporter does not write, or an IR not named ``.xml``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if fmt == "openvino" and path is not None and Path(path).suffix.lower() != ".xml":
        raise ExportError(f"--format openvino writes NAME.xml and NAME.bin beside it: name the output .xml, not {path}")


def export_model(
    model: nn.Module,
    path: str | os.PathLike,
    fmt: str = "onnx",
    *,
    images: Tensor,
    contract: ModelContract,
    dynamic_batch: bool = False,
    batch_size: int = 1,
    opset: int = DEFAULT_OPSET,
    bake_normalization: bool = False,
    dynamo: bool = True,
    tolerance: float = 1e-4,
    lrn_as_conv: bool = False,
) -> ExportResult:
    """Export ``model``'s inference graph and check it against the eager model on ``images``.

    Args:
        model: the network (any mode; it is copied and put in eval mode).
        path: output file (folders are created).
        fmt: ``"onnx"``, ``"torchscript"`` or ``"openvino"`` (``path`` is then the ``.xml``; its ``.bin`` goes
            beside it).
        images: real images in 0..1, cut per ``contract`` (:func:`googlenet.runtime.images.sample_batch` with
            ``normalized=False``): the parity inputs.
        contract: the model's contract (stored in the file; its normalisation prepares the parity inputs).
        dynamic_batch: ONNX batch dimension symbolic (TorchScript and OpenVINO IR are always batch-dynamic).
        batch_size: example batch size of a static-batch ONNX export.
        opset: ONNX opset.
        bake_normalization: put the contract's normalisation in the graph; the file then takes 0..1 RGB.
        dynamo: use the torch.export-based ONNX exporter (else the legacy one).
        tolerance: max abs logit difference allowed between the file and the eager model.
        lrn_as_conv: write LRN as a banded 1x1 conv + sqrt (:class:`~googlenet.runtime.lrn.ConvLRN`), which ONNX
            Runtime runs faster than its own ``LRN`` kernel, instead of one portable ``LRN`` node.
    """
    check_format(fmt, path)
    if batch_size < 1 or len(images) < 1:
        raise ExportError(f"need a batch size >= 1 and at least one parity image (got {batch_size}, {len(images)})")
    shape = (contract.in_chans, contract.input_size, contract.input_size)
    if tuple(images.shape[1:]) != shape:
        raise ExportError(f"parity images are {tuple(images.shape[1:])}, the contract's input is {shape}")
    static = fmt == "onnx" and not dynamic_batch
    if static and len(images) % batch_size:
        images = _whole_batches(images, batch_size)
    eager = copy.deepcopy(model).eval()
    base = use_conv_lrn(eager, images[:1]) if lrn_as_conv else eager  # (a copy)
    graph = inference_graph(base, contract if bake_normalization else None)
    info = {
        **contract.to_meta(),
        "normalization": BAKED if bake_normalization else "external",
        "input_range": "[0, 1] RGB" if bake_normalization else "normalized per the contract",
        "format": fmt,
        "lrn": "conv" if lrn_as_conv else "node",
        "dynamic_batch": not static,
    }
    normalized = normalizer(contract)(images)
    inputs = images if bake_normalization else normalized
    example = inputs[:batch_size] if len(inputs) >= batch_size else inputs[:1].expand(batch_size, -1, -1, -1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checking = path.with_name(f".{path.name}.checking")  # the file reaches ``path`` only once it has passed
    try:
        if fmt == "onnx":
            info.update(opset=opset, exporter="dynamo" if dynamo else "torchscript-legacy")
            proto = to_onnx(graph, example.contiguous(), dynamic_batch=dynamic_batch, opset=opset, dynamo=dynamo)
            save_onnx(proto, checking, info)
            loaded = open_onnx(checking).forward()
        elif fmt == "openvino":  # the pair is staged in a folder and run at f32 (its weights are float32)
            staged = checking / path.name
            save_openvino(convert_graph(graph, contract), staged, info)
            loaded = open_openvino(staged).forward()
        else:
            save_torchscript(graph, checking, example, info)
            loaded = open_torchscript(checking).forward()
        chunk = batch_size if static else None
        diff, rel = check_parity(eager, loaded, normalized, inputs, chunk, tolerance, name=str(path))
        if fmt == "openvino":
            move_ir(staged, path)
        else:
            os.replace(checking, path)
    finally:
        if checking.is_dir():
            shutil.rmtree(checking)
        checking.unlink(missing_ok=True)
    return ExportResult(path, fmt, diff, len(images), rel, info)
