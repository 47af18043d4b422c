"""Grad-CAM (Selvaraju et al. 2017): where in the image a class's evidence lies, from one layer's activations.

For the activations ``A`` (K x h x w) of a layer and the logit ``y_c`` of class ``c``::

    alpha_k = mean over (i, j) of d y_c / d A_k[i, j]       # one weight per channel
    cam     = ReLU(sum_k alpha_k * A_k)                    # h x w

upsampled to the image and scaled by its maximum. The default layer of a model is the one whose output
``forward_features`` returns, the trunk just before global pooling: ``inception5b`` (the last Inception block)
for GoogLeNet, ``layer4`` for ResNets, ``features`` for AlexNet, VGG and DenseNet.

A forward hook keeps the layer's output; it records only in the thread that asks for a CAM, so the same eager
model can serve batched inference in another thread meanwhile. Grad-CAM needs gradients of the eager model: it
runs beside an inference back end, never through it. The pip package ``grad-cam`` does the same with
opencv, scikit-learn and scipy as dependencies; these few lines need none of them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from .contract import ModelContract
from .errors import UserError

OVERLAY_ALPHA = 0.45  # share of the colour map in the overlay


class CamLayerError(UserError):
    """A layer name the model does not have, or a model without a default Grad-CAM layer."""


@dataclass
class Cam:
    """Grad-CAM of a batch: ``maps`` (N x h x w, at the layer's resolution, >= 0, not scaled) for ``indices``."""

    maps: Tensor
    indices: list[int]
    layer: str


def default_layer(model: nn.Module, contract: ModelContract) -> str:
    """Name of the module whose output ``model.forward_features`` returns (the trunk before global pooling).

    Found by running ``forward_features`` once on zeros of the contract's input shape with a hook on every
    module: the shortest name whose output is the very tensor returned (``layer4``, not ``layer4.1``). When the
    trunk ends in a function rather than a module (DenseNet's final ReLU), the last top-level child that ran.
    """
    if not callable(getattr(model, "forward_features", None)):
        raise CamLayerError(f"{type(model).__name__} has no forward_features; name a Grad-CAM layer")
    outputs: list[tuple[str, object]] = []
    top_level = {name for name, _ in model.named_children()}

    def record(name: str):
        return lambda _m, _i, out: outputs.append((name, out))

    handles = [m.register_forward_hook(record(name)) for name, m in model.named_modules() if name]
    try:
        param = next(model.parameters(), None)
        like = {"device": param.device, "dtype": param.dtype} if param is not None else {}
        x = torch.zeros(1, contract.in_chans, contract.input_size, contract.input_size, **like)
        with torch.no_grad():
            features = model.forward_features(x)
    finally:
        for h in handles:
            h.remove()
    same = [name for name, out in outputs if out is features]
    if same:
        return min(same, key=lambda n: (n.count("."), len(n)))
    ran = [name for name, out in outputs if name in top_level and isinstance(out, Tensor) and out.dim() == 4]
    if not ran:
        raise CamLayerError(f"{type(model).__name__} has no default Grad-CAM layer; name one")
    return ran[-1]


class GradCam:
    """Grad-CAM of ``model`` at ``layer`` (default: :func:`default_layer`)::

    cam = GradCam(model, contract)         # hooks inception5b of a GoogLeNet
    result = cam(x)                         # x: N x C x S x S, normalised; the top class of each image
    heat = upsample(result.maps, (H, W))    # N x H x W in [0, 1]
    """

    def __init__(self, model: nn.Module, contract: ModelContract, layer: str | None = None) -> None:
        self.model = model.eval()
        self.layer = layer or default_layer(model, contract)
        try:
            module = model.get_submodule(self.layer)
        except AttributeError:
            names = [n for n, _ in model.named_children()]
            raise CamLayerError(
                f"{contract.model} has no layer {self.layer!r}; its top-level layers: {', '.join(names)}"
            ) from None
        self._local = threading.local()
        self._handle = module.register_forward_hook(self._keep)

    def _keep(self, _module: nn.Module, _inputs: object, output: object) -> None:
        if getattr(self._local, "active", False):  # only the thread computing a CAM records
            self._local.output = output

    def close(self) -> None:
        """Remove the hook."""
        self._handle.remove()

    def __call__(self, x: Tensor, indices: Sequence[int] | None = None) -> Cam:
        """CAMs of the images in ``x`` for class ``indices`` (default: each image's top class)."""
        self._local.active, self._local.output = True, None
        try:
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)  # a graph even when the weights are frozen
                logits = self.model(x)
        finally:
            self._local.active = False
        acts, self._local.output = self._local.output, None
        if not isinstance(acts, Tensor) or acts.dim() != 4:
            raise CamLayerError(f"layer {self.layer!r} gives no N x K x h x w feature map for Grad-CAM")
        if indices is None:
            chosen = logits.argmax(dim=1)
        else:
            chosen = torch.as_tensor(list(indices), device=logits.device)
            if len(chosen) != len(x) or not ((chosen >= 0) & (chosen < logits.shape[1])).all():
                raise UserError(f"class indices must be one per image, in 0..{logits.shape[1] - 1}")
        # images are independent in eval mode: one backward gives each image its own gradient
        score = logits.gather(1, chosen[:, None]).sum()
        (grads,) = torch.autograd.grad(score, acts)
        weights = grads.mean(dim=(2, 3), keepdim=True)  # alpha_k
        maps = F.relu((weights * acts).sum(dim=1)).detach()
        return Cam(maps, chosen.tolist(), self.layer)


