"""Export a model's inference graph to ONNX or TorchScript, with its metadata and a parity check.

The exported graph is ``forward(x) -> logits`` only (auxiliary heads are not on that path), with batch norm
folded into the convolutions and, optionally, the input normalisation baked in (the file then takes RGB in
[0, 1]). Metadata (model, class names, input size, mean/std, whether normalisation is baked) travels inside
the file: ONNX ``metadata_props`` or TorchScript extra files, both under the key ``googlenet`` as JSON.

Every export is checked: the file is loaded back with ONNX Runtime or ``torch.jit.load`` and run on real
images, and its logits must match the eager model's within ``tolerance`` (max abs), else :class:`ParityError`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..checkpoint import atomic_write
from ..errors import UserError
from .fuse import fold_batch_norm

FORMATS = ("onnx", "torchscript")
META_KEY = "googlenet"
DEFAULT_OPSET = 18


class ExportError(UserError):
    """An export that cannot be done as asked (format, options, file)."""


class ParityError(ExportError):
    """The exported file's outputs differ from the eager model's by more than the tolerance."""


class Normalized(nn.Module):
    """``model((x - mean) / std)``: a network that takes RGB in [0, 1], normalisation baked into the graph."""

    def __init__(self, model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.model((x - self.mean) / self.std)


@dataclass
class ExportResult:
    """What :func:`export_model` wrote and how closely it matches the eager model."""

    path: Path
    format: str
    max_abs_diff: float
    images: int
    max_rel_diff: float
    metadata: dict[str, Any] = field(default_factory=dict)


def inference_graph(
    model: nn.Module, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> nn.Module:
    """Eval-mode copy of ``model`` with batch norm folded, wrapped in :class:`Normalized` when mean/std given."""
    graph = fold_batch_norm(model)
    if mean is not None and std is not None:
        graph = Normalized(graph, mean, std).eval()
    return graph


def export_onnx(
    graph: nn.Module,
    path: str | os.PathLike,
    example: Tensor,
    *,
    dynamic_batch: bool = False,
    opset: int = DEFAULT_OPSET,
    dynamo: bool = True,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``graph`` as a single-file ONNX model with input ``input`` and output ``logits``.

    ``dynamo=True`` uses the torch.export-based exporter (the default and supported one since torch 2.9);
    ``dynamo=False`` the legacy TorchScript-based one (faster to run, deprecated). Both give the same graph
    for these models.
    """
    import onnx

    if dynamo and opset < 18:
        raise ExportError(f"the dynamo exporter needs --opset >= 18 (got {opset}); use --legacy-exporter for older")
    axes = {"input": {0: "batch"}, "logits": {0: "batch"}} if dynamic_batch else None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.export")
    from .lrn import dynamo_translation_table, register_legacy_symbolic, use_onnx_lrn

    graph = use_onnx_lrn(graph)
    extra: dict[str, Any] = {"custom_translation_table": dynamo_translation_table()} if dynamo else {}
    if not dynamo:
        register_legacy_symbolic(opset)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")  # deprecation chatter from both exporters
            torch.onnx.export(
                graph,
                (example,),
                str(tmp),
                dynamo=dynamo,
                opset_version=opset,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes=axes,
                external_data=False,
                verbose=False,
                **extra,
            )
        proto = onnx.load(str(tmp))
    finally:
        tmp.unlink(missing_ok=True)
    if metadata:
        set_onnx_metadata(proto, metadata)
    atomic_write(path, lambda t: onnx.save(proto, t))
    return path


