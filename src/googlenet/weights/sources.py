"""Where weights come from: :func:`resolve` turns a name or a path into a :class:`Source`, by the registry's
published weights (a tag: ``torchvision``, ``bvlc``) or by the file's content and suffix (this project's
``.safetensors`` checkpoints and run folders, BVLC's ``.caffemodel``, PyTorch ``.pth`` state dicts)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..contract import ModelContract
from ..factory import model_info
from ..fileio import shown
from ..registry import PublishedWeights
from .caffe import is_caffemodel, load_caffe
from .checkpoint import contract_of, find_checkpoint, is_safetensors, read_checkpoint
from .errors import CheckpointError, PretrainedError
from .pth import is_pth, load_pth, read_pth
from .torchvision import TAG as TORCHVISION
from .torchvision import published, torchvision_contract, torchvision_state

KINDS = ("checkpoint", "torchvision", "caffe", "pth")


@dataclass(frozen=True)
class Source:
    """Weights located, nothing loaded yet.

    Attributes:
        kind: ``checkpoint`` (this project's safetensors), ``torchvision`` (published, by name), ``caffe``
            (a BVLC caffemodel) or ``pth`` (a PyTorch state dict).
        spec: what was given (a path, or a tag).
        model: the registered model they load into (None for a checkpoint, which names its own).
        path: the file, for file sources.
        published: the registry's record of published weights, for a tag.
    """

    kind: str
    spec: str
    model: str | None = None
    path: Path | None = None
    published: PublishedWeights | None = None

    @property
    def label(self) -> str:
        """How messages name the source."""
        return shown(self.path) if self.path is not None else f"{self.model}'s {self.spec} weights"

    def contract(self) -> ModelContract:
        """The contract the weights come with (for a torchvision source, from their transforms: no download)."""
        if self.kind == "checkpoint":
            return contract_of(read_checkpoint(self.path)[1], self.path)
        if self.kind == "torchvision":
            return torchvision_contract(self.model)
        return self.build()[1]

    def state(self) -> dict[str, torch.Tensor]:
        """The weights as a state dict (keys of the registered model)."""
        if self.kind == "checkpoint":
            return read_checkpoint(self.path)[0]
        if self.kind == "torchvision":
            return torchvision_state(self.model)[0]
        if self.kind == "pth":
            return read_pth(self.path)
        return self.build()[0].state_dict()

    def build(self, num_classes: int | None = None, **options: Any) -> tuple[nn.Module, ModelContract]:
        """The model loaded from a file source that fixes its own architecture (caffe, pth)."""
        if self.kind == "caffe":
            if num_classes is not None or options:
                raise CheckpointError(f"{self.label} is a Caffe model: it fixes the network, options do not apply")
            return load_caffe(self.path, self.model)
        return load_pth(self.path, self.model, num_classes=num_classes, **options)


def _file_kind(path: Path) -> str:
    if path.is_dir() or path.suffix.lower() == ".safetensors":
        return "checkpoint"
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as err:
        raise CheckpointError(f"cannot read {shown(path)} ({err.strerror or err})") from None
    if is_safetensors(head):
        return "checkpoint"
    if is_caffemodel(path, head):
        return "caffe"
    if is_pth(head) or path.suffix.lower() in (".pth", ".pt", ".bin"):
        return "pth"
    return "checkpoint"  # read as one, to say why it is not


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long: find_checkpoint says so in one line
        return False


def resolve(name_or_path: str | os.PathLike, model: str | None = None) -> Source:
    """Locate weights: a published tag of ``model`` (``"torchvision"``, ``"bvlc"``), or a file / run folder.

    Args:
        name_or_path: the tag, or the path of a ``.safetensors`` checkpoint (or run folder), a ``.caffemodel``
            or a ``.pth`` state dict.
        model: the registered model the weights are for: needed by tags, ``.caffemodel`` and ``.pth`` files;
            a checkpoint names its own.
    """
    spec = str(name_or_path)
    if model is not None and not _exists(Path(spec)):
        info = model_info(model)
        entry = info.published(spec)
        if spec == TORCHVISION and entry is None:
            published(model)  # the one-line refusal listing the models that have them
        if entry is not None:
            if entry.source == TORCHVISION:
                return Source("torchvision", spec, model, published=entry)
            raise PretrainedError(
                f"{entry.publisher}'s {model} weights come as a file: download {entry.url} (SHA-1 {entry.sha1}) "
                f"and give its path"
            )
    path = Path(spec)
    if not _exists(path):
        if spec == TORCHVISION:
            raise PretrainedError("torchvision's weights are picked by model: name the model")
        find_checkpoint(path)  # the one-line "not found" (or why it cannot be looked for)
    kind = _file_kind(path)
    if kind in ("caffe", "pth") and model is None:
        raise CheckpointError(f"{shown(path)} is a {kind} file: name the model it is for")
    return Source(kind, spec, model if kind != "checkpoint" else None, path)
