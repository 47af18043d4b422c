"""A detector behind ``googlenet serve``: what the server needs of a detection checkpoint, without the web.

``googlenet serve --checkpoint`` opens its file with :func:`open_service`: a detection checkpoint (a Faster R-CNN,
``task: detect``, or the paper's R-CNN, a region classifier with an ``rcnn`` entry) becomes a
:class:`DetectService`, anything else the classification :class:`~googlenet.serve.service.Service`.

An upload goes ``bytes -> data.decode.decode_bytes`` (RGB, the server's pixel limit checked from the header)
``-> float 0..1`` at its own size, the image ``googlenet detect predict`` reads from a file; the detector resizes
and normalises inside. Requests that arrive together share one forward (a list of images of any sizes, as
torchvision's detectors take them); each gets its boxes in its own image's pixels.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor, nn
from torchvision.transforms.v2 import functional as F

from ..data.decode import decode_bytes
from ..device import checked_device
from ..errors import UserError
from ..registry import model_info
from ..serve.batching import DynamicBatcher
from ..serve.service import ServeOptions, Service
from .predict import DEFAULT_SCORE_THRESHOLD, result_of
from .serve_app import DetectApi, DetectV2
from .store import TASK, is_detector_file, load_detector


def open_service(checkpoint: str | os.PathLike, options: ServeOptions | None = None) -> Service | DetectService:
    """The service for ``checkpoint``: :class:`DetectService` for a detector, else the classification one."""
    if is_detector_file(checkpoint):
        return DetectService(checkpoint, options)
    return Service(checkpoint, options)


@dataclass(frozen=True)
class DetectorContract:
    """The facts of a detector that the server's routes and metrics read (the classification contract's names).

    ``input_size`` is the shorter side the detector resizes an image to; ``num_classes`` counts the background.
    """

    model: str
    num_classes: int
    input_size: int
    names: tuple[str, ...]
    source: str = "trained"
    in_chans: int = 3
    image_mode: str = "RGB"


class DetectionBatcher(DynamicBatcher):
    """The dynamic batcher for a detector: a batch is a list of images of any sizes, each request gets its own
    detections (``{"boxes", "scores", "labels"}``, CPU tensors)."""

    def collate(self, views: list[Tensor]) -> list[Tensor]:
        return [v[0] for v in views]

    def separate(self, out: Any, views: list[Tensor]) -> list[Any]:
        return list(out)


class DetectService:
    """A detection checkpoint ready to serve: ``prepare`` an upload, ``detect`` a batch, ``card``."""

    task = TASK
    api_class, v2_class = DetectApi, DetectV2  # the routes googlenet.serve.app.create_app serves it with

    def __init__(self, checkpoint: str | os.PathLike, options: ServeOptions | None = None) -> None:
        self.options = options = options or ServeOptions()
        if options.backend != "eager":
            raise UserError(f"a detector is served by the eager back end only, not {options.backend!r}")
        if options.cam_layer is not None:
            raise UserError("--cam-layer: Grad-CAM explains a classifier's class score; a detector has none")
        start = time.perf_counter()
        device = checked_device(options.device)
        if options.threads:
            torch.set_num_threads(options.threads)
        model, meta = load_detector(checkpoint)
        self.model: nn.Module = model.to(device).eval()
        self.device = device
        names = meta.get("class_names") or ["background", *(str(k) for k in range(1, int(meta["num_classes"])))]
        self.names = [str(n) for n in names]
        self.meta = meta
        self.contract = DetectorContract(str(meta["model"]), len(self.names), _input_size(model), tuple(self.names))
        self.card = detector_card(model, meta, self.contract, Path(checkpoint).name, options)
        self.load_seconds = time.perf_counter() - start

    # ---- requests (called in worker threads) -----------------------------------------------------------
    def decode(self, data: bytes) -> Image.Image:
        """An upload decoded as RGB (:class:`~googlenet.data.decode.ImageDecodeError` with the reason)."""
        return decode_bytes(data, "RGB", "upload", self.options.max_pixels)

    def prepare(self, data: bytes) -> Tensor:
        """An upload's bytes -> ``1 x 3 x H x W`` float 0..1 at the image's own size."""
        return F.to_dtype(F.pil_to_tensor(self.decode(data)), torch.float32, scale=True).unsqueeze(0)

    @torch.no_grad()
    def detect(self, images: list[Tensor]) -> list[dict[str, Tensor]]:
        """The detector's raw detections for a batch of images (the batcher's worker calls it)."""
        out = self.model([im.to(self.device) for im in images])
        return [{k: v.cpu() for k, v in o.items()} for o in out]

    def result(self, detections: dict[str, Tensor], score_threshold: float) -> dict[str, Any]:
        """``{"boxes", "scores", "labels", "names"}`` as ``googlenet detect predict --json`` prints them."""
        result = result_of(Path(), detections, self.names, score_threshold)
        del result["path"]
        return result

    def batcher(self, on_batch: Any = None) -> DetectionBatcher:
        """The batcher the app runs for this detector."""
        return DetectionBatcher(self.detect, self.options.max_batch, self.options.max_wait_ms, on_batch)

    def close(self) -> None:
        """Nothing to release (no Grad-CAM hooks)."""


def _input_size(model: nn.Module) -> int:
    """The shorter side a detector resizes to when it predicts: Faster R-CNN's test scale (its ``test_size``, else
    the last of its ``min_size``), R-CNN's warped crop."""
    transform = getattr(model, "transform", None)
    if transform is not None and hasattr(transform, "test_scale"):
        return transform.test_scale()[0]
    return int(getattr(model, "input_size", 0))


def detector_card(
    model: nn.Module, meta: dict[str, Any], contract: DetectorContract, checkpoint: str, options: ServeOptions
) -> dict[str, Any]:
    """``GET /v1/model`` for a detector: the keys of the classification card that apply, plus ``task``."""
    metrics = meta.get("metrics") if isinstance(meta.get("metrics"), dict) else {}
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    info = model_info(contract.model)
    rcnn = isinstance(meta.get("rcnn"), dict)
    architecture = f"rcnn ({contract.model} region classifier)" if rcnn else contract.model
    params = sum(p.numel() for p in model.parameters())
    text = (
        f"# {architecture}\n\nA detector of {contract.num_classes - 1} classes "
        f"({', '.join(contract.names[1:])}), task `detect`; {params} parameters. "
        f"Boxes in pixels of the uploaded image.\n"
    )
    return {
        "task": TASK,
        "architecture": architecture,
        "family": info.family,
        "description": info.doc,
        "checkpoint": checkpoint,
        "model_kwargs": meta.get("model_kwargs", {}),
        "params": {"total": params, "inference": params, "aux": 0},
        "num_classes": contract.num_classes,
        "classes": list(contract.names),
        "input": {"size": contract.input_size, "channels": 3, "range": "RGB 0..1, any size (resized inside)"},
        "weights": {"source": contract.source},
        "training": {
            "dataset": config.get("data"),
            "epoch": meta.get("epoch"),
            "ap": metrics.get("ap"),
            "ap50": metrics.get("ap50"),
        },
        "serving": {**asdict(options), "cam_layer": None, "score_threshold": DEFAULT_SCORE_THRESHOLD},
        "markdown": text,
    }
