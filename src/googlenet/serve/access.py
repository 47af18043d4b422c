"""One access line per HTTP request, through ``logging.getLogger("googlenet.serve.access")`` at INFO, in the
Common Log Format with the latency appended::

    127.0.0.1 - - [06/Dec/2026:16:58:14 +0000] "POST /v2/models/googlenet/infer HTTP/1.1" 200 612 0.0123

(client, ``-``, ``-``, time, request line, status, response body bytes, seconds). ``googlenet serve`` turns
uvicorn's own access log off, so each request is logged once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger("googlenet.serve.access")


def access_line(scope: dict[str, Any], status: int, size: int, seconds: float, when: datetime) -> str:
    """The Common Log Format line of one request."""
    client = scope.get("client") or ("-", 0)
    target = scope.get("raw_path", scope.get("path", "").encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        target += "?" + query
    request = f"{scope.get('method', '-')} {target} HTTP/{scope.get('http_version', '1.1')}"
    request = request.replace("\\", "\\\\").replace('"', '\\"')
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{client[0]} - - [{stamp}] "{request}" {status} {size} {seconds:.4f}'


class AccessLog:
    """ASGI middleware writing :func:`access_line` for every HTTP request (a request that raised: 500)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        start, when = time.perf_counter(), datetime.now(timezone.utc)
        status, size = 500, 0

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(access_line(scope, status, size, time.perf_counter() - start, when))
