"""``googlenet export``: write the inference graph as ONNX, TorchScript or OpenVINO IR, checked against the eager
model."""

from __future__ import annotations

import argparse

from ..deploy.export import check_format, export_model
from ..deploy.int8 import compare_int8, write_int8
from ..deploy.loading import resolve_model
from ..detect.export import detector_export
from ..errors import UserError
from ..hub import save_pretrained
from ..runtime.images import image_root, sample_batch
from ..weights.openvino_file import import_openvino, weights_path
from ._common import add_model_args, check_contract_size, output_file, parse_model_args
from .argtypes import non_negative_float, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a model to ONNX, TorchScript or OpenVINO IR (parity-checked on real images)",
        description="Export the inference graph (logits only, batch norm folded) with the model's contract inside "
        "the file. The file is loaded back and compared with the eager model on real Imagenette images, "
        "preprocessed per the contract; the command fails if any logit differs by more than --tolerance.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", "-c", help="a .safetensors checkpoint (or a run folder)")
    src.add_argument("--model", "-m", help="a registered model name (random weights)")
    add_model_args(p)
    p.add_argument("--num-classes", type=positive_int, default=1000, help="classes of a --model (default 1000)")
    p.add_argument(
        "--format",
        "-f",
        default="onnx",
        help="onnx, torchscript, openvino (IR: -o NAME.xml and NAME.bin beside it; needs the openvino extra), or hf "
        "(the Hugging Face Hub layout in the folder -o: config.json, model.safetensors, README.md; the same as "
        "googlenet hub save)",
    )
    p.add_argument("--output", "-o", required=True, type=output_file, help="output file (not a folder)")
    p.add_argument("--input-size", type=positive_int, help="image side (default: the checkpoint's or the model's)")
    p.add_argument("--dynamic-batch", action="store_true", help="symbolic batch dimension (ONNX)")
    p.add_argument("--batch-size", type=positive_int, default=1, help="batch size of a static-batch ONNX export")
    p.add_argument("--opset", type=positive_int, default=18, help="ONNX opset (default 18)")
    p.add_argument("--legacy-exporter", action="store_true", help="torch.onnx's TorchScript-based exporter")
    p.add_argument("--bake-normalization", action="store_true", help="the file takes [0, 1] RGB and normalises itself")
    p.add_argument(
        "--lrn-as-conv",
        action="store_true",
        help="write LRN as a banded 1x1 conv + sqrt (faster in ONNX Runtime) instead of one ONNX LRN node",
    )
    p.add_argument("--parity-images", type=positive_int, default=8, help="real images for the parity check (default 8)")
    p.add_argument("--data", help="image folder for the parity check (default: Imagenette val)")
    p.add_argument("--tolerance", type=non_negative_float, default=1e-4, help="max abs logit difference (default 1e-4)")
    p.add_argument(
        "--int8", metavar="OUT", type=output_file, help="also write a static int8 (QDQ) ONNX model calibrated on images"
    )
    p.add_argument("--calibration-images", type=positive_int, default=64, help="train images for int8 calibration")
    p.add_argument("--evaluate", action="store_true", help="with --int8: top-1 of fp32 and int8 files on val")
    p.add_argument("--eval-limit", type=positive_int, help="evaluate on at most N val images, spread over the classes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (code := detector_export(args)) is not None:  # a Faster R-CNN checkpoint: googlenet.detect's ONNX export
        return code
    if args.format == "hf":
        return _hub_layout(args)
    check_format(args.format, args.output)  # before any model or image is loaded
    if args.format == "openvino":
        import_openvino("--format openvino")
    if args.int8 and args.format != "onnx":
        raise UserError("--int8 needs --format onnx")
    if args.evaluate and not args.int8:
        raise UserError("--evaluate compares the fp32 and int8 files: give --int8 OUT with it")
    model, contract = resolve_model(args.checkpoint, args.model, parse_model_args(args.model_args), args.num_classes)
    if args.input_size:
        contract = contract.replace(input_size=args.input_size)
    check_contract_size(contract)
    images = sample_batch(args.data, args.parity_images, contract, normalized=False)
    result = export_model(
        model,
        args.output,
        args.format,
        images=images,
        contract=contract,
        dynamic_batch=args.dynamic_batch or bool(args.int8),
        batch_size=args.batch_size,
        opset=args.opset,
        bake_normalization=args.bake_normalization,
        dynamo=not args.legacy_exporter,
        tolerance=args.tolerance,
        lrn_as_conv=args.lrn_as_conv,
    )
    written = f"{result.path} + {weights_path(result.path).name}" if args.format == "openvino" else result.path
    print(
        f"wrote {written} ({result.format}, input {contract.input_size} px, normalisation "
        f"{result.metadata['normalization']}); parity on {result.images} real images: max abs logit difference "
        f"{result.max_abs_diff:.2e} <= {args.tolerance:g} ({result.max_rel_diff:.1e} of the largest logit)"
    )
    if args.int8:
        split = {"split": "train", "normalized": not args.bake_normalization}  # as the file takes them
        calibration = sample_batch(args.data, args.calibration_images, contract, **split)
        write_int8(result.path, args.int8, calibration)
        print(f"wrote {args.int8} (int8 QDQ, calibrated on {len(calibration)} images)")
        if args.evaluate:
            print(compare_int8(result.path, args.int8, image_root(args.data, "val"), args.eval_limit))
    return 0


def _hub_layout(args: argparse.Namespace) -> int:
    """``--format hf``: a checkpoint's Hub directory, read back by ``googlenet.from_pretrained``."""
    if not args.checkpoint:
        raise UserError("--format hf writes a trained checkpoint's Hub directory: give --checkpoint")
    if args.int8 or args.evaluate:
        raise UserError("--format hf writes the weights as they are: --int8 and --evaluate are ONNX options")
    out = save_pretrained(args.checkpoint, args.output)
    print(f"wrote {out} (Hugging Face Hub layout: config.json, model.safetensors, README.md)")
    return 0
