"""``googlenet export``: write the inference graph as ONNX or TorchScript, checked against the eager model."""

from __future__ import annotations

import argparse

from ..errors import UserError
from ._common import add_model_args, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to ONNX or TorchScript (parity-checked on real images)",
        description="Export the inference graph (logits only, batch norm folded) with metadata inside the file. "
        "The file is loaded back and compared with the eager model on real Imagenette images; the command "
        "fails if any logit differs by more than --tolerance.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", "-c", help="a .safetensors checkpoint (or a run folder)")
    src.add_argument("--model", "-m", help="a registered model name (random weights)")
    add_model_args(p)
    p.add_argument("--num-classes", type=positive_int, default=1000, help="classes of a --model (default 1000)")
    p.add_argument("--format", "-f", default="onnx", help="onnx or torchscript (default onnx)")
    p.add_argument("--output", "-o", required=True, help="output file")
    p.add_argument("--input-size", type=positive_int, help="image side (default: the checkpoint's or the model's)")
    p.add_argument("--dynamic-batch", action="store_true", help="symbolic batch dimension (ONNX)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="batch size of a static-batch ONNX export")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    p.add_argument("--legacy-exporter", action="store_true", help="torch.onnx's TorchScript-based exporter")
    p.add_argument("--bake-normalization", action="store_true", help="the file takes [0, 1] RGB, normalises itself")
    p.add_argument(
        "--lrn-as-conv",
        action="store_true",
        help="write LRN as a banded 1x1 conv + sqrt (faster in ONNX Runtime) instead of one ONNX LRN node",
    )
    p.add_argument("--parity-images", type=positive_int, default=8, help="real images for the parity check (default 8)")
    p.add_argument("--data", help="image folder for the parity check (default: Imagenette val)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max abs logit difference (default 1e-4)")
    p.add_argument("--int8", metavar="OUT", help="also write a static int8 (QDQ) ONNX model calibrated on images")
    p.add_argument("--calibration-images", type=positive_int, default=64, help="train images for int8 calibration")
    p.add_argument("--evaluate", action="store_true", help="with --int8: top-1 of fp32 and int8 files on val")
    p.add_argument("--eval-limit", type=positive_int, help="evaluate on at most this many val images")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..data.datasets import normalization
    from ..deploy.export import export_model
    from ..deploy.images import sample_batch
    from ..deploy.loading import resolve_model
    from ._common import parse_model_args

    model, meta = resolve_model(args.checkpoint, args.model, parse_model_args(args.model_args), args.num_classes)
    size = args.input_size or int(meta.get("input_size") or 224)
    in_chans = getattr(model, "in_chans", 3)
    images = sample_batch(args.parity_images, size, mean=None, std=None, data=args.data, in_chans=in_chans)
    if args.int8 and args.format != "onnx":
        raise UserError("--int8 needs --format onnx")
    result = export_model(
        model,
        args.output,
        args.format,
        images=images,
        meta=meta,
        dynamic_batch=args.dynamic_batch or bool(args.int8),
        batch_size=args.batch_size,
        opset=args.opset,
        bake_normalization=args.bake_normalization,
        dynamo=not args.legacy_exporter,
        tolerance=args.tolerance,
        lrn_as_conv=args.lrn_as_conv,
    )
    print(
        f"wrote {result.path} ({result.format}, input {size} px, normalisation {result.metadata['normalization']}); "
        f"parity on {result.images} real images: max abs logit difference {result.max_abs_diff:.2e} "
        f"<= {args.tolerance:g} ({result.max_rel_diff:.1e} of the largest logit)"
    )
    if args.int8:
        from ..deploy.quantize import quantize_static_file

        mean, std = normalization(meta, in_chans)
        calib = sample_batch(
            args.calibration_images,
            size,
            mean=None if args.bake_normalization else mean,
            std=None if args.bake_normalization else std,
            data=args.data,
            in_chans=in_chans,
            split="train",
        )
        quantize_static_file(result.path, args.int8, calib)
        print(f"wrote {args.int8} (int8 QDQ, calibrated on {len(calib)} images)")
        if args.evaluate:
            _compare(args, result.path, meta, size, None if args.bake_normalization else (mean, std))
    return 0


def _compare(args: argparse.Namespace, fp32_path: str, meta: dict, size: int, norm: tuple | None) -> None:
    """Top-1 of the fp32 and int8 files on the validation images, and how often they agree."""
    from ..data.sources import resolve_split
    from ..deploy.accuracy import labelled_files, top1
    from ..deploy.export import load_exported

    root = resolve_split(args.data or "imagenette2-128", None)
    root = root / "val" if (root / "val").is_dir() else root
    files = labelled_files(root, meta.get("class_names"))
    if args.eval_limit:
        files = files[:: max(1, len(files) // args.eval_limit)][: args.eval_limit]
    mean, std = norm if norm else (None, None)
    acc32, p32 = top1(load_exported(fp32_path), files, size, mean, std)
    acc8, p8 = top1(load_exported(args.int8), files, size, mean, std)
    agree = (p32 == p8).float().mean().item()
    print(
        f"top-1 on {len(files)} val images: fp32 {100 * acc32:.2f}%, int8 {100 * acc8:.2f}% "
        f"(change {100 * (acc8 - acc32):+.2f} points); predictions agree on {100 * agree:.1f}%"
    )
