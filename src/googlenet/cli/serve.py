"""``googlenet serve``: an HTTP API (``POST /v1/predict``, ``POST /v1/cam``, ``GET /v1/model``, ``GET /healthz``)
and a web page (``GET /``) for a checkpoint's predictions with Grad-CAM, or a detector's boxes drawn on the photo;
concurrent requests share a forward."""

from __future__ import annotations

import argparse

from ..detect.serving import open_service
from ..runtime.backends import available_backends
from ..serve.server import serve
from ..serve.service import MiB, ServeOptions
from .argtypes import non_negative_float, non_negative_int, positive_float, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve a checkpoint over HTTP, with a web page", description=__doc__)
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="C",
        help="model file: a .safetensors checkpoint (or run folder; a detection checkpoint answers with boxes), or "
        "an exported .onnx, TorchScript or OpenVINO .xml file (no Grad-CAM: it needs the PyTorch model)",
    )
    p.add_argument(
        "--backend", default="eager", help=f"inference back end: {', '.join(available_backends())} (default: eager)"
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=non_negative_int, default=8000, help="port (default 8000; 0: a free one)")
    p.add_argument("--max-batch", type=positive_int, default=16, help="most images in one forward (default 16)")
    p.add_argument(
        "--max-wait-ms",
        type=non_negative_float,
        default=5.0,
        help="longest a request waits for others to share its forward, ms (default 5)",
    )
    p.add_argument("--max-upload-mb", type=positive_float, default=10.0, help="largest request body, MiB (default 10)")
    p.add_argument(
        "--max-infer-mb", type=positive_float, default=64.0, help="largest /v2 inference request, MiB (default 64)"
    )
    p.add_argument(
        "--max-pixels", type=positive_int, default=25_000_000, help="largest image, width x height (default 25000000)"
    )
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: torch's setting)")
    p.add_argument("--decode-threads", type=positive_int, default=4, help="uploads decoded at once (default 4)")
    p.add_argument("--cam-layer", default=None, help="Grad-CAM layer (default: the last block, inception5b)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    options = ServeOptions(
        backend=args.backend,
        device=args.device,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_upload_bytes=max(1, int(args.max_upload_mb * MiB)),
        max_infer_bytes=max(1, int(args.max_infer_mb * MiB)),
        max_pixels=args.max_pixels,
        threads=args.threads,
        decode_threads=args.decode_threads,
        cam_layer=args.cam_layer,
    )
    return serve(open_service(args.checkpoint, options), args.host, args.port, args.log_level)
