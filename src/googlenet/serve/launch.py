"""``googlenet serve`` as a child process: start it on a free loopback port, wait until ``/healthz`` answers, stop
it with SIGTERM (the server's graceful shutdown). For scripts that drive a real server: the load benchmark and
the tests. Standard library only (no web package needed in the parent).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import googlenet

PACKAGE_ROOT = Path(googlenet.__file__).resolve().parents[1]  # the folder the child imports this same package from


class ServerStartError(RuntimeError):
    """The server exited or never answered ``/healthz``; the message holds what it printed."""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_server(
    checkpoint: Path, *options: str, threads: int = 1, capture_stderr: bool = True, timeout_s: float = 60.0
) -> tuple[subprocess.Popen, str]:
    """``googlenet serve --checkpoint CHECKPOINT --port 0 OPTIONS`` with ``threads`` OpenMP threads; the process and
    its URL (``http://127.0.0.1:PORT``) once ``/healthz`` answers 200. ``capture_stderr``: keep the server's log
    in a pipe for :func:`stop_server` to return (else it goes to this process's stderr); a server that logs more
    than the pipe holds (about 64 KiB) waits until it is read, so long runs pass ``capture_stderr=False``."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)  # the caller's too
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": path}
    argv = [sys.executable, "-m", "googlenet", "serve", "--checkpoint", str(checkpoint), "--port", "0", *options]
    stderr = subprocess.PIPE if capture_stderr else None
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    line = proc.stdout.readline()  # "googlenet serve: googlenet (best.safetensors) on http://127.0.0.1:PORT/ ..."
    if " on http://" not in line:
        proc.kill()
        said = proc.stderr.read() if capture_stderr else ""
        raise ServerStartError(f"googlenet serve did not start: {line}{said}".strip())
    url = line.split(" on ", 1)[1].split()[0].rstrip("/")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _healthy(url):
            return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise ServerStartError(f"googlenet serve did not answer {url}/healthz within {timeout_s:g} s")


def stop_server(proc: subprocess.Popen, timeout_s: float = 30.0) -> str:
    """SIGTERM (a graceful stop: requests in flight finish), SIGKILL after ``timeout_s``; the server's captured
    stderr ('' where it was not captured)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stderr.read() if proc.stderr else ""
