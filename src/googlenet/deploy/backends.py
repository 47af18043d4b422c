"""Inference back ends: each turns a model (or a checkpoint, or an exported file) into ``Tensor -> Tensor``.

    run = make_backend("onnxruntime", model, input_size=224, batch_size=16)
    logits = run(batch)  # N x C x H x W float32, normalised as the model expects -> N x num_classes

=================  =========================================================================================
name               what it does
=================  =========================================================================================
eager              the model as is, eval mode, ``torch.inference_mode``
channels_last      batch norm folded, weights and input in NHWC (oneDNN convolutions)
compile            batch norm folded, ``torch.compile`` (inductor) with weight freezing, NHWC
onnxruntime        batch norm folded, LRN as conv + sqrt, exported to ONNX in memory, ONNX Runtime CPU with all
                   graph optimisations
onnxruntime_merged as ``onnxruntime`` with each Inception's three 1x1 convs merged (measured: no faster)
onnxruntime_int8   as ``onnxruntime``, then static int8 QDQ quantisation calibrated on real images
=================  =========================================================================================

The factories put the model in eval mode and otherwise leave it alone (they rewrite copies).
``threads`` sets torch's and ONNX Runtime's intra-op threads.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UserError
from .fuse import fold_batch_norm, merge_inception_1x1

Backend = Callable[[Tensor], Tensor]


class UnknownBackendError(UserError):
    """A back-end name that is not in :data:`BACKENDS`."""


def _inference(fn: Callable[[Tensor], Tensor]) -> Backend:
    def run(x: Tensor) -> Tensor:
        with torch.inference_mode():
            return fn(x)

    return run


def eager(model: nn.Module, **_: object) -> Backend:
    """The model as is, in eval mode."""
    return _inference(model.eval())


def channels_last(model: nn.Module, optimize: bool = True, **_: object) -> Backend:
    """Batch norm folded (``optimize``), NHWC weights and inputs."""
    model = (fold_batch_norm(model) if optimize else copy.deepcopy(model).eval()).to(memory_format=torch.channels_last)
    return _inference(lambda x: model(x.contiguous(memory_format=torch.channels_last)))


def compile(  # (the back end's name)
    model: nn.Module, input_size: int = 224, batch_size: int = 1, optimize: bool = True, **_: object
) -> Backend:
    """``torch.compile`` (inductor, weights frozen as constants) of the folded NHWC model; compiled on first call."""
    import torch._inductor.config as inductor_config

    model = (fold_batch_norm(model) if optimize else copy.deepcopy(model).eval()).to(memory_format=torch.channels_last)
    compiled = torch.compile(model, dynamic=False)

    def call(x: Tensor) -> Tensor:
        # weights constant-folded into the graph (inference only); set per call, not for the whole process
        with inductor_config.patch(freezing=True):
            return compiled(x.contiguous(memory_format=torch.channels_last))

    run = _inference(call)
    in_chans = getattr(model, "in_chans", 3)
    run(torch.zeros(batch_size, in_chans, input_size, input_size))  # compile now, not inside a timing
    return run


def ort_session_options(threads: int | None = None):  # (onnxruntime type, imported lazily)
    """ONNX Runtime options: all graph optimisations, ``threads`` intra-op threads, sequential execution."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    return options


def ort_callable(path: str | os.PathLike | bytes, threads: int | None = None) -> Backend:
    """An ONNX Runtime CPU session over ``path`` (or serialised model bytes) as ``Tensor -> Tensor``."""
    import onnxruntime as ort

    source = path if isinstance(path, bytes) else str(path)
    session = ort.InferenceSession(source, ort_session_options(threads), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: Tensor) -> Tensor:
        array = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(session.run(None, {name: array})[0])

    return run


