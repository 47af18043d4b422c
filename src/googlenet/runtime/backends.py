"""Inference back ends, the one registry: each turns a model and its contract into ``forward(batch) -> logits``.

    forward = make_backend("onnxruntime", model, contract, threads=2)
    logits = forward(batch)  # N x C x H x W float32, preprocessed per the contract -> N x num_classes

=================  =========================================================================================
name               graph
=================  =========================================================================================
eager              the model as is, eval mode
channels_last      batch norm folded, weights and input in NHWC (oneDNN convolutions)
compile            as channels_last, then ``torch.compile`` (inductor) with weight freezing
compile_bf16       as bf16, then ``torch.compile`` (inductor) with weight freezing
onnxruntime        batch norm folded, LRN as conv + sqrt, exported to ONNX in memory, ONNX Runtime (CPU only)
onnxruntime_int8   as ``onnxruntime``, then static int8 QDQ quantisation calibrated on real images (CPU only)
bf16               as channels_last, weights and activations in bfloat16 (the CPU's bf16 units where it has them)
openvino           batch norm folded, OpenVINO at its default precision for the machine (bf16 or f32; CPU only)
openvino_int8      as ``openvino``, then NNCF post-training int8 calibrated on real images (CPU only)
=================  =========================================================================================

The same name builds the same graph for every caller (eval, predict, export, bench). Factories rewrite copies;
the caller's model is only put in eval mode and moved to the device. Every forward runs in
``torch.inference_mode``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..contract import ModelContract
from ..device import checked_device
from ..errors import UserError
from . import openvino_engine as ov_backend
from .fuse import fold_batch_norm
from .images import sample_batch
from .lrn import use_conv_lrn
from .onnx import ort_forward, to_onnx
from .quantize import quantize_static_bytes

Forward = Callable[[Tensor], Tensor]
BackendFactory = Callable[..., Forward]  # (model, contract, device, *, batch_size, threads, **options) -> forward

BACKENDS: dict[str, BackendFactory] = {}
CPU_ONLY: set[str] = set()
CALIBRATION_IMAGES = 32  # default int8 calibration: real train images, preprocessed per the contract


class UnknownBackendError(UserError):
    """A back-end name that is not in :data:`BACKENDS`."""


def register_backend(name: str, cpu_only: bool = False) -> Callable[[BackendFactory], BackendFactory]:
    """Register ``factory(model, contract, device, *, batch_size, threads, **options) -> forward`` as ``name``.

    ``options`` carry what one back end uses and the others ignore (``calibration=`` images for int8).
    """

    def wrap(factory: BackendFactory) -> BackendFactory:
        BACKENDS[name] = factory
        if cpu_only:
            CPU_ONLY.add(name)
        return factory

    return wrap


def available_backends() -> list[str]:
    """Names accepted by ``--backend`` and ``--paths``."""
    return list(BACKENDS)


def check_backend(name: str) -> str:
    """``name`` if registered, else :class:`UnknownBackendError` listing the registered names."""
    if name not in BACKENDS:
        raise UnknownBackendError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    return name


def make_backend(
    name: str,
    model: nn.Module,
    contract: ModelContract,
    *,
    device: str | torch.device = "cpu",
    batch_size: int = 1,
    threads: int | None = None,
    **options: object,
) -> Forward:
    """``model`` (put in eval mode) run by back end ``name`` on ``device``.

    Args:
        name: one of :data:`BACKENDS`.
        model: the network.
        contract: its contract: the input shape (``in_chans``, ``input_size``) a back end is built for, and the
            preprocessing of int8 calibration images.
        device: torch device; the ONNX Runtime back ends run on the CPU only.
        batch_size: batch size a back end is prepared for (all accept others; ``compile`` recompiles per shape).
        threads: intra-op threads for torch and ONNX Runtime (default: torch's current setting).
        **options: back-end specific (``calibration=`` preprocessed images for int8).
    """
    check_backend(name)
    device = checked_device(device)
    if name in CPU_ONLY and device.type != "cpu":
        raise UserError(f"back end {name!r} runs on the CPU only; use --device cpu")
    if threads:
        torch.set_num_threads(threads)
    return BACKENDS[name](model.eval(), contract, device, batch_size=batch_size, threads=threads, **options)


def example_input(contract: ModelContract, batch_size: int = 1) -> Tensor:
    """Zeros shaped as ``batch_size`` inputs of the contract's network."""
    return torch.zeros(batch_size, contract.in_chans, contract.input_size, contract.input_size)


def _inference(fn: Forward) -> Forward:
    def run(x: Tensor) -> Tensor:
        with torch.inference_mode():
            return fn(x)

    return run


@register_backend("eager")
def eager(model: nn.Module, contract: ModelContract, device: torch.device, **_: object) -> Forward:
    """The model as is."""
    model = model.to(device)
    return _inference(lambda x: model(x.to(device)))


def _nhwc_folded(model: nn.Module, device: torch.device) -> nn.Module:
    return fold_batch_norm(model).to(device, memory_format=torch.channels_last)


@register_backend("channels_last")
def channels_last(model: nn.Module, contract: ModelContract, device: torch.device, **_: object) -> Forward:
    """Batch norm folded, NHWC weights and inputs."""
    net = _nhwc_folded(model, device)
    return _inference(lambda x: net(x.to(device, memory_format=torch.channels_last)))


@register_backend("compile")
def compile_(
    model: nn.Module, contract: ModelContract, device: torch.device, batch_size: int = 1, **_: object
) -> Forward:
    """``torch.compile`` (inductor, weights frozen as constants) of the folded NHWC model, compiled here."""
    return _frozen_compile(_nhwc_folded(model, device), contract, device, batch_size, torch.float32)


@register_backend("compile_bf16")
def compile_bf16(
    model: nn.Module, contract: ModelContract, device: torch.device, batch_size: int = 1, **_: object
) -> Forward:
    """``torch.compile`` (inductor, weights frozen) of the ``bf16`` graph: 1.2x the ``bf16`` path on an AMD EPYC
    with AVX-512 BF16 at batch 16 (docs/cpu.md), level with OpenVINO on the same graph."""
    forward = _frozen_compile(_nhwc_folded(model, device).to(torch.bfloat16), contract, device, batch_size,
                              torch.bfloat16)  # fmt: skip
    forward.precision = "bf16"  # type: ignore[attr-defined]
    return forward


def _frozen_compile(
    net: nn.Module, contract: ModelContract, device: torch.device, batch_size: int, dtype: torch.dtype
) -> Forward:
    """``net`` compiled by inductor with its weights frozen (constant-folded, prepacked for oneDNN), compiled now
    for ``batch_size`` rather than inside a timing; float32 logits."""
    import torch._inductor.config as inductor_config

    compiled = torch.compile(net, dynamic=False)

    def call(x: Tensor) -> Tensor:
        # weights constant-folded into the graph (inference only); set per call, not for the whole process
        with inductor_config.patch(freezing=True):
            return compiled(x.to(device, dtype, memory_format=torch.channels_last)).float()

    run = _inference(call)
    try:
        run(example_input(contract, batch_size))
    except Exception as err:  # inductor's errors (no C++ compiler, an unsupported op) have many types
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise UserError(
            f"torch.compile could not compile the model on this machine ({first}); inductor needs a working C++ "
            "compiler: use the back end without compile (channels_last, bf16)"
        ) from None
    return run


def onnx_graph_bytes(model: nn.Module, contract: ModelContract, batch_size: int = 1) -> bytes:
    """The ``onnxruntime`` back end's graph: batch norm folded, LRN as conv + sqrt (which ONNX Runtime runs
    faster than its own LRN kernel), batch-dynamic ONNX, serialised."""
    example = example_input(contract, batch_size)
    graph = use_conv_lrn(fold_batch_norm(model.cpu()), example)
    try:  # the legacy exporter is the faster one to run...
        proto = to_onnx(graph, example, dynamic_batch=True, dynamo=False)
    except torch.onnx.errors.OnnxExporterError:  # ...but lacks some ops (an adaptive pool that upsamples)
        proto = to_onnx(graph, example, dynamic_batch=True, dynamo=True)
    return proto.SerializeToString()


@register_backend("onnxruntime", cpu_only=True)
def onnxruntime(
    model: nn.Module,
    contract: ModelContract,
    device: torch.device,
    batch_size: int = 1,
    threads: int | None = None,
    **_: object,
) -> Forward:
    """:func:`onnx_graph_bytes` run by ONNX Runtime on the CPU."""
    return ort_forward(onnx_graph_bytes(model, contract, batch_size), threads)


@register_backend("onnxruntime_int8", cpu_only=True)
def onnxruntime_int8(
    model: nn.Module,
    contract: ModelContract,
    device: torch.device,
    batch_size: int = 1,
    threads: int | None = None,
    calibration: Tensor | None = None,
    **_: object,
) -> Forward:
    """Static int8 (QDQ) ONNX Runtime model, calibrated on ``calibration`` (preprocessed images).

    The default calibration is :data:`CALIBRATION_IMAGES` real Imagenette train images preprocessed per the
    contract (its channel count, resize rule and normalisation).
    """
    if calibration is None:
        calibration = sample_batch(None, CALIBRATION_IMAGES, contract, split="train")
    fp32 = onnx_graph_bytes(model, contract, batch_size)
    return ort_forward(quantize_static_bytes(fp32, calibration), threads)


@register_backend("bf16")
def bf16(model: nn.Module, contract: ModelContract, device: torch.device, **_: object) -> Forward:
    """Folded NHWC model with bfloat16 weights; inputs cast to bf16, logits returned as float32.

    bf16 weights measured faster than fp32 weights under autocast on the CPU (no per-call weight casts)."""
    net = _nhwc_folded(model, device).to(torch.bfloat16)

    def run(x: Tensor) -> Tensor:
        return net(x.to(device, torch.bfloat16, memory_format=torch.channels_last)).float()

    forward = _inference(run)
    forward.precision = "bf16"  # type: ignore[attr-defined]
    return forward


@register_backend("openvino", cpu_only=True)
def openvino(
    model: nn.Module,
    contract: ModelContract,
    device: torch.device,
    threads: int | None = None,
    engine_defaults: bool = False,
    **_: object,
) -> Forward:
    """OpenVINO on the CPU at its default precision for the machine (:mod:`.openvino_engine`); with
    ``engine_defaults`` the graph is left as OpenVINO's converter makes it (``bench``'s peer rows)."""
    ov_model = ov_backend.convert(model, contract, rewrite=not engine_defaults)
    return ov_backend.forward_of(ov_backend.compile_model(ov_model, threads))


@register_backend("openvino_int8", cpu_only=True)
def openvino_int8(
    model: nn.Module,
    contract: ModelContract,
    device: torch.device,
    threads: int | None = None,
    calibration: Tensor | None = None,
    engine_defaults: bool = False,
    **_: object,
) -> Forward:
    """NNCF int8 OpenVINO model, calibrated on ``calibration`` (default: as ``onnxruntime_int8``); ``engine_defaults``
    as for ``openvino``."""
    if calibration is None:
        calibration = sample_batch(None, CALIBRATION_IMAGES, contract, split="train")
    ov_model = ov_backend.convert(model, contract, rewrite=not engine_defaults)
    quantized = ov_backend.quantize(ov_model, calibration)
    return ov_backend.forward_of(ov_backend.compile_model(quantized, threads))
