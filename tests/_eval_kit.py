"""Helpers shared by the evaluation tests: tiny random-weight checkpoints and an independent reference pipeline."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.transforms import v2

from googlenet import create_model
from googlenet.contract import ModelContract
from googlenet.weights import load_checkpoint, save

IMAGENETTE = ["n01440764", "n02102040", "n02979186", "n03000684", "n03028079",
              "n03394916", "n03417042", "n03425413", "n03445777", "n03888257"]  # fmt: skip
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def make_checkpoint(
    path: Path,
    seed: int = 0,
    width: float = 0.125,
    input_size: int = 32,
    legacy: bool = False,
    fc_scale: float = 1.0,
    **kw,
) -> Path:
    """A random-weight 10-class GoogLeNet evaluated at crop fraction 0.875 (256/224), saved with its contract, or
    with ``legacy`` in the flat metadata training wrote before the contract (crop fraction in its config);
    ``fc_scale`` multiplies the classifier's weights, so the softmax is far from uniform."""
    torch.manual_seed(seed)
    model = create_model("googlenet", num_classes=10, width=width, **kw)
    with torch.no_grad():
        model.fc.weight.mul_(fc_scale)
    kwargs = {"width": width, **kw}
    if legacy:
        meta = {
            "model": "googlenet",
            "num_classes": 10,
            "model_kwargs": kwargs,
            "class_names": IMAGENETTE,
            "mean": MEAN,
            "std": STD,
            "input_size": input_size,
            "config": {"crop_fraction": 0.875},
        }
    else:
        contract = ModelContract("googlenet", 10, kwargs, tuple(IMAGENETTE), input_size=input_size, crop_fraction=0.875)
        meta = contract.to_meta()
    return save(path, model, meta)


def reference_probs(checkpoint: Path, files: list[Path], flip: bool = False) -> torch.Tensor:
    """Single-centre-crop softmax computed without the eval package: torchvision v2 transforms, float64 model;
    ``flip``: the mean of the crop's softmax and its mirror's."""
    from PIL import Image

    model, _, meta = load_checkpoint(checkpoint)
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
        if flip:
            return (model(x).softmax(dim=1) + model(x.flip(-1)).softmax(dim=1)) / 2
        return model(x).softmax(dim=1)
