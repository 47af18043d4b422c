"""ONNX: a module as an ONNX graph (one ``LRN`` node per LRN), and ONNX Runtime CPU sessions as ``Tensor -> Tensor``.

``onnx`` and ``onnxruntime`` are optional (``pip install 'googlenet[deploy]'``) and imported on first use.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UserError
from .lrn import dynamo_translation_table, register_legacy_symbolic, use_onnx_lrn

DEFAULT_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "input", "logits"


class ExportError(UserError):
    """An export, or an exported file, that cannot be made or read as asked (format, options, file)."""


def to_onnx(
    graph: nn.Module, example: Tensor, *, dynamic_batch: bool = False, opset: int = DEFAULT_OPSET, dynamo: bool = True
) -> Any:  # (onnx.ModelProto)
    """``graph`` as an in-memory ONNX model with input ``input`` and output ``logits``.

    ``dynamo=True`` uses the torch.export-based exporter (the default and supported one since torch 2.9);
    ``dynamo=False`` the legacy TorchScript-based one (faster to run, deprecated). Both give the same graph for
    these models; odd-sized LRNs become one ONNX ``LRN`` node either way.
    """
    import onnx

    if dynamo and opset < 18:
        raise ExportError(f"the dynamo exporter needs --opset >= 18 (got {opset}); use --legacy-exporter for older")
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    graph = use_onnx_lrn(graph)
    extra: dict[str, Any] = {"custom_translation_table": dynamo_translation_table()} if dynamo else {}
    if not dynamo:
        register_legacy_symbolic(opset)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # deprecation chatter from both exporters
            torch.onnx.export(
                graph,
                (example,),
                str(path),
                dynamo=dynamo,
                opset_version=opset,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes=axes,
                external_data=False,
                verbose=False,
                **extra,
            )
        return onnx.load(str(path))


def session_options(threads: int | None = None) -> Any:  # (onnxruntime.SessionOptions)
    """ONNX Runtime options: all graph optimisations, ``threads`` intra-op threads, sequential execution."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return options


def ort_forward(model: str | os.PathLike | bytes, threads: int | None = None) -> Callable[[Tensor], Tensor]:
    """An ONNX Runtime CPU session over an ONNX file (or serialised model bytes) as ``Tensor -> Tensor``.

    A graph with a static batch size takes any batch: it is run in chunks of that size, the last one padded. A
    file ONNX Runtime cannot load, or an input shape it refuses, is one :class:`ExportError` line.
    """
    import onnxruntime as ort

    source = model if isinstance(model, bytes) else str(model)
    name = "the ONNX model" if isinstance(model, bytes) else str(model)
    try:
        session = ort.InferenceSession(source, session_options(threads), providers=["CPUExecutionProvider"])
    except Exception as err:  # (onnxruntime raises its own types: InvalidGraph, Fail, NoSuchFile...)
        raise ExportError(f"{name}: ONNX Runtime cannot load it ({' '.join(str(err).split())[:300]})") from None
    first = session.get_inputs()[0]
    fixed = first.shape[0] if first.shape and isinstance(first.shape[0], int) else None

    def run_once(array: np.ndarray) -> np.ndarray:
        try:
            return session.run(None, {first.name: array})[0]
        except Exception as err:  # a shape the graph does not take
            reason = " ".join(str(err).split())[:200]
            raise ExportError(
                f"{name}: ONNX Runtime refused an input of shape {tuple(array.shape)} (the graph takes "
                f"{tuple(first.shape)}): {reason}"
            ) from None

    def run(x: Tensor) -> Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        if fixed is None or len(array) == fixed:
            return torch.from_numpy(run_once(array))
        outs = []
        for i in range(0, len(array), fixed):
            chunk = array[i : i + fixed]
            if len(chunk) < fixed:  # pad with copies of the last image; their logits are dropped
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - len(chunk), axis=0)])
            outs.append(run_once(chunk)[: min(fixed, len(array) - i)])
        return torch.from_numpy(np.concatenate(outs))

    return run
