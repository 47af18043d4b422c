"""What every model file format gives: a :class:`ModelFile` (runs batches, carries the file's contract), and the
registry of formats that :func:`googlenet.weights.open_model` picks from by content (magic bytes) and suffix.

A format is one module that calls :func:`register_format` with a sniffer and an opener: this project's
``.safetensors`` checkpoints (:mod:`~googlenet.weights.checkpoint`), ONNX (:mod:`~googlenet.weights.onnx_file`),
TorchScript (:mod:`~googlenet.weights.torchscript_file`) and OpenVINO IR (:mod:`~googlenet.weights.openvino_file`)
today; a Hugging Face Hub folder is one more module of the same shape. Exported files keep the model's
:meth:`~googlenet.contract.ModelContract.to_meta` plus export fields as JSON under :data:`META_KEY`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..contract import ContractError, ModelContract
from ..factory import create_model
from ..fileio import one_line, shown
from .errors import ModelFileError

# the metadata key in every format: safetensors header, ONNX metadata_props, TorchScript extra, OpenVINO IR rt_info
META_KEY = "googlenet"
BAKED = "baked"  # exported metadata "normalization": the file takes 0..1 RGB and normalises itself

Forward = Callable[[Tensor], Tensor]
# (backend, device, batch_size, threads, contract) -> forward; the file's own runtime decides what it accepts
Runner = Callable[[str, str, int, "int | None", ModelContract], Forward]


@dataclass
class ModelFile:
    """A model file opened: its contract, its metadata, and how to run it.

    Attributes:
        path: the file (for a run folder, the checkpoint found in it).
        format: the format's registered name (``safetensors``, ``onnx``, ``torchscript``, ``openvino``).
        contract: the model's contract, as recorded with the weights.
        meta: all the file's metadata (the contract's fields, and epoch, metrics or export fields).
        runner: ``(backend, device, batch_size, threads, contract) -> forward``.
        module: the eager PyTorch model, for the formats that hold one (checkpoints): the back ends, Grad-CAM and
            profiling need it; None for exported graphs, which run only on their own runtime.
    """

    path: Path
    format: str
    contract: ModelContract
    meta: dict[str, Any]
    runner: Runner
    module: nn.Module | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def feed_contract(self) -> ModelContract:
        """What the file itself takes: the contract, or for baked normalisation 0..1 RGB and no mean/std."""
        return file_feed_contract(self.contract, self.meta)

    def forward(
        self,
        backend: str = "eager",
        device: str = "cpu",
        batch_size: int = 1,
        threads: int | None = None,
        contract: ModelContract | None = None,
    ) -> Forward:
        """``forward(batch) -> logits`` for batches prepared per :attr:`feed_contract`; ``contract`` (the model's,
        e.g. at another input size) is what a back end builds its graph for, where it builds one."""
        return self.runner(backend, device, batch_size, threads, contract or self.contract)

    def architecture(self) -> nn.Module:
        """The eager model, or for an exported graph the same architecture built on the meta device (for counting
        parameters; it holds no weights)."""
        if self.module is not None:
            return self.module
        c = self.contract
        with torch.device("meta"):
            return create_model(c.model, c.num_classes, **dict(c.model_kwargs))


@dataclass(frozen=True)
class ModelFormat:
    """A readable model file format: ``sniff(path, head) -> bool`` (``head``: its first 64 bytes; a folder gives
    ``b""``), ``open(path) -> ModelFile``, the suffixes it is known by (for messages), and its ``order`` among the
    sniffers (lowest first: formats with an unmistakable magic before those that also go by suffix)."""

    name: str
    sniff: Callable[[Path, bytes], bool]
    open: Callable[[Path], ModelFile]
    suffixes: tuple[str, ...]
    order: int = 50


FORMATS: dict[str, ModelFormat] = {}


def register_format(fmt: ModelFormat) -> ModelFormat:
    """Add ``fmt`` to the formats :func:`googlenet.weights.open_model` tries (by ``order``)."""
    FORMATS[fmt.name] = fmt
    return fmt


def sniffing_order() -> list[ModelFormat]:
    """The registered formats in the order their sniffers are asked."""
    return sorted(FORMATS.values(), key=lambda f: f.order)


def exported_meta(text: str, path: Path) -> dict[str, Any]:
    """The :data:`META_KEY` JSON of an exported file (``{}`` when it has none); :class:`ModelFileError` when broken."""
    try:
        meta = json.loads(text or "{}")
    except (ValueError, RecursionError) as err:
        raise ModelFileError(f"{shown(path)}: unreadable {META_KEY} metadata ({one_line(err)})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{shown(path)}: {META_KEY} metadata is not a JSON object")
    return meta


def exported_contract(meta: dict[str, Any], path: Path) -> ModelContract:
    """The contract in an exported file's metadata; one line naming the file when there is none."""
    if not isinstance(meta.get("model"), str):
        raise ModelFileError(f"{shown(path)} carries no googlenet contract (was it written by `googlenet export`?)")
    if meta.get("task") == "detect":  # googlenet.detect.export: boxes, not logits
        raise ModelFileError(
            f"{shown(path)} is an exported {meta['model']} detector, not a classifier: run it with ONNX Runtime "
            "(input 'image', outputs boxes, labels, scores; see docs/detection.md), or give its checkpoint"
        )
    try:
        return ModelContract.from_meta(meta)
    except ContractError as err:
        raise ModelFileError(f"{shown(path)}: {err}") from None


def file_feed_contract(contract: ModelContract, meta: dict[str, Any]) -> ModelContract:
    """What a file takes: ``contract``, or for baked normalisation 0..1 RGB and no mean/std."""
    if meta.get("normalization") != BAKED:
        return contract
    c = contract.in_chans
    return contract.replace(pixel_range=1.0, channel_order="RGB", mean=(0.0,) * c, std=(1.0,) * c)


def own_runtime_only(path: Path, fmt: str, runtime: str, backend: str) -> None:
    """Refuse a back end other than the file's own runtime (``eager`` means "as the file is")."""
    if backend != "eager":
        raise ModelFileError(
            f"{shown(path)} is {fmt}: it runs on {runtime} as exported; --backend {backend} rebuilds a graph from "
            "PyTorch weights and needs a .safetensors checkpoint"
        )
