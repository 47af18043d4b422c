"""Running the app: a socket bound here (so a busy port is one clear line, and port 0 picks a free one), then
uvicorn, which on SIGTERM or SIGINT stops accepting, lets the requests in flight finish, and then runs the
app's shutdown (the batcher stops). After a SIGTERM the command exits with status 0."""

from __future__ import annotations

import logging
import signal
import socket
import sys

import uvicorn

from ..errors import UserError
from ..logs import configure
from .app import create_app
from .service import Service

GRACEFUL_TIMEOUT_S = 30  # longest the requests in flight get to finish after SIGTERM


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: a free port), or :class:`UserError` saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as err:
        raise UserError(f"cannot listen on {host}:{port}: {getattr(err, 'strerror', None) or err}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock


class _Stopped(Exception):
    """SIGTERM, once uvicorn has shut down gracefully (it re-raises the signals it caught)."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(service: Service, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> int:
    """Serve until SIGTERM or SIGINT; 0 after a graceful shutdown."""
    sock = bind(host, port)
    configure(logging.getLevelName(log_level.upper()))  # googlenet's records, the access lines among them
    config = uvicorn.Config(
        create_app(service),
        log_level=log_level,
        access_log=False,  # serve.access writes one line per request instead
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT_S,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    o = service.options
    print(
        f"googlenet serve: {service.card['architecture']} ({service.card['checkpoint']}) on {url_of(sock)} "
        f"(back end {o.backend}, batches of up to {o.max_batch}, waiting up to {o.max_wait_ms:g} ms)",
        flush=True,
    )
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run(sockets=[sock])
    except _Stopped:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
        service.close()
    if not server.started:
        print("googlenet serve: the server did not start", file=sys.stderr)
        return 1
    return 0
