"""Helpers shared by the evaluation tests: tiny random-weight checkpoints and an independent reference pipeline."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.transforms import v2

from googlenet import create_model
from googlenet.checkpoint import save_weights

IMAGENETTE = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
              "n03394916", "n03417042", "n03425413", "n03445777", "n03888257"]  # fmt: skip
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def make_checkpoint(path: Path, seed: int = 0, width: float = 0.125, input_size: int = 32, **kw) -> Path:
    """A random-weight 10-class GoogLeNet saved the way training saves one."""
    torch.manual_seed(seed)
    model = create_model("googlenet", num_classes=10, width=width, **kw)
    meta = {
        "model": "googlenet",
        "num_classes": 10,
        "model_kwargs": {"width": width, **kw},
        "class_names": IMAGENETTE,
        "mean": MEAN,
        "std": STD,
        "input_size": input_size,
    }
    return save_weights(path, model, meta)


def reference_probs(checkpoint: Path, files: list[Path]) -> torch.Tensor:
    """Single-centre-crop softmax computed without the eval package: torchvision v2 transforms, float64 model."""
    from PIL import Image

    from googlenet.factory import load_checkpoint

    model, meta = load_checkpoint(checkpoint)
    model = model.double().eval()
    size = meta["input_size"]
    tf = v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(round(size * 256 / 224), antialias=True),
            v2.CenterCrop(size),
            v2.ToDtype(torch.float64, scale=True),
            v2.Normalize(meta["mean"], meta["std"]),
        ]
    )
    x = torch.stack([tf(Image.open(f).convert("RGB")) for f in files])
    with torch.no_grad():
        return model(x).softmax(dim=1)
