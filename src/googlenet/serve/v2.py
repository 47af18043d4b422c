"""The Open Inference Protocol (KServe v2) over HTTP, beside the ``/v1`` API, on the same dynamic batcher.

==========================================  ==============================================================
``GET /v2``                                 server metadata (name, version, extensions)
``GET /v2/health/live``, ``/ready``         200 while the process runs / once the batcher runs (else 503)
``GET /v2/models/{name}``                   model metadata: its inputs and outputs
``GET /v2/models/{name}/ready``             200 once the batcher runs
``POST /v2/models/{name}/infer``            inference (also under ``/versions/1/``)
==========================================  ==============================================================

Inputs (one per request):

* ``input``, FP32 ``[N, C, S, S]``: images already preprocessed per the model contract (the card's ``input``);
* ``image``, BYTES ``[N]`` (or ``[N, 1]``): encoded images (JPEG, PNG...), decoded and preprocessed here exactly
  as ``POST /v1/predict`` does.

Outputs: ``logits`` and ``probabilities``, FP32 ``[N, classes]``; with ``parameters.classification: k`` (Triton's
classification extension) either comes back as BYTES ``[N, k]``, the top ``k`` as ``"value:index:name"``. A
request that names no outputs gets ``logits`` for ``input`` and the top 5 ``probabilities`` for ``image``.

Errors are ``{"error": "<one line>"}``: 404 for a model or version this server does not serve, 413 for a body
over the limit (``ServeOptions.max_infer_bytes``), 422 for bytes that are not an image, 400 for any other
malformed request (JSON, names, datatypes, shapes, data lengths).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

import anyio
import numpy as np
import torch
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import UserError
from .batching import DynamicBatcher
from .service import Service
from .v2_codec import InferRequest, OutputRequest, OutputTensor, V2Error, bytes_elements, encode_response, fp32_array
from .v2_codec import parse_request as parse_v2

VERSION = "1"  # the one version of the one model this server holds
OUTPUTS = ("logits", "probabilities")
DEFAULT_TOPK = 5
HEADER = "Inference-Header-Content-Length"


class SharedApi(Protocol):
    """What the v2 routes share with the ``/v1`` API (:class:`googlenet.serve.app.Api`)."""

    service: Service
    batcher: DynamicBatcher | None  # set once the app has started
    decoders: anyio.CapacityLimiter  # uploads decoded at once, in worker threads


class V2:
    """The v2 handlers, sharing the ``/v1`` API's service, batcher and decoding limiter."""

    def __init__(self, api: SharedApi) -> None:
        self.api = api
        self.service = api.service
        self.model = api.service.contract.model

    def routes(self) -> list[Route]:
        routes = [
            Route("/v2", self.server_metadata, methods=["GET"]),
            Route("/v2/health/live", self.live, methods=["GET"]),
            Route("/v2/health/ready", self.ready, methods=["GET"]),
        ]
        for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
            routes += [
                Route(base, self.metadata, methods=["GET"]),
                Route(base + "/ready", self.model_ready, methods=["GET"]),
                Route(base + "/infer", self.infer, methods=["POST"]),
            ]
        return routes

    # ---- health and metadata -------------------------------------------------------------------------
    def _check_model(self, request: Request) -> None:
        name = request.path_params["name"]
        if name != self.model:
            raise V2Error(404, f"unknown model {name[:60]!r}: this server serves {self.model!r}")
        version = request.path_params.get("version", VERSION)
        if version != VERSION:
            raise V2Error(404, f"unknown version {version[:20]!r} of model {self.model!r}: it has version {VERSION}")

    @property
    def is_ready(self) -> bool:
        return self.api.batcher is not None

    async def server_metadata(self, request: Request) -> Response:
        return JSONResponse(
            {"name": "googlenet", "version": __version__, "extensions": ["binary_tensor_data", "classification"]}
        )

    async def live(self, request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(self, request: Request) -> Response:
        return JSONResponse({"ready": self.is_ready}, status_code=200 if self.is_ready else 503)

    async def model_ready(self, request: Request) -> Response:
        self._check_model(request)
        return JSONResponse({"name": self.model, "ready": self.is_ready}, status_code=200 if self.is_ready else 503)

    async def metadata(self, request: Request) -> Response:
        self._check_model(request)
        c = self.service.contract
        k = c.num_classes
        return JSONResponse(
            {
                "name": self.model,
                "versions": [VERSION],
                "platform": "pytorch",
                "inputs": [
                    {"name": "input", "datatype": "FP32", "shape": [-1, c.in_chans, c.input_size, c.input_size]},
                    {"name": "image", "datatype": "BYTES", "shape": [-1]},
                ],
                "outputs": [{"name": n, "datatype": "FP32", "shape": [-1, k]} for n in OUTPUTS],
            }
        )

    # ---- inference -----------------------------------------------------------------------------------
    async def _read_request(self, request: Request) -> InferRequest:
        """The model checked, the body's size bounded (413 past the limit), the request parsed (JSON or binary)."""
        self._check_model(request)
        limit = self.service.options.max_infer_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise V2Error(413, f"request too large: {int(declared)} bytes (the limit is {limit} bytes)")
        return parse_v2(await _read_body(request, limit), request.headers.get(HEADER))

    async def infer(self, request: Request) -> Response:
        req = await self._read_request(request)
        x = await self._inputs(req)
        wanted = self._wanted(req)  # checked before the forward
        logits = await self._forward(x)
        outputs = [self._output(o, logits) for o in wanted]
        payload, head = encode_response(self.model, VERSION, req.id, outputs)
        if head is None:
            return Response(payload, media_type="application/json")
        return Response(payload, media_type="application/octet-stream", headers={HEADER: str(head)})

    async def _inputs(self, req: InferRequest) -> torch.Tensor:
        """``N x C x S x S`` network inputs from the request's one input."""
        if len(req.inputs) != 1:
            raise V2Error(400, f"expected exactly one input ('input' or 'image'), got {len(req.inputs)}")
        [t] = req.inputs
        c = self.service.contract
        if t.name == "input":
            want = [c.in_chans, c.input_size, c.input_size]
            if t.datatype != "FP32":
                raise V2Error(400, f"input 'input' must be FP32, got {t.datatype[:20]!r}")
            if len(t.shape) != 4 or t.shape[1:] != want or t.shape[0] < 1:
                raise V2Error(400, f"input 'input' must have shape [N, {', '.join(map(str, want))}], got {t.shape}")
            return torch.from_numpy(fp32_array(t).copy())
        if t.name == "image":
            if t.datatype != "BYTES":
                raise V2Error(400, f"input 'image' must be BYTES, got {t.datatype[:20]!r}")
            if not (len(t.shape) == 1 or (len(t.shape) == 2 and t.shape[1] == 1)) or t.shape[0] < 1:
                raise V2Error(400, f"input 'image' must have shape [N] or [N, 1], got {t.shape}")
            images = bytes_elements(t)
            return torch.cat(await asyncio.gather(*(self._prepare(data) for data in images)))
        raise V2Error(400, f"unknown input {t.name[:40]!r}: this model takes 'input' (FP32) or 'image' (BYTES)")

    async def _prepare(self, data: bytes) -> torch.Tensor:
        """An encoded image -> the network's input, decoded in a worker thread (422 when it is not an image)."""
        try:
            return await anyio.to_thread.run_sync(self.service.prepare, data, limiter=self.api.decoders)
        except UserError as err:  # ImageDecodeError: not an image, truncated, too many pixels...
            raise V2Error(422, str(err)) from None

    async def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """Each image through the shared batcher (so they batch with every other request): ``N x classes``."""
        batcher = self.api.batcher
        if batcher is None:
            raise V2Error(503, "the model is not ready")
        results = await asyncio.gather(*(batcher.submit(x[i : i + 1]) for i in range(len(x))))
        return torch.stack([logits for logits, _ in results])

    def _wanted(self, req: InferRequest) -> list[OutputRequest]:
        if req.outputs is None:
            if req.inputs[0].name == "image":
                return [OutputRequest("probabilities", req.binary_output, DEFAULT_TOPK)]
            return [OutputRequest("logits", req.binary_output)]
        for o in req.outputs:
            if o.name not in OUTPUTS:
                raise V2Error(400, f"unknown output {o.name[:40]!r}: this model gives {' or '.join(OUTPUTS)}")
            if o.classification < 0:
                raise V2Error(400, f"output {o.name!r}: classification must be >= 0, got {o.classification}")
        return req.outputs

    def _output(self, o: OutputRequest, logits: torch.Tensor) -> OutputTensor:
        values = logits if o.name == "logits" else logits.softmax(dim=1)
        n, k = values.shape
        if not o.classification:
            return OutputTensor(o.name, "FP32", [n, k], values.numpy().astype(np.float32), o.binary)
        top = min(o.classification, k)
        v, i = values.topk(top, dim=1)
        names = self.service.names
        rows = [f"{p:f}:{j}:{names[j]}".encode() for vs, js in zip(v.tolist(), i.tolist(), strict=True)
                for p, j in zip(vs, js, strict=True)]  # fmt: skip
        return OutputTensor(o.name, "BYTES", [n, top], rows, o.binary)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    chunks, seen = [], 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise V2Error(413, f"request too large: more than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def v2_error(request: Request, exc: Exception) -> Response:
    """``{"error": "<one line>"}`` with the error's status."""
    assert isinstance(exc, V2Error)
    return JSONResponse({"error": exc.message}, status_code=exc.status)
