"""``googlenet export`` of a Faster R-CNN detector to ONNX, checked against the eager model with ONNX Runtime.

torchvision's detectors export through torch.onnx's TorchScript-based exporter (``dynamo=False``, opset 11 or
later; torchvision's own ``test_onnx.py`` does the same): the whole model is in the file, the resize and
normalisation in front (``GeneralizedRCNNTransform``), RPN, RoI heads, the score threshold and NMS behind. The
file takes **one image**, input ``image``, float32 ``[3, H, W]``, RGB 0..1, any height and width; it gives
``boxes`` float32 ``[K, 4]`` (XYXY in that image's pixels), ``labels`` int64 ``[K]``, ``scores`` float32 ``[K]``.
The metadata (``googlenet`` key) holds the checkpoint's detector metadata (model, ``task: detect``, classes, builder
options) and the export's (opset, input and outputs, score threshold).

Parity: on each image, ONNX Runtime must give as many detections as the eager model, the same labels, boxes within
``tolerance`` of the image's longer side and scores within ``tolerance``; else :class:`ParityError`, and the file
never reaches its path. The paper's R-CNN has no such export: its Selective Search is OpenCV's, outside any graph
(``googlenet export`` writes its region classifier, a classifier of K + 1 classes, by the classification path).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..deploy.parity import ParityError
from ..errors import UserError
from ..runtime.onnx import ExportError
from ..weights.onnx_file import save_onnx
from .datasets import IMAGE_SUFFIXES, load_image
from .predict import image_paths
from .sources import locate_pennfudan
from .store import TASK, is_faster_rcnn_file, load_detector

INPUT = "image"
OUTPUTS = ("boxes", "labels", "scores")  # the order torchvision's detectors return them in
MIN_OPSET = 11


@dataclass
class DetectorExport:
    """What :func:`export_detector` wrote and how closely ONNX Runtime matches the eager model."""

    path: Path
    images: int
    detections: int
    max_box_diff: float  # of the image's longer side
    max_score_diff: float
    metadata: dict[str, Any] = field(default_factory=dict)


def _onnx_proto(model: nn.Module, example: Tensor, opset: int) -> Any:
    """``model`` as an in-memory ONNX model: one image of any size in, ``boxes``, ``labels``, ``scores`` out."""
    import onnx

    axes = {INPUT: {1: "height", 2: "width"}, **{name: {0: "detections"} for name in OUTPUTS}}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # tracer warnings from torchvision's size arithmetic
        path = Path(tmp) / "detector.onnx"
        torch.onnx.export(model, ([example],), str(path), dynamo=False, opset_version=opset, input_names=[INPUT],
                          output_names=list(OUTPUTS), dynamic_axes=axes)  # fmt: skip
        return onnx.load(str(path))


def compare(
    expected: dict[str, Tensor], got: list[np.ndarray], size: int, tolerance: float, where: str
) -> tuple[float, float]:
    """``(box difference / size, score difference)`` of ONNX Runtime's ``got`` against the eager ``expected`` for one
    image; :class:`ParityError` when the count, a label, or either difference is off."""
    boxes, labels, scores = (torch.from_numpy(np.asarray(a)) for a in got)
    n, m = len(boxes), len(expected["boxes"])
    if n != m:
        raise ParityError(f"{where}: ONNX Runtime gives {n} detections, the eager model {m}")
    if not torch.equal(labels.long(), expected["labels"].long()):
        raise ParityError(f"{where}: ONNX Runtime's labels differ from the eager model's")
    if n == 0:
        return 0.0, 0.0
    box = (boxes.double() - expected["boxes"].double()).abs().max().item() / size
    score = (scores.double() - expected["scores"].double()).abs().max().item()
    if not box <= tolerance:  # (also NaN)
        raise ParityError(f"{where}: boxes differ by {box:.3g} of the image's size > tolerance {tolerance:g}")
    if not score <= tolerance:
        raise ParityError(f"{where}: scores differ by {score:.3g} > tolerance {tolerance:g}")
    return box, score


def export_detector(
    model: nn.Module,
    meta: dict[str, Any],
    path: str | os.PathLike,
    images: list[Tensor],
    opset: int = 17,
    tolerance: float = 1e-4,
) -> DetectorExport:
    """Export Faster R-CNN ``model`` (with checkpoint metadata ``meta``) to ONNX at ``path`` and check it with ONNX
    Runtime on ``images`` (float 0..1 ``[3, H, W]``, any sizes)."""
    import onnxruntime as ort

    if opset < MIN_OPSET:
        raise ExportError(
            f"a detector's ONNX export needs --opset >= {MIN_OPSET} (torchvision's RoIAlign), got {opset}"
        )
    if not images:
        raise ExportError("need at least one parity image")
    eager = copy.deepcopy(model).eval()
    roi_heads = getattr(eager, "roi_heads", None)
    info = {
        **{k: meta[k] for k in ("model", "num_classes", "model_kwargs", "class_names") if k in meta},
        "task": TASK,
        "format": "onnx",
        "opset": opset,
        "exporter": "torchscript-legacy",
        "input": f"{INPUT}: float32 [3, H, W], RGB 0..1, one image of any size (resized and normalised inside)",
        "outputs": "boxes: float32 [K, 4] XYXY in the input's pixels; labels: int64 [K]; scores: float32 [K]",
        "score_threshold": float(getattr(roi_heads, "score_thresh", 0.0)),
        "detections_per_image": int(getattr(roi_heads, "detections_per_img", 0)),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checking = path.with_name(f".{path.name}.checking")  # the file reaches ``path`` only once it has passed
    try:
        try:
            proto = _onnx_proto(eager, images[0], opset)
        except Exception as err:  # the exporter's many types; one line
            why = " ".join(str(err).split())[:300]
            raise ExportError(f"torch.onnx could not export {meta.get('model')}: {why}") from None
        save_onnx(proto, checking, info)
        session = ort.InferenceSession(str(checking), providers=["CPUExecutionProvider"])
        worst_box = worst_score = 0.0
        detections = 0
        for i, image in enumerate(images):
            with torch.no_grad():
                expected = eager([image])[0]
            got = session.run(list(OUTPUTS), {INPUT: image.numpy()})
            box, score = compare(expected, got, max(image.shape[-2:]), tolerance, f"{path} (parity image {i})")
            worst_box, worst_score = max(worst_box, box), max(worst_score, score)
            detections += len(expected["boxes"])
        os.replace(checking, path)
    finally:
        checking.unlink(missing_ok=True)
    return DetectorExport(path, len(images), detections, worst_box, worst_score, info)


def parity_images(data: str | None, count: int) -> list[Tensor]:
    """Up to ``count`` images for the parity check: from ``data`` (a folder of images, or Penn-Fudan's folder or
    archive, or a folder holding either), else Penn-Fudan where it lives."""
    folder = Path(data) if data is not None else None
    if folder is not None and folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
        paths = image_paths([folder])
    else:
        try:
            paths = image_paths([locate_pennfudan(folder) / "PNGImages"])
        except UserError as err:
            raise UserError(f"{err}; --data takes a folder of images (or Penn-Fudan) for the parity check") from None
    return [load_image(p).as_subclass(Tensor) for p in paths[:count]]


CLASSIFIER_OPTIONS = {
    "int8": "--int8",
    "evaluate": "--evaluate",
    "dynamic_batch": "--dynamic-batch",
    "bake_normalization": "--bake-normalization",
    "lrn_as_conv": "--lrn-as-conv",
    "input_size": "--input-size",
    "model_args": "--set",
}


def detector_export(args: argparse.Namespace) -> int | None:
    """``googlenet export --checkpoint`` of a Faster R-CNN: export, check, print; ``None`` for any other model (a
    classifier, or R-CNN's region classifier), which the classification export writes."""
    checkpoint = getattr(args, "checkpoint", None)
    if not checkpoint or not is_faster_rcnn_file(checkpoint):
        return None
    if args.format != "onnx":
        raise ExportError(f"a detector exports to ONNX only (--format onnx), not {args.format!r}")
    for name, flag in CLASSIFIER_OPTIONS.items():
        if getattr(args, name, None):
            raise ExportError(f"{flag} is a classifier's export option: a detector's ONNX file takes one image of any "
                              "size, resizes and normalises inside, and runs in float32")  # fmt: skip
    if getattr(args, "batch_size", 1) != 1:
        raise ExportError("--batch-size: a detector's ONNX file takes one image at a time")
    model, meta = load_detector(checkpoint)
    images = parity_images(args.data, args.parity_images)
    result = export_detector(model, meta, args.output, images, opset=args.opset, tolerance=args.tolerance)
    print(
        f"wrote {result.path} (onnx, opset {args.opset}, input '{INPUT}' float32 [3, H, W] RGB 0..1; outputs boxes, "
        f"labels, scores); parity on {result.images} images ({result.detections} detections): labels equal, max box "
        f"difference {result.max_box_diff:.2e} of the image size, max score difference {result.max_score_diff:.2e} "
        f"(tolerance {args.tolerance:g})"
    )
    return 0
