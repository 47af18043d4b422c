"""A bounded load test of ``googlenet serve`` on 127.0.0.1: throughput, p50/p99 latency and errors.

Starts real servers (``googlenet serve --port 0``, a subprocess) on a random-weight checkpoint saved with the
package's own save path, and sends a fixed number of requests with the same photo:

1. sequential single requests (one client, one request at a time);
2. ``--clients`` concurrent clients against a server with batching off (``--max-batch 1``);
3. the same against a server with dynamic batching (``--max-batch``, ``--max-wait-ms``);
4. that again while ``--bad-clients`` more send a mix of bad uploads (not an image, truncated, a decompression
   bomb, over the upload limit, empty, a wrong content type, a bad ``topk``) and bad Open Inference Protocol
   requests (malformed JSON, an unknown model, a wrong shape or datatype, bytes that are not an image, a body over
   ``--max-infer-mb``), each of which must get its 4xx JSON error and be counted by ``GET /metrics``.

and prints the figures as a Markdown table, the dynamic batching speed-up (throughput ratios) and the CPU::

    python benchmarks/serve_load.py [--requests 320] [--clients 32] [--threads 2]

Every loop is bounded by a count and every request by a timeout; nothing but 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from PIL import Image, ImageDraw

from googlenet import weights
from googlenet.cli.argtypes import non_negative_float, non_negative_int, positive_float, positive_int
from googlenet.device import cpu_model
from googlenet.factory import create_model, default_contract
from googlenet.serve import launch

ROOT = Path(__file__).resolve().parents[1]
UPLOAD_MB = 2
sys.path.insert(0, str(ROOT / "tests"))
from _synthetic import bomb_png  # noqa: E402  (the suite's crafted images: a PNG that decodes to 144 M pixels)


@dataclass
class Run:
    """What one phase measured."""

    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)  # client-side, s
    server_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    mean_batch: float = 0.0
    bad_sent: int = 0
    bad_wrong: int = 0  # bad uploads not answered with their 4xx
    bad_counted: float = 0  # 4xx answers GET /metrics counted during the run

    @property
    def requests(self) -> int:
        return len(self.latencies) + self.errors

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def pct(self, values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]

    def row(self) -> str:
        lat = [v * 1e3 for v in self.latencies]
        return (
            f"| {self.name} | {self.clients} | {self.requests} | {self.errors} | {self.throughput:.1f} | "
            f"{self.pct(lat, 50):.1f} | {self.pct(lat, 99):.1f} | {self.pct(self.server_ms, 50):.1f} | "
            f"{self.mean_batch:.2f} |"
        )


def photo(size: tuple[int, int] = (640, 480)) -> bytes:
    img = Image.new("RGB", size)
    w, h = size
    draw = ImageDraw.Draw(img)
    for y in range(h):
        draw.line([(0, y), (w, y)], fill=(40, 90 + 100 * y // h, 200 - 80 * y // h))
    draw.ellipse([w * 0.6, h * 0.1, w * 0.85, h * 0.43], fill=(250, 210, 60))
    draw.polygon([(0, h), (w * 0.3, h * 0.55), (w * 0.7, h * 0.8), (w, h)], fill=(40, 140, 60))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def bad_uploads(good: bytes, model: str) -> list[tuple[str, dict, int]]:
    """(path, request arguments, expected status) for each kind of bad request, /v1 and /v2."""
    jpeg = {"content-type": "image/jpeg"}
    v1, v2 = "/v1/predict", f"/v2/models/{model}/infer"
    tensor = {"name": "input", "datatype": "FP32", "shape": [1, 3, 8, 8], "data": [0.0] * 192}
    not_image = {"name": "image", "datatype": "BYTES", "shape": [1], "data": [base64.b64encode(b"GIF89a").decode()]}
    return [
        (v1, {"content": b"this is not an image", "headers": jpeg}, 422),
        (v1, {"content": good[: len(good) // 3], "headers": jpeg}, 422),
        (v1, {"content": bomb_png(12000, 12000), "headers": {"content-type": "image/png"}}, 422),
        (v1, {"content": b"\xff" * (UPLOAD_MB * (1 << 20) + 1), "headers": jpeg}, 413),
        (v1, {"content": b"", "headers": jpeg}, 400),
        (v1, {"content": good, "headers": {"content-type": "text/plain"}}, 415),
        (v1 + "?topk=-1", {"content": good, "headers": jpeg}, 400),
        (v2, {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400),
        ("/v2/models/no-such-model/infer", {"json": {"inputs": [tensor]}}, 404),
        (v2, {"json": {"inputs": [tensor]}}, 400),  # 8 px, not the model's size
        (v2, {"json": {"inputs": [{**tensor, "datatype": "FP64"}]}}, 400),
        (v2, {"json": {"inputs": [not_image]}}, 422),
        (v2, {"content": b" " * (UPLOAD_MB * (1 << 20) + 1), "headers": {"content-type": "application/json"}}, 413),
    ]


def count_4xx(metrics: str) -> float:
    """Requests answered 4xx so far, from ``GET /metrics``."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "googlenet_http_requests_total" and s.labels["status"].startswith("4")
    )


