"""OpenVINO back ends: the model converted by ``openvino.convert_model`` and compiled for the CPU at OpenVINO's
default precision for the machine (bf16 where the CPU has bf16 instructions, f32 elsewhere), and its NNCF int8
twin, calibrated on real images as ``onnxruntime_int8`` is.

What the engines offer is used as is: one stream of ``INFERENCE_NUM_THREADS`` threads, NNCF's post-training
quantisation with its default preset. The precision the compiled model actually runs at is what
:func:`precision_of` reads back from OpenVINO. One rewrite of the converted graph is ours: max pools that compute
argmax indices nobody reads lose them (:func:`drop_pool_indices`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..contract import ModelContract
from ..errors import UserError
from .fuse import fold_batch_norm

Forward = Callable[[Tensor], Tensor]


class OpenVinoError(UserError):
    """OpenVINO could not convert, read or compile a model."""


def convert(model: nn.Module, contract: ModelContract, rewrite: bool = True) -> Any:
    """``model`` (batch norm folded) as an ``openvino.Model`` with a dynamic batch dimension; ``rewrite=False``
    converts the model as it is (no folding, no :func:`drop_pool_indices`): OpenVINO's defaults."""
    graph = fold_batch_norm(model.cpu()) if rewrite else model.cpu()
    return convert_graph(graph.eval(), contract, rewrite)


def convert_graph(graph: nn.Module, contract: ModelContract, rewrite: bool = True) -> Any:
    """``graph`` as it is (already folded, eval mode) as an ``openvino.Model`` taking ``N x C x H x W`` with N
    dynamic, then :func:`drop_pool_indices` unless ``rewrite`` is false; the torch tracer's deprecation warnings
    are silenced."""
    import openvino as ov

    example = torch.zeros(1, contract.in_chans, contract.input_size, contract.input_size)
    shape = (-1, contract.in_chans, contract.input_size, contract.input_size)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.jit.trace's deprecation, inside OpenVINO's PyTorch frontend
            ov_model = ov.convert_model(graph, example_input=example, input=[shape])
    except Exception as err:  # OpenVINO's frontends raise their own exception types
        raise OpenVinoError(f"OpenVINO could not convert the model: {str(err).strip().splitlines()[0]}") from None
    if rewrite:
        drop_pool_indices(ov_model)
    return ov_model


def drop_pool_indices(ov_model: Any) -> int:
    """Replace each ``MaxPool`` whose indices output nobody reads by opset1's ``MaxPool`` (values only); returns
    how many were replaced.

    OpenVINO's PyTorch frontend converts ``max_pool2d`` to ``MaxPool`` v14, which also computes the argmax
    indices. Unread, they still cost the CPU plugin a reorder to i32 per pool: 13 in GoogLeNet, 9 % of a bf16
    batch in OpenVINO's own profile (docs/cpu.md). A pool whose values would change shape under opset1's rounding
    (PyTorch's ``ceil_mode`` drops a last window that starts in the padding; opset1's ``ceil`` keeps it) is left.
    """
    import openvino.opset1 as opset1

    replaced = 0
    for op in ov_model.get_ordered_ops():
        if op.get_type_name() != "MaxPool" or len(op.outputs()) < 2 or op.output(1).get_target_inputs():
            continue
        attrs = op.get_attributes()
        if any(d != 1 for d in attrs.get("dilations", [1])):
            continue
        rounding = attrs["rounding_type"].lower().replace("ceil_torch", "ceil")
        auto_pad = attrs["auto_pad"].lower()
        pool = opset1.max_pool(
            op.input_value(0),
            attrs["strides"],
            attrs["pads_begin"],
            attrs["pads_end"],
            attrs["kernel"],
            rounding,
            None if auto_pad == "explicit" else auto_pad,
            name=op.get_friendly_name(),
        )
        if pool.get_output_partial_shape(0) != op.get_output_partial_shape(0):
            continue
        for target in list(op.output(0).get_target_inputs()):
            target.replace_source_output(pool.output(0))
        replaced += 1
    ov_model.validate_nodes_and_infer_types()
    return replaced


def compile_model(
    ov_model: Any, threads: int | None = None, precision: str | None = None, profile: bool = False
) -> Any:
    """``ov_model`` compiled for the CPU, one stream of ``threads`` intra-op threads (default: every core), at
    ``precision`` (``INFERENCE_PRECISION_HINT``: ``"f32"``, ``"bf16"``) or OpenVINO's default for the machine;
    ``profile``: with OpenVINO's per-node timing on (``PERF_COUNT``, read by ``get_profiling_info``)."""
    import openvino as ov

    # One stream: the back ends run one synchronous request at a time, which a stream of its own would give only
    # its share of the threads. And with 2 throughput streams on a 2-core AMD EPYC, OpenVINO 2026.4 returned wrong
    # int8 (NNCF) results for a batch: 9-10 % top-1 agreement with eager, against 99 % with one stream (measured on
    # the Imagenette checkpoint of docs/cpu.md; tests/_openvino_check.py checks the default thread count).
    config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": 1}
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    if profile:
        config["PERF_COUNT"] = True
    try:
        return ov.Core().compile_model(ov_model, "CPU", config)
    except RuntimeError as err:
        raise OpenVinoError(f"OpenVINO could not compile the model: {str(err).strip().splitlines()[0]}") from None


def precision_of(compiled: Any) -> str:
    """The precision a compiled model runs its matrix work at ("bf16", "f32", ...), as OpenVINO reports it."""
    try:
        hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    except RuntimeError:
        return "unknown"
    name = getattr(hint, "get_type_name", lambda: str(hint))()  # an openvino.Type: "bf16", "f32", "f16"
    return {"bfloat16": "bf16", "float32": "f32"}.get(name, name)


def forward_of(compiled: Any) -> Forward:
    """``Tensor -> Tensor`` over a compiled model (an infer request reused across calls)."""
    request = compiled.create_infer_request()

    def run(x: Tensor) -> Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        out = request.infer({0: array})
        return torch.from_numpy(np.array(next(iter(out.values())), dtype=np.float32, copy=True))

    run.precision = precision_of(compiled)  # type: ignore[attr-defined]
    return run


def quantize(ov_model: Any, calibration: Tensor) -> Any:
    """NNCF post-training int8 quantisation of ``ov_model``, calibrated on ``calibration`` (preprocessed images)."""
    import nncf

    if len(calibration) < 2:
        raise UserError(f"int8 calibration needs at least 2 readable images, got {len(calibration)}")
    items = [calibration[i : i + 1].numpy() for i in range(len(calibration))]
    return nncf.quantize(ov_model, nncf.Dataset(items), subset_size=len(items))
