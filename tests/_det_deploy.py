"""What the detector deployment tests share: a tiny random detector checkpoint, generated scenes, and the
expectations computed by calling the detector directly (torchvision's list-of-images call), never the serving or
export code."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from _synthetic_det import SMALL_DETECTOR, make_scenes
from googlenet import create_model
from googlenet.detect.store import detector_meta, save_detector

NAMES = ["background", "rect", "ellipse"]
KWARGS = {**SMALL_DETECTOR, "box_score_thresh": 0.0}  # an untrained detector's scores are low: keep them all
SCENES = make_scenes(3, size=64, seed=5)


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def tiny_detector(path: Path) -> Path:
    """A random 3-class tiny detector that keeps every box (``box_score_thresh`` 0), saved at ``path``."""
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=3, **KWARGS).eval()
    return save_detector(path, model, detector_meta("fasterrcnn_googlenet", 3, KWARGS, NAMES))


def reference(checkpoint: Path) -> torch.nn.Module:
    """The detector rebuilt from its weights by hand (the registry's builder, safetensors' loader)."""
    model = create_model("fasterrcnn_googlenet", num_classes=3, **KWARGS)
    model.load_state_dict(load_file(checkpoint))
    return model.eval()


def tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1).float() / 255


def expected(model: torch.nn.Module, image: Image.Image, threshold: float) -> dict:
    with torch.no_grad():
        o = model([tensor(image)])[0]
    keep = o["scores"] >= threshold
    order = o["scores"][keep].argsort(descending=True)
    return {k: o[k][keep][order] for k in ("boxes", "scores", "labels")}