def set_onnx_metadata(proto: Any, metadata: dict[str, Any]) -> None:
    """Store ``metadata`` as JSON under ``googlenet`` plus flat keys other tools can read."""
    flat = {META_KEY: json.dumps(metadata, sort_keys=True)}
    for key in ("model", "input_size", "mean", "std", "class_names", "normalization"):
        if metadata.get(key) is not None:
            value = metadata[key]
            flat[key] = value if isinstance(value, str) else json.dumps(value)
    del proto.metadata_props[:]
    for key, value in flat.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def export_torchscript(graph: nn.Module, path: str | os.PathLike, example: Tensor, metadata: dict[str, Any]) -> Path:
    """Write ``graph`` as TorchScript (scripted; traced when scripting fails) with metadata as an extra file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            module = torch.jit.script(graph)
        except Exception:  # (models outside this package may not script; tracing covers them)
            module = torch.jit.trace(graph, example, check_trace=False)
    extra = {f"{META_KEY}.json": json.dumps(metadata, sort_keys=True)}

    def write(tmp: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated in favour of torch.export
            torch.jit.save(module, tmp, _extra_files=extra)

    return atomic_write(path, write)


def _jit_load(path: Path, extra: dict[str, str] | None = None) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return torch.jit.load(str(path), map_location="cpu", _extra_files=extra)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``googlenet`` metadata stored in an exported ONNX or TorchScript file."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"exported model not found: {path}")
    if zipfile.is_zipfile(path):
        extra = {f"{META_KEY}.json": ""}
        _jit_load(path, extra)
        return json.loads(extra[f"{META_KEY}.json"] or "{}")
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # (protobuf raises several types)
        raise ExportError(f"{path} is neither an ONNX nor a TorchScript file ({err})") from None
    props = {p.key: p.value for p in proto.metadata_props}
    return json.loads(props.get(META_KEY, "{}"))


def load_exported(path: str | os.PathLike, threads: int | None = None) -> Callable[[Tensor], Tensor]:
    """Load an exported file as a ``Tensor -> Tensor`` callable (ONNX Runtime or TorchScript)."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"exported model not found: {path}")
    if zipfile.is_zipfile(path):
        module = _jit_load(path).eval()

        def run_script(x: Tensor) -> Tensor:
            with torch.inference_mode():
                return module(x)

        return run_script
    from .backends import ort_callable

    return ort_callable(path, threads=threads)


def relative_diff(output: torch.Tensor, reference: torch.Tensor) -> float:
    """``max |output - reference| / max |reference|``: parity that means something for any logit scale.

    (A randomly initialised batch-norm GoogLeNet has logits near 1e-11, where an absolute bound says nothing.)
    """
    output, reference = output.double(), reference.double()
    scale = reference.abs().max().item()
    diff = (output - reference).abs().max().item()
    return diff / scale if scale > 0 else diff


def check_parity(
    reference: Callable[[Tensor], Tensor],
    candidate: Callable[[Tensor], Tensor],
    inputs: Tensor,
    candidate_inputs: Tensor | None = None,
    batch_size: int | None = None,
    tolerance: float = 1e-4,
    name: str = "export",
    rel_tolerance: float = 1e-3,
) -> tuple[float, float]:
    """``(max abs, relative)`` difference of ``candidate`` vs ``reference`` logits; :class:`ParityError` when
    the absolute one exceeds ``tolerance`` or the relative one (max abs difference over the largest reference
    logit) exceeds ``rel_tolerance``.

    The relative bound is what catches a broken export of a network whose logits are tiny (a randomly
    initialised batch-norm GoogLeNet gives logits near 1e-12, under any absolute tolerance).
    ``candidate_inputs`` (default ``inputs``) lets a graph with baked normalisation take raw images while the
    reference takes normalised ones. ``batch_size`` runs the candidate in chunks (a static-batch export).
    """
    candidate_inputs = inputs if candidate_inputs is None else candidate_inputs
    with torch.inference_mode():
        expected = reference(inputs)
    step = batch_size or len(candidate_inputs)
    got = torch.cat([candidate(candidate_inputs[i : i + step]) for i in range(0, len(candidate_inputs), step)])
    if got.shape != expected.shape:
        raise ParityError(f"{name}: output shape {list(got.shape)} differs from eager {list(expected.shape)}")
    diff = (got.float() - expected.float()).abs().max().item()
    if not diff <= tolerance:  # also catches NaN
        raise ParityError(f"{name}: max abs difference to the eager model is {diff:.3g} > tolerance {tolerance:g}")
    rel = relative_diff(got, expected)
    if not rel <= rel_tolerance:
        raise ParityError(
            f"{name}: max difference to the eager model is {rel:.3g} of its largest logit > {rel_tolerance:g}"
        )
    return diff, rel


