"""The HTTP routes of ``googlenet serve`` for a detector: the classification app's routes, answered with boxes.

==========================  ========================================================================================
``POST /v1/predict``        an image (as for a classifier), ``?score_threshold=0.5`` -> ``{"boxes": [[x1, y1, x2,
                            y2], ...], "scores", "labels", "names"}`` (the keys of ``googlenet detect predict
                            --json``, boxes in the upload's pixels, sorted by score) plus ``model``, ``width``,
                            ``height``, ``batch_size``, ``latency_ms``
``POST /v1/cam``            400: Grad-CAM explains a classifier's class score, a detector has none
``POST /v2/.../infer``      one image (``image``, BYTES ``[1]``) -> ``boxes`` FP32 ``[K, 4]``, ``scores`` FP32
                            ``[K]``, ``labels`` INT64 ``[K]``; ``parameters.score_threshold`` (default 0.5)
==========================  ========================================================================================

``GET /``, ``/healthz``, ``/v1/model`` (the detector's card, ``task: detect``), ``/metrics`` and the v2 health and
metadata routes are the classification app's. A v2 request holds one image: its outputs' first dimension is that
image's number of boxes, so several images cannot share one tensor.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..serve.app import Api, ApiError, read_upload
from ..serve.batching import DynamicBatcher
from ..serve.v2 import HEADER, V2, VERSION
from ..serve.v2_codec import InferRequest, OutputRequest, OutputTensor, V2Error, bytes_elements, encode_response
from .predict import DEFAULT_SCORE_THRESHOLD

NUMBER = re.compile(r"[0-9]{1,6}(\.[0-9]{0,12})?|\.[0-9]{1,12}")
OUTPUTS = {"boxes": "FP32", "scores": "FP32", "labels": "INT64"}


def cam_refusal(model: str) -> str:
    """The one line a detector's server answers to Grad-CAM."""
    return f"Grad-CAM explains a classifier's class score: {model} is a detector; POST /v1/predict returns its boxes"


def score_threshold(value: Any) -> float:
    """A request's score threshold, a number from 0 to 1 (``ValueError`` with the reason otherwise)."""
    text = value if isinstance(value, str) else None
    if text is not None and not NUMBER.fullmatch(text):
        raise ValueError(f"score_threshold must be a number from 0 to 1, got {text[:40]!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or not 0 <= float(value) <= 1:
        raise ValueError(f"score_threshold must be a number from 0 to 1, got {str(value)[:40]!r}")
    return float(value)


class DetectApi(Api):
    """The ``/v1`` handlers for a :class:`~googlenet.detect.serving.DetectService`."""

    service: Any  # a googlenet.detect.serving.DetectService (which names these classes: no import back)

    def make_batcher(self) -> DynamicBatcher:
        return self.service.batcher(self.on_batch)

    async def predict(self, request: Request) -> Response:
        start = time.perf_counter()
        try:
            threshold = score_threshold(request.query_params.get("score_threshold", DEFAULT_SCORE_THRESHOLD))
        except ValueError as err:
            raise ApiError(400, str(err)) from None
        data = await read_upload(request, self.service.options.max_upload_bytes)
        x = await self._decode(self.service.prepare, data)
        assert self.batcher is not None
        detections, batch = await self.batcher.submit(x)
        result = self.service.result(detections, threshold)
        latency = (time.perf_counter() - start) * 1000.0
        return JSONResponse(
            {
                **result,
                "model": self.service.contract.model,
                "width": int(x.shape[-1]),
                "height": int(x.shape[-2]),
                "batch_size": batch,
                "latency_ms": round(latency, 3),
            }
        )

    async def cam(self, request: Request) -> Response:
        raise ApiError(400, cam_refusal(self.service.contract.model))


class DetectV2(V2):
    """The Open Inference Protocol for a detector: one image in, its boxes, scores and labels out."""

    service: Any  # a googlenet.detect.serving.DetectService (which names these classes: no import back)

    async def server_metadata(self, request: Request) -> Response:
        return JSONResponse({"name": "googlenet", "version": __version__, "extensions": ["binary_tensor_data"]})

    async def metadata(self, request: Request) -> Response:
        self._check_model(request)
        return JSONResponse(
            {
                "name": self.model,
                "versions": [VERSION],
                "platform": "pytorch",
                "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1]}],
                "outputs": [
                    {"name": "boxes", "datatype": "FP32", "shape": [-1, 4]},
                    {"name": "scores", "datatype": "FP32", "shape": [-1]},
                    {"name": "labels", "datatype": "INT64", "shape": [-1]},
                ],
            }
        )

    async def infer(self, request: Request) -> Response:
        req = await self._read_request(request)
        image = self._image(req)
        wanted = self._wanted(req)
        try:
            threshold = score_threshold(req.parameters.get("score_threshold", DEFAULT_SCORE_THRESHOLD))
        except ValueError as err:
            raise V2Error(400, str(err)) from None
        x = await self._prepare(image)
        if self.api.batcher is None:
            raise V2Error(503, "the model is not ready")
        detections, _ = await self.api.batcher.submit(x)
        result = self.service.result(detections, threshold)
        outputs = [_output(o, result) for o in wanted]
        payload, head = encode_response(self.model, VERSION, req.id, outputs)
        if head is None:
            return Response(payload, media_type="application/json")
        return Response(payload, media_type="application/octet-stream", headers={HEADER: str(head)})

    def _image(self, req: InferRequest) -> bytes:
        """The request's one encoded image."""
        if len(req.inputs) != 1 or req.inputs[0].name != "image":
            raise V2Error(400, "a detector takes one input, 'image' (BYTES [1]): one encoded image per request")
        [t] = req.inputs
        if t.datatype != "BYTES":
            raise V2Error(400, f"input 'image' must be BYTES, got {t.datatype[:20]!r}")
        if t.shape not in ([1], [1, 1]):
            raise V2Error(
                400, f"input 'image' must have shape [1] for a detector (one image per request: its outputs are "
                f"[boxes, 4]), got {t.shape}"
            )  # fmt: skip
        [data] = bytes_elements(t)
        return data

    def _wanted(self, req: InferRequest) -> list[OutputRequest]:
        if req.outputs is None:
            return [OutputRequest(name, req.binary_output) for name in OUTPUTS]
        for o in req.outputs:
            if o.name not in OUTPUTS:
                raise V2Error(400, f"unknown output {o.name[:40]!r}: a detector gives {', '.join(OUTPUTS)}")
            if o.classification:
                raise V2Error(400, f"output {o.name!r}: the classification extension is for classifiers")
        return req.outputs


def _output(o: OutputRequest, result: dict[str, Any]) -> OutputTensor:
    """One output of a detector's v2 reply from its ``/v1`` result."""
    if o.name == "boxes":
        values = np.asarray(result["boxes"], dtype=np.float32).reshape(-1, 4)
    else:
        values = np.asarray(result[o.name], dtype=np.float32 if o.name == "scores" else np.int64)
    return OutputTensor(o.name, OUTPUTS[o.name], list(values.shape), values, o.binary)