def upsample(maps: Tensor, size: tuple[int, int]) -> Tensor:
    """``maps`` (N x h x w) bilinearly resized to ``size`` (H, W), each divided by its maximum (0 stays 0)."""
    up = F.interpolate(maps[:, None].float(), size=size, mode="bilinear", align_corners=False)[:, 0].clamp_(min=0)
    peak = up.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, up / peak.clamp(min=1e-12), torch.zeros_like(up))


def crop_box(width: int, height: int, contract: ModelContract) -> tuple[int, int, int, int]:
    """The region of a ``width`` x ``height`` image that the contract's single centre crop shows the network,
    as ``(left, top, right, bottom)`` in the image's own pixels (for the "shorter" and "warp" resize rules)."""
    side = contract.resize_size
    if contract.resize == "warp":
        rw = rh = side
    elif width <= height:  # torchvision's Resize(int): the shorter side to ``side``, the longer truncated
        rw, rh = side, int(side * height / width)
    else:
        rw, rh = int(side * width / height), side
    s = contract.input_size
    left, top = round((rw - s) / 2), round((rh - s) / 2)
    sx, sy = width / rw, height / rh
    box = (round(left * sx), round(top * sy), round((left + s) * sx), round((top + s) * sy))
    return box[0], box[1], max(box[2], box[0] + 1), max(box[3], box[1] + 1)


def jet(heat: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB by the jet colour map (blue, cyan, yellow, red)."""
    x = heat[..., None].astype(np.float32)
    rgb = np.clip(1.5 - np.abs(4.0 * x - np.array([3.0, 2.0, 1.0], dtype=np.float32)), 0.0, 1.0)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def overlay(image: Image.Image, cam_map: Tensor, contract: ModelContract, max_side: int = 448) -> Image.Image:
    """The part of ``image`` the network saw (:func:`crop_box`) at most ``max_side`` px, with the CAM
    (``h x w``, one image of :attr:`Cam.maps`) laid over it in the jet colour map."""
    region = image.convert("RGB").crop(crop_box(image.width, image.height, contract))
    scale = min(1.0, max_side / max(region.size))
    region = region.resize((max(1, round(region.width * scale)), max(1, round(region.height * scale))))
    heat = upsample(cam_map[None], (region.height, region.width))[0].cpu().numpy()
    colour = jet(heat).astype(np.float32)
    blended = (1 - OVERLAY_ALPHA) * np.asarray(region, dtype=np.float32) + OVERLAY_ALPHA * colour
    return Image.fromarray(np.clip(blended + 0.5, 0, 255).astype(np.uint8), mode="RGB")