def export_model(
    model: nn.Module,
    path: str | os.PathLike,
    fmt: str = "onnx",
    *,
    images: Tensor,
    meta: dict[str, Any] | None = None,
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
        path: output file.
        fmt: ``"onnx"`` or ``"torchscript"``.
        images: real images as an ``N x C x H x W`` batch in [0, 1] (not normalised): parity inputs.
        meta: checkpoint metadata (model, class_names, mean, std, input_size...) stored in the file.
        dynamic_batch: ONNX batch dimension symbolic (TorchScript is always batch-dynamic).
        batch_size: example batch size of a static-batch ONNX export.
        opset: ONNX opset.
        bake_normalization: fold ``(x - mean) / std`` into the graph; the file then takes [0, 1] RGB.
        dynamo: use the torch.export-based ONNX exporter (else the legacy one).
        tolerance: max abs logit difference allowed between the file and the eager model.
        lrn_as_conv: write LRN as a banded 1x1 conv + sqrt (:class:`~googlenet.deploy.lrn.ConvLRN`), which ONNX
            Runtime runs faster than its own ``LRN`` kernel, instead of one portable ``LRN`` node.
    """
    from ..data.datasets import normalization

    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    if batch_size < 1 or len(images) < 1:
        raise ExportError(f"need a batch size >= 1 and at least one parity image (got {batch_size}, {len(images)})")
    meta = dict(meta or {})
    mean, std = (list(v) for v in normalization(meta, int(images.shape[1])))
    size = int(images.shape[-1])
    if not dynamic_batch and fmt == "onnx" and len(images) % batch_size:
        # a static-batch file takes whole batches only: repeat the images up to the next multiple of batch_size
        wanted = -(-len(images) // batch_size) * batch_size
        images = images.repeat(-(-wanted // len(images)), 1, 1, 1)[:wanted]
    eager = copy.deepcopy(model).eval()
    base = eager
    if lrn_as_conv:
        from .lrn import use_conv_lrn

        base = use_conv_lrn(eager, size)  # (a copy)
    graph = inference_graph(base, mean, std) if bake_normalization else inference_graph(base)
    info = {
        **{k: meta[k] for k in ("model", "num_classes", "model_kwargs", "class_names") if k in meta},
        "input_size": size,
        "in_chans": int(images.shape[1]),
        "mean": mean,
        "std": std,
        "normalization": "baked" if bake_normalization else "external",
        "input_range": "[0, 1] RGB" if bake_normalization else "normalized with mean/std",
        "format": fmt,
        "lrn": "conv" if lrn_as_conv else "node",
        "dynamic_batch": bool(dynamic_batch or fmt == "torchscript"),
    }
    example = images[:batch_size] if len(images) >= batch_size else images[:1].expand(batch_size, -1, -1, -1)
    normalized = (images - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    example_in = example if bake_normalization else normalized[: len(example)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checking = path.with_name(f".{path.name}.checking")  # the file reaches ``path`` only once it has passed
    try:
        if fmt == "onnx":
            info.update(opset=opset, exporter="dynamo" if dynamo else "torchscript-legacy")
            export_onnx(
                graph,
                checking,
                example_in.contiguous(),
                dynamic_batch=dynamic_batch,
                opset=opset,
                dynamo=dynamo,
                metadata=info,
            )
        else:
            export_torchscript(graph, checking, example_in, info)
        loaded = load_exported(checking)
        chunk = None if (dynamic_batch or fmt == "torchscript") else batch_size
        candidate_in = images if bake_normalization else normalized
        diff, rel = check_parity(eager, loaded, normalized, candidate_in, chunk, tolerance, name=str(path))
        os.replace(checking, path)
    finally:
        checking.unlink(missing_ok=True)
    return ExportResult(path, fmt, diff, len(images), rel, info)
