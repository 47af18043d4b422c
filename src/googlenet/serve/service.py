"""What the server serves, without the web: a model file behind a back end, its preprocessing, Grad-CAM and card.

The model file is any :func:`googlenet.weights.open_model` reads: a checkpoint (any back end, Grad-CAM), or an
exported ONNX, TorchScript or OpenVINO IR file (its own runtime; no Grad-CAM, which needs the PyTorch model's
gradients).

An upload goes ``bytes -> data.decode.decode_bytes`` (in the contract's image mode, the server's pixel limit
checked from the header before decoding) ``-> preprocess.views`` (the single centre crop) ``-> Normalize``: the
rule ``googlenet predict`` applies to a file, so both give the same probabilities. The batched forward runs in
the back end; Grad-CAM runs on the eager model beside it.
"""

from __future__ import annotations

import io
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torchvision.transforms.v2 import functional as F

from ..cam import GradCam, overlay
from ..card import card_dict, count_params
from ..card import model_card as card_markdown
from ..contract import ModelContract
from ..data.decode import decode_bytes
from ..errors import UserError
from ..eval.members import check_scores_classes
from ..preprocess import normalizer, views
from ..weights import open_model

MiB = 1 << 20


class CamUnavailable(UserError):
    """Grad-CAM asked of a server that runs an exported graph (no gradients to follow)."""


@dataclass(frozen=True)
class ServeOptions:
    """How the server runs its model and what it accepts.

    Attributes:
        backend: inference back end of :func:`googlenet.runtime.make_backend` for the batched forward.
        device: torch device.
        max_batch: most images in one forward.
        max_wait_ms: longest the first request of a batch waits for others, ms.
        max_upload_bytes: largest request body accepted (413 above).
        max_infer_bytes: largest Open Inference Protocol (``/v2``) request body accepted (413 above): FP32
            tensors in JSON take about 10 bytes a value.
        max_pixels: largest image accepted, width x height from its header (422 above), before decoding.
        threads: torch / ONNX Runtime intra-op threads (default: torch's setting).
        decode_threads: uploads decoded at once, in worker threads off the event loop.
        cam_layer: Grad-CAM layer (default: the trunk's last block, ``inception5b`` for GoogLeNet).
    """

    backend: str = "eager"
    device: str = "cpu"
    max_batch: int = 16
    max_wait_ms: float = 5.0
    max_upload_bytes: int = 10 * MiB
    max_infer_bytes: int = 64 * MiB
    max_pixels: int = 25_000_000
    threads: int | None = None
    decode_threads: int = 4
    cam_layer: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_upload_bytes", "max_infer_bytes", "max_pixels", "decode_threads"):
            if getattr(self, name) < 1:
                raise UserError(f"{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.max_wait_ms >= 0:
            raise UserError(f"max-wait-ms must be >= 0, got {self.max_wait_ms}")


class Service:
    """A checkpoint ready to serve: ``prepare`` an upload, ``probabilities`` of a batch, ``cam_png``, ``card``."""

    def __init__(self, checkpoint: str | os.PathLike, options: ServeOptions | None = None) -> None:
        self.options = options = options or ServeOptions()
        start = time.perf_counter()
        mf = open_model(checkpoint)
        contract = mf.feed_contract  # what the file takes (0..1 RGB for an export with baked normalisation)
        check_scores_classes(contract, checkpoint)  # a features-only model cannot classify
        self.contract: ModelContract = contract
        self.names = contract.names
        self._cut = views(contract)
        self._normalize = normalizer(contract)
        self.forward = mf.forward(options.backend, options.device, options.max_batch, options.threads)
        self._model = mf.module
        # Grad-CAM runs on the eager model, beside the back end; an exported graph has none
        self._cam = GradCam(mf.module, contract, options.cam_layer) if mf.module is not None else None
        self._cam_lock = threading.Lock()  # one CAM at a time: each holds a graph of the whole network
        cam_layer = self._cam.layer if self._cam is not None else None
        self.card = model_card(mf.architecture(), mf.contract, mf.meta, Path(checkpoint).name, options, cam_layer)
        self.load_seconds = time.perf_counter() - start  # checkpoint, back end and card (GET /metrics)

    # ---- requests (called in worker threads) -----------------------------------------------------------
    def decode(self, data: bytes) -> Image.Image:
        """An upload decoded in the contract's image mode (:class:`ImageDecodeError` with the reason)."""
        return decode_bytes(data, self.contract.image_mode, "upload", self.options.max_pixels)

    def inputs(self, image: Image.Image) -> Tensor:
        """``1 x C x S x S``: the normalised centre crop the network takes."""
        with torch.no_grad():
            return self._normalize(self._cut(F.pil_to_tensor(image)))

    def prepare(self, data: bytes) -> Tensor:
        """An upload's bytes -> the network's input (:meth:`decode`, then :meth:`inputs`)."""
        return self.inputs(self.decode(data))

    def logits(self, batch: Tensor) -> Tensor:
        """The back end's float32 logits for a batch of prepared inputs (the batcher's worker calls it)."""
        return self.forward(batch).float().cpu()

    def probabilities(self, batch: Tensor) -> Tensor:
        """Softmax of the back end's logits for a batch of prepared inputs (the batcher's worker calls it)."""
        return self.forward(batch).float().softmax(dim=1).cpu()

    def cam_png(self, data: bytes, index: int | None = None) -> tuple[bytes, int]:
        """The Grad-CAM overlay of an upload for class ``index`` (default: the eager model's top class), as a
        PNG, and the class it shows."""
        if self._cam is None or self._model is None:
            raise CamUnavailable("Grad-CAM needs the PyTorch model; this server runs an exported graph")
        image = self.decode(data)
        x = self.inputs(image).to(next(self._model.parameters()).device)
        with self._cam_lock:
            cam = self._cam(x, None if index is None else [index])
        buf = io.BytesIO()
        overlay(image, cam.maps[0], self.contract).save(buf, format="PNG")
        return buf.getvalue(), cam.indices[0]

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()


def model_card(
    model: torch.nn.Module,
    contract: ModelContract,
    meta: dict[str, Any],
    checkpoint: str,
    options: ServeOptions,
    cam_layer: str | None,
) -> dict[str, Any]:
    """``GET /v1/model``: the model card of :mod:`googlenet.card` (the same facts and text as ``googlenet card``),
    plus how this server runs the weights and the card as Markdown."""
    params, aux = count_params(model)
    return {
        **card_dict(contract, meta, params, checkpoint, aux),
        "serving": {**asdict(options), "cam_layer": cam_layer},
        "markdown": card_markdown(contract, meta, params, checkpoint, aux),
    }