def make_checkpoint(folder: Path, model: str, width: float, input_size: int, classes: int) -> Path:
    kwargs = {"width": width} if width != 1.0 else {}
    net = create_model(model, num_classes=classes, **kwargs)
    contract = default_contract(model, classes, **kwargs).replace(input_size=input_size, crop_fraction=0.875)
    return weights.save(folder / f"{model}.safetensors", net, contract)


def start_server(checkpoint: Path, threads: int, *options: str) -> tuple[subprocess.Popen, str]:
    common = ["--threads", str(threads), "--max-upload-mb", str(UPLOAD_MB), "--max-infer-mb", str(UPLOAD_MB)]
    try:
        return launch.start_server(
            checkpoint, *common, "--log-level", "warning", *options, threads=threads, capture_stderr=False
        )
    except launch.ServerStartError as err:
        raise SystemExit(str(err)) from None


async def load(url: str, run: Run, good: bytes, total: int, bad_clients: int = 0, model: str = "googlenet") -> None:
    """``run.clients`` clients share ``total`` good requests; ``bad_clients`` send bad uploads meanwhile."""
    taken = 0
    done = asyncio.Event()
    bad = bad_uploads(good, model)
    limits = httpx.Limits(max_connections=run.clients + bad_clients + 4)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def good_client() -> None:
            nonlocal taken
            while taken < total:
                taken += 1
                start = time.perf_counter()
                try:
                    r = await client.post("/v1/predict", content=good, headers={"content-type": "image/jpeg"})
                    ok = r.status_code == 200 and len(r.json()["top"]) == 5
                except httpx.HTTPError:
                    ok = False
                if ok:
                    run.latencies.append(time.perf_counter() - start)
                    run.server_ms.append(r.json()["latency_ms"])
                else:
                    run.errors += 1

        async def bad_client(offset: int) -> None:
            i = offset
            while not done.is_set() and run.bad_sent < total:  # bounded by count as well
                path, kwargs, status = bad[i % len(bad)]
                i += 1
                run.bad_sent += 1
                try:
                    r = await client.post(path, **kwargs)
                    run.bad_wrong += r.status_code != status or "error" not in r.json()
                except httpx.HTTPError:
                    run.bad_wrong += 1

        before = (await client.get("/healthz")).json()["batches"]
        refused = count_4xx((await client.get("/metrics")).text)
        start = time.perf_counter()
        bad_tasks = [asyncio.create_task(bad_client(k)) for k in range(bad_clients)]
        await asyncio.gather(*(good_client() for _ in range(run.clients)))
        run.seconds = time.perf_counter() - start
        done.set()
        await asyncio.gather(*bad_tasks)
        after = (await client.get("/healthz")).json()["batches"]
        run.bad_counted = count_4xx((await client.get("/metrics")).text) - refused
    forwards = after["forwards"] - before["forwards"]  # bad uploads never reach a forward
    run.mean_batch = (after["images"] - before["images"]) / forwards if forwards else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="googlenet")
    parser.add_argument("--width", type=positive_float, default=1.0, help="channel width multiplier")
    parser.add_argument("--input-size", type=positive_int, default=224)
    parser.add_argument("--classes", type=positive_int, default=1000)
    parser.add_argument("--requests", type=positive_int, default=320, help="good requests per concurrent run")
    parser.add_argument("--sequential", type=positive_int, default=48, help="sequential single requests")
    parser.add_argument("--clients", type=positive_int, default=32)
    parser.add_argument("--bad-clients", type=non_negative_int, default=4)
    parser.add_argument("--max-batch", type=positive_int, default=32)
    parser.add_argument("--max-wait-ms", type=non_negative_float, default=10.0)
    parser.add_argument("--backend", default="eager")
    parser.add_argument("--threads", type=positive_int, default=2, help="the server's intra-op threads")
    args = parser.parse_args()

    good = photo()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        ckpt = make_checkpoint(Path(tmp), args.model, args.width, args.input_size, args.classes)
        common = ("--backend", args.backend)
        runs = []
        proc, url = start_server(ckpt, args.threads, *common, "--max-batch", "1")
        try:
            asyncio.run(load(url, Run("warm-up", 1), good, 4))
            seq = Run("sequential single requests", 1)
            asyncio.run(load(url, seq, good, args.sequential))
            unbatched = Run("concurrent, batching off (--max-batch 1)", args.clients)
            asyncio.run(load(url, unbatched, good, args.requests))
            runs += [seq, unbatched]
        finally:
            launch.stop_server(proc)
        batching = ("--max-batch", str(args.max_batch), "--max-wait-ms", f"{args.max_wait_ms:g}")
        proc, url = start_server(ckpt, args.threads, *common, *batching)
        try:
            asyncio.run(load(url, Run("warm-up", args.clients), good, args.clients))
            name = f"concurrent, dynamic batching (--max-batch {args.max_batch}, --max-wait-ms {args.max_wait_ms:g})"
            batched = Run(name, args.clients)
            asyncio.run(load(url, batched, good, args.requests))
            mixed = Run(f"the same, {args.bad_clients} more clients sending bad uploads", args.clients)
            asyncio.run(load(url, mixed, good, args.requests, args.bad_clients, args.model))
            runs += [batched, mixed]
        finally:
            launch.stop_server(proc)

    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    width = f" width {args.width:g}" if args.width != 1.0 else ""
    print(f"CPU: {cpu_model()}; {os.cpu_count()} logical CPUs, {affinity} usable; server threads {args.threads}")
    print(
        f"model: {args.model}{width}, {args.input_size} px, {args.classes} classes, random weights, back end "
        f"{args.backend}; a {len(good) // 1024} KiB 640x480 JPEG per request; clients and servers on this machine"
    )
    print("| run | clients | requests | errors | req/s | p50 ms | p99 ms | server p50 ms | images per forward |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        print(run.row())
    print(
        f"bad requests (/v1 and /v2) during the last run: {mixed.bad_sent} sent, {mixed.bad_sent - mixed.bad_wrong} "
        f"answered with their 4xx JSON error, {mixed.bad_wrong} otherwise, {mixed.bad_counted:g} counted as 4xx by "
        f"GET /metrics; good-request errors in all runs: {sum(r.errors for r in runs)}"
    )
    print(
        f"dynamic batching speed-up: {batched.throughput / seq.throughput:.2f}x the throughput of sequential single "
        f"requests, {batched.throughput / unbatched.throughput:.2f}x concurrent requests without batching"
    )


if __name__ == "__main__":
    main()