def _onnx_bytes(
    model: nn.Module, input_size: int, batch_size: int, merge: bool, dynamo: bool, fold: bool = True
) -> bytes:
    from .export import export_onnx
    from .lrn import use_conv_lrn

    graph = merge_inception_1x1(model) if merge else fold_batch_norm(model) if fold else model
    graph = use_conv_lrn(graph, input_size)  # (a copy) ONNX Runtime's own LRN kernel is slower than this
    in_chans = getattr(model, "in_chans", 3)
    example = torch.randn(batch_size, in_chans, input_size, input_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(graph, Path(tmp) / "model.onnx", example, dynamic_batch=True, dynamo=dynamo)
        return path.read_bytes()


def onnxruntime(
    model: nn.Module,
    input_size: int = 224,
    batch_size: int = 1,
    threads: int | None = None,
    optimize: bool = True,
    dynamo: bool = False,
    **_: object,
) -> Backend:
    """Fold batch norm (``optimize``; else ONNX Runtime's optimiser folds it), export to ONNX in memory, run with
    ONNX Runtime on the CPU."""
    return ort_callable(_onnx_bytes(model, input_size, batch_size, False, dynamo, fold=optimize), threads)


def onnxruntime_merged(
    model: nn.Module, input_size: int = 224, batch_size: int = 1, threads: int | None = None, **_: object
) -> Backend:
    """As :func:`onnxruntime`, with each Inception module's three 1x1 convs merged into one conv."""
    return ort_callable(_onnx_bytes(model, input_size, batch_size, True, False), threads)


def onnxruntime_int8(
    model: nn.Module,
    input_size: int = 224,
    batch_size: int = 1,
    threads: int | None = None,
    calibration: Tensor | None = None,
    meta: dict | None = None,
    **_: object,
) -> Backend:
    """Static int8 (QDQ) ONNX Runtime model, calibrated on ``calibration``.

    The default calibration is 32 real Imagenette train images with the model's channel count, normalised
    with ``meta``'s mean/std (ImageNet's for RGB, 0.5 otherwise, when there is no checkpoint metadata).
    """
    from ..data.datasets import normalization
    from .images import sample_batch
    from .quantize import quantize_static_bytes

    if calibration is None:
        in_chans = getattr(model, "in_chans", 3)
        mean, std = normalization(meta, in_chans)
        calibration = sample_batch(32, input_size, mean, std, in_chans=in_chans, split="train")
    fp32 = _onnx_bytes(model, input_size, batch_size, False, False)
    return ort_callable(quantize_static_bytes(fp32, calibration), threads)


BACKENDS: dict[str, Callable[..., Backend]] = {
    "eager": eager,
    "channels_last": channels_last,
    "compile": compile,
    "onnxruntime": onnxruntime,
    "onnxruntime_merged": onnxruntime_merged,
    "onnxruntime_int8": onnxruntime_int8,
}


def make_backend(
    name: str,
    model: nn.Module | str | os.PathLike,
    input_size: int = 224,
    batch_size: int = 1,
    threads: int | None = None,
    **options: object,
) -> Backend:
    """A ``Tensor -> Tensor`` inference callable for ``model`` on back end ``name``.

    Args:
        name: one of :data:`BACKENDS`.
        model: an ``nn.Module``, a checkpoint (``.safetensors`` or a run folder), or an exported ``.onnx`` /
            TorchScript file (then only ``onnxruntime`` resp. the file's own runtime applies).
        input_size: image side the back end is prepared (compiled, exported) for.
        batch_size: batch size it is prepared for (all back ends accept other batch sizes; ``compile``
            recompiles for each new shape).
        threads: intra-op threads (default: torch's current setting).
        **options: back-end specific (``optimize=False`` skips BN folding; ``calibration=`` images for int8).
    """
    if name not in BACKENDS:
        raise UnknownBackendError(f"unknown back end {name!r}; choose from: {', '.join(BACKENDS)}")
    if not isinstance(model, nn.Module):
        path = Path(model)
        if path.suffix in (".onnx", ".pt", ".ts", ".torchscript"):
            from .export import load_exported

            return load_exported(path, threads=threads)
        from ..factory import load_checkpoint

        model, meta = load_checkpoint(path)
        options.setdefault("meta", meta)
    if threads:
        torch.set_num_threads(threads)
    return BACKENDS[name](model.eval(), input_size=input_size, batch_size=batch_size, threads=threads, **options)


def _register_eval_backends() -> None:
    """Offer the deployment back ends to ``googlenet eval`` / ``predict`` (``--backend onnxruntime`` ...)."""
    from ..eval.backends import BACKENDS as EVAL_BACKENDS
    from ..eval.backends import register_backend

    for name in ("compile", "onnxruntime", "onnxruntime_merged", "onnxruntime_int8"):
        if name in EVAL_BACKENDS:
            continue

        def factory(model: nn.Module, device: object, input_size: int, _name: str = name, **options: object) -> Backend:
            if torch.device(device).type != "cpu":
                raise UnknownBackendError(f"back end {_name!r} runs on the CPU only; use --device cpu")
            return make_backend(_name, model.cpu(), input_size=input_size, **options)

        register_backend(name)(factory)


_register_eval_backends()
