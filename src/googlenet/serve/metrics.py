"""Prometheus metrics at ``GET /metrics`` (``prometheus-client``, in the ``serve`` extra).

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the process-wide default), so two apps
in one process, tests included, count apart.

==========================================  ==================================================================
``googlenet_http_requests_total``           requests by ``route`` (the path template, ``unmatched`` for none),
                                            ``method`` and ``status``: bad requests are counted with their 4xx
``googlenet_http_request_duration_seconds`` request latency by ``route`` (histogram)
``googlenet_batch_size``                    images in each forward of the dynamic batcher (histogram)
``googlenet_inference_duration_seconds``    the back end's time for each batch (histogram)
``googlenet_queue_depth``                   requests waiting for their batch to start (gauge, read at scrape)
``googlenet_model_info``                    model, checkpoint, back end, device, classes, input size, weights
``googlenet_model_load_seconds``            time to load the checkpoint and build the back end
==========================================  ==================================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from .batching import DynamicBatcher
    from .service import Service

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's metrics, in a registry of their own."""

    def __init__(self, service: Service, batcher: Callable[[], DynamicBatcher | None]) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter(
            "googlenet_http_requests", "HTTP requests by route, method and status", ["route", "method", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "googlenet_http_request_duration_seconds", "HTTP request latency by route, s", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_size = Histogram(
            "googlenet_batch_size", "images in each forward of the dynamic batcher", buckets=BATCH_BUCKETS, registry=r
        )
        self.inference = Histogram(
            "googlenet_inference_duration_seconds", "the back end's time for one batch, s", buckets=LATENCY_BUCKETS,
            registry=r,
        )  # fmt: skip
        queue = Gauge("googlenet_queue_depth", "requests waiting for their batch to start", registry=r)
        queue.set_function(lambda: float(b.waiting) if (b := batcher()) is not None else 0.0)
        c, o = service.contract, service.options
        Info("googlenet_model", "the model this server serves", registry=r).info(
            {
                "model": c.model,
                "checkpoint": str(service.card.get("checkpoint", "")),
                "backend": o.backend,
                "device": o.device,
                "num_classes": str(c.num_classes),
                "input_size": str(c.input_size),
                "weights": c.source,
            }
        )
        load = Gauge("googlenet_model_load_seconds", "time to load the checkpoint and build the back end", registry=r)
        load.set(getattr(service, "load_seconds", 0.0))

    def observe_batch(self, images: int, seconds: float) -> None:
        """The batcher's hook: one forward of ``images`` images took ``seconds``."""
        self.batch_size.observe(images)
        self.inference.observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request by route template, method and status, with its latency.

    It sits inside Starlette's error middleware: a request that raised is counted as 500.
    """

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"  # a template: no unbounded label values
            self.metrics.requests.labels(path, scope.get("method", ""), str(status)).inc()
            self.metrics.latency.labels(path).observe(time.perf_counter() - start)
