"""Detector checkpoints: the project's safetensors format (:mod:`googlenet.weights`) with ``task: detect``.

Metadata: ``model`` (a registered detector), ``num_classes`` (background included), ``model_kwargs`` (builder
options, never the path of the backbone's starting weights: the file holds every weight), ``class_names``
(index 0 ``background``), ``task``, and what the run adds (``metrics``, ``config``, ``epoch``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from safetensors.torch import safe_open
from torch import nn

from ..errors import UserError
from ..registry import UnknownModelError, model_info
from ..weights import CheckpointError, load_state_strict, read_checkpoint, save
from ..weights.checkpoint import META_KEY, find_checkpoint
from . import fasterrcnn as _detectors  # registers the detectors
from .rcnn_train import rcnn_from_checkpoint

TASK = "detect"


def detector_meta(
    name: str, num_classes: int, model_kwargs: dict[str, Any], class_names: list[str], **extra: Any
) -> dict[str, Any]:
    """Checkpoint metadata for detector ``name`` (``backbone_weights`` left out: the weights are in the file)."""
    kwargs = {k: v for k, v in model_kwargs.items() if k != "backbone_weights"}
    return {
        "model": name,
        "task": TASK,
        "num_classes": num_classes,
        "model_kwargs": kwargs,
        "class_names": list(class_names),
        **extra,
    }


def save_detector(path: str | os.PathLike, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``model`` with ``meta`` (from :func:`detector_meta`) atomically, plus the JSON beside it."""
    return save(path, model, meta)


def load_detector(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """Build the detector a checkpoint names and load its weights strictly: a Faster R-CNN, or the paper's R-CNN
    (a region classifier whose metadata has an ``rcnn`` entry); another classification checkpoint is refused in
    one line. ``overrides`` are builder options on top of the saved ones (``box_score_thresh=0.3``)."""
    tensors, meta = read_checkpoint(path)
    name = meta.get("model")
    if not isinstance(name, str):
        raise CheckpointError(f"{path} has no googlenet metadata naming its model")
    try:
        info = model_info(name)
    except UnknownModelError as err:
        raise CheckpointError(f"{path}: {err}") from None
    if info.task != TASK and isinstance(meta.get("rcnn"), dict):  # the paper's R-CNN: a region classifier
        return rcnn_from_checkpoint(tensors, meta, str(path)), meta
    if info.task != TASK:
        raise UserError(
            f"{path} is a {name} classification checkpoint, not a detector: detection needs a checkpoint trained "
            "with a detection recipe (e.g. pennfudan-fasterrcnn)"
        )
    kwargs = {**meta.get("model_kwargs", {}), **overrides}
    model = info.builder(num_classes=int(meta.get("num_classes", 2)), **kwargs)
    load_state_strict(model, tensors, source=str(path))
    return model.eval(), meta


def set_test_size(model: nn.Module, shorter_side: int | None) -> nn.Module:
    """Evaluate or predict with a Faster R-CNN at another scale: the resize inside the model takes the shorter side
    to ``shorter_side`` (its cap on the longer side scaled by the same factor); training's sizes are left as they
    are. ``None`` keeps the checkpoint's (its ``test_size``, else its last ``min_size``). The paper's R-CNN has no
    such resize (each proposal is warped) and refuses it."""
    if shorter_side is None:
        return model
    transform = getattr(model, "transform", None)
    if not isinstance(transform, _detectors.TestScaleTransform):
        raise UserError("--resize sets a Faster R-CNN's test scale; the R-CNN warps each proposal to its classifier")
    if shorter_side < 32:
        raise UserError(f"--resize {shorter_side}: a detector's shorter side must be at least 32 px")
    transform.scale_test_to(shorter_side)
    return model


def is_faster_rcnn_meta(meta: dict[str, Any]) -> bool:
    """Whether checkpoint metadata is a Faster R-CNN's: ``task: detect``, or a model the registry calls a detector
    (as :func:`load_detector` reads it; early checkpoints said ``task: detection``)."""
    name = meta.get("model")
    try:
        return meta.get("task") == TASK or (isinstance(name, str) and model_info(name).task == TASK)
    except UnknownModelError:
        return False


def is_detector_meta(meta: dict[str, Any]) -> bool:
    """Whether checkpoint metadata describes a detector: a Faster R-CNN, or R-CNN's region classifier."""
    return is_faster_rcnn_meta(meta) or isinstance(meta.get("rcnn"), dict)


def file_meta(path: str | os.PathLike) -> dict[str, Any] | None:
    """The metadata of the .safetensors checkpoint (or run folder) at ``path``, read from its header alone; ``None``
    for anything else or anything unreadable (its own loader says why)."""
    try:
        file = find_checkpoint(Path(path))
        if file.suffix != ".safetensors":
            return None
        with safe_open(str(file), framework="pt") as f:
            header = f.metadata() or {}
        meta = json.loads(header[META_KEY]) if META_KEY in header else json.loads(file.with_suffix(".json").read_text())
    except Exception:  # any unreadable file: its own loader says why
        return None
    return meta if isinstance(meta, dict) else None


def is_detector_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a .safetensors file or a run folder) holds a detector: a Faster R-CNN or the paper's
    R-CNN (an ``rcnn`` entry). Anything unreadable is not (its own loader says why)."""
    meta = file_meta(path)
    return meta is not None and is_detector_meta(meta)


def is_faster_rcnn_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` (a .safetensors file or a run folder) holds a Faster R-CNN (not R-CNN's classifier)."""
    meta = file_meta(path)
    return meta is not None and is_faster_rcnn_meta(meta)
