"""The HTTP API and the page, on Starlette (ASGI; uvicorn runs it, see :mod:`.server`).

=====================  ================================================================================
``GET /``              the page: drop or choose a photo, the top-5 as bars and the Grad-CAM overlay
``GET /healthz``       ``{"status": "ok", ...}`` with the batching counters
``GET /v1/model``      the model card (:func:`~googlenet.serve.service.model_card`)
``POST /v1/predict``   an image (multipart field ``file``, or the raw body as ``image/*`` or
                       ``application/octet-stream``), ``?topk=5`` -> the top classes (index, name,
                       probability), the size of the batch it ran in, the server-side latency
``POST /v1/cam``       an image, ``?index=`` (default: the top class) -> the Grad-CAM overlay as a PNG
``/v2/...``            the Open Inference Protocol (KServe v2), on the same batcher: :mod:`.v2`
``GET /metrics``       Prometheus metrics: :mod:`.metrics`
=====================  ================================================================================

Every mistake in a request is a 4xx JSON ``{"error": "<one line>"}``: no image, an empty body, an undecodable or
truncated file, a decompression bomb or an image over the pixel limit (422), a body over the upload limit (413),
a content type other than an image, octet-stream or multipart (415), a query value that is not a valid integer
(400). Nothing from a request names a file: uploads are read into memory (a multipart part over 1 MiB is
spooled to an anonymous temporary file), never saved under a name.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources

import anyio
import python_multipart  # noqa: F401  (Starlette's multipart parser needs it: missing, the CLI names the extra)
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import UserError
from .access import AccessLog
from .batching import DynamicBatcher
from .metrics import Metrics, MetricsMiddleware
from .service import Service
from .v2 import V2, V2Error, v2_error

log = logging.getLogger(__name__)
RAW_TYPES = ("application/octet-stream",)  # besides image/*; a request without a content type is read raw too
INTEGER = re.compile(r"[0-9]{1,18}")


class ApiError(Exception):
    """A request the server refuses: an HTTP status and one line saying why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _shown(value: str, limit: int = 40) -> str:
    """A request value quoted for an error message: one line, at most ``limit`` characters."""
    text = value if len(value) <= limit else value[:limit] + "..."
    return repr(text)


def query_int(request: Request, name: str, default: int | None, low: int, high: int | None = None) -> int | None:
    """Query parameter ``name`` as an integer in ``low..high`` (``default`` when absent), else 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    want = "a positive integer" if low == 1 and high is None else f"an integer from {low} to {high}"
    if not INTEGER.fullmatch(raw) or int(raw) < low or (high is not None and int(raw) > high):
        raise ApiError(400, f"{name} must be {want}, got {_shown(raw)}")
    return int(raw)


async def _limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise ApiError(413, f"upload too large: more than the limit of {limit} bytes")
        yield chunk


async def read_upload(request: Request, limit: int) -> bytes:
    """The image a request carries: a multipart ``file`` field, or the raw body."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"upload too large: {int(declared)} bytes (the limit is {limit} bytes)")
    if media == "multipart/form-data":
        data = await _multipart_file(request, limit)
    elif not media or media in RAW_TYPES or media.startswith("image/"):
        data = b"".join([chunk async for chunk in _limited(request, limit)])
    else:
        raise ApiError(
            415,
            f"unsupported content type {_shown(media)}: send the image as multipart/form-data (field 'file'), "
            "or as the body with an image/* or application/octet-stream content type",
        )
    if not data:
        raise ApiError(400, "empty body: no image was sent")
    return data


async def _multipart_file(request: Request, limit: int) -> bytes:
    parser = MultiPartParser(request.headers, _limited(request, limit), max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise ApiError(400, f"bad multipart upload: {err.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
        if upload is None:
            raise ApiError(400, "the multipart upload has no file: send the image in a field named 'file'")
        return await upload.read()  # its file name is never used
    finally:
        await form.close()


class Api:
    """The handlers, sharing the service, the batcher and the decoding limiter."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.batcher: DynamicBatcher | None = None
        self.on_batch: Callable[[int, float], None] | None = None  # the metrics' hook, set by create_app
        self.decoders = anyio.CapacityLimiter(service.options.decode_threads)
        self.page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        self.batcher = self.make_batcher()
        self.batcher.start()
        try:
            yield
        finally:  # uvicorn gets here after the requests in flight have finished
            await self.batcher.stop()

    def make_batcher(self) -> DynamicBatcher:
        """Logits through the batcher: /v1 takes their softmax, /v2 gives either (one view an image: the same)."""
        opts = self.service.options
        return DynamicBatcher(self.service.logits, opts.max_batch, opts.max_wait_ms, self.on_batch)

    async def _decode(self, fn, *args):
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.decoders)
        except UserError as err:  # ImageDecodeError: not an image, truncated, too large...
            raise ApiError(422, str(err)) from None

    async def index(self, request: Request) -> Response:
        return HTMLResponse(self.page)

    async def healthz(self, request: Request) -> Response:
        stats = {**self.batcher.stats.as_dict(), "waiting": self.batcher.waiting} if self.batcher else {}
        return JSONResponse({"status": "ok", "model": self.service.contract.model, "batches": stats})

    async def model(self, request: Request) -> Response:
        return JSONResponse(self.service.card)

    async def predict(self, request: Request) -> Response:
        start = time.perf_counter()
        topk = query_int(request, "topk", 5, 1)
        data = await read_upload(request, self.service.options.max_upload_bytes)
        x = await self._decode(self.service.prepare, data)
        assert self.batcher is not None
        logits, batch = await self.batcher.submit(x)
        probs = logits.softmax(dim=0)
        p, i = probs.topk(min(topk, len(probs)))
        names = self.service.names
        pairs = zip(p.tolist(), i.tolist(), strict=True)
        top = [{"index": j, "class": names[j], "prob": round(v, 6)} for v, j in pairs]
        latency = (time.perf_counter() - start) * 1000.0
        return JSONResponse(
            {"model": self.service.contract.model, "top": top, "batch_size": batch, "latency_ms": round(latency, 3)}
        )

    async def cam(self, request: Request) -> Response:
        start = time.perf_counter()
        index = query_int(request, "index", None, 0, self.service.contract.num_classes - 1)
        data = await read_upload(request, self.service.options.max_upload_bytes)
        if self.service.card["serving"]["cam_layer"] is None:
            raise ApiError(501, "Grad-CAM needs the PyTorch model; this server runs an exported graph")
        png, shown = await self._decode(self.service.cam_png, data, index)
        headers = {
            "X-Class-Index": str(shown),
            "X-Cam-Layer": self.service.card["serving"]["cam_layer"],
            "X-Latency-Ms": f"{(time.perf_counter() - start) * 1000.0:.3f}",
        }
        return Response(png, media_type="image/png", headers=headers)


def _error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    if isinstance(exc, HTTPException):  # 404, 405
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": f"internal error ({type(exc).__name__})"}, status_code=500)


def create_app(service: Service) -> Starlette:
    """The ASGI application serving ``service``; a service may name its own route classes (``api_class``,
    ``v2_class``: a detector's, :mod:`googlenet.detect.serve_app`)."""
    api_class, v2_class = getattr(service, "api_class", Api), getattr(service, "v2_class", V2)
    api = api_class(service)
    routes = [
        Route("/", api.index, methods=["GET"]),
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/v1/model", api.model, methods=["GET"]),
        Route("/v1/predict", api.predict, methods=["POST"]),
        Route("/v1/cam", api.cam, methods=["POST"]),
    ]
    routes += v2_class(api).routes()
    metrics = Metrics(service, lambda: api.batcher)
    api.on_batch = metrics.observe_batch
    routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    handlers = {ApiError: _error, V2Error: v2_error, HTTPException: _error, Exception: _error}
    middleware = [Middleware(AccessLog), Middleware(MetricsMiddleware, metrics=metrics)]
    return Starlette(routes=routes, lifespan=api.lifespan, exception_handlers=handlers, middleware=middleware)
