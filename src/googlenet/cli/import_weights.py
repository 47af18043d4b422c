"""``googlenet import-weights``: published weights -> this project's checkpoint (.safetensors + contract).

Three sources: a torchvision ``.pth`` state dict (``SRC.pth --model NAME``), BVLC's Caffe files (``SRC.caffemodel
--model googlenet|alexnet_bvlc``; the format is recognised from the file), and torchvision's published weights by
name through its weights API and download cache (``--torchvision NAME``).
"""

from __future__ import annotations

import argparse
import dataclasses

from ..contract import ModelContract
from ..errors import UserError
from ..weights import convert, resolve
from ..weights.caffe import NETWORKS
from ._common import add_model_args, output_file, parse_model_args
from .argtypes import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-weights",
        help="convert torchvision or BVLC Caffe weights into a .safetensors checkpoint with its input contract",
        description="Convert a torchvision state dict (read with weights_only=True), BVLC's Caffe model (GoogLeNet, "
        "AlexNet) or torchvision's published weights by name into this project's .safetensors + .json format; the "
        "weights must fit the model exactly. The checkpoint records how its inputs must be prepared, so eval, "
        "predict, export and bench need no extra flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "src", nargs="?", help="a torchvision .pth (e.g. resnet50-11ad3fa6.pth) or a .caffemodel (bvlc_googlenet)"
    )
    p.add_argument("--model", help="registered model name, e.g. resnet50, googlenet_bn, googlenet, alexnet_bvlc")
    p.add_argument(
        "--torchvision",
        metavar="NAME",
        help="torchvision's default ImageNet weights for model NAME (its download cache in $TORCH_HOME), no SRC",
    )
    p.add_argument("-o", "--output", required=True, type=output_file, help="destination .safetensors file")
    p.add_argument(
        "--num-classes", type=positive_int, default=None, help="classifier size (default: read from the file)"
    )
    p.add_argument(
        "--class-names", default=None, help="text file with one class name per line (default: ImageNet's for 1000)"
    )
    add_model_args(p)
    p.epilog = (
        "examples:\n"
        "  googlenet import-weights bvlc_googlenet.caffemodel --model googlenet -o googlenet-bvlc.safetensors\n"
        "  googlenet import-weights bvlc_alexnet.caffemodel --model alexnet_bvlc -o alexnet-bvlc.safetensors\n"
        "  googlenet import-weights --torchvision resnet50 -o resnet50-tv.safetensors\n"
        "  googlenet import-weights resnet50-11ad3fa6.pth --model resnet50 -o resnet50.safetensors\n"
        "googlenet_bn records transform_input=true unless --set transform_input=false is given: torchvision's "
        "published GoogLeNet weights expect it."
    )
    p.set_defaults(func=run)


def _read_names(path: str) -> list[str]:
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError as err:
        raise UserError(f"cannot read class names: {err}") from None


def run(args: argparse.Namespace) -> int:
    kwargs = parse_model_args(args.model_args)
    if args.torchvision:
        if args.src or args.model:
            raise UserError("--torchvision NAME takes the weights by name: give no SRC file and no --model")
        path, meta = convert(resolve("torchvision", args.torchvision), args.output, args.torchvision, **kwargs)
    elif not args.src or not args.model:
        raise UserError("give SRC --model NAME (a .pth or .caffemodel file), or --torchvision NAME")
    else:
        source = resolve(args.src, args.model)
        if source.kind == "caffe":
            if kwargs or args.num_classes is not None or args.class_names:
                raise UserError("a caffemodel fixes the network: --set, --num-classes and --class-names do not apply")
            if args.model not in NETWORKS:
                raise UserError(
                    f"{args.src} is a Caffe model: import it into {' or '.join(NETWORKS)}, not {args.model!r}"
                )
            path, meta = convert(source, args.output)
        else:
            names = _read_names(args.class_names) if args.class_names else None
            options = {"num_classes": args.num_classes, "model_kwargs": kwargs, "class_names": names}
            as_pth = dataclasses.replace(source, kind="pth", model=args.model)  # what is not Caffe is a state dict
            path, meta = convert(as_pth, args.output, **options)
    contract = ModelContract.from_meta(meta)
    extra = f", options {dict(contract.model_kwargs)}" if contract.model_kwargs else ""
    print(f"wrote {path} ({contract.model}, {contract.num_classes} classes{extra})")
    print(f"input: {describe_input(contract)}")
    published = contract.weights.get("published") or contract.weights.get("name")
    if published:
        print(f"weights: {published}")
    return 0


def describe_input(c: ModelContract) -> str:
    """One line: how the checkpoint's inputs are prepared."""
    rule = "warped to" if c.resize == "warp" else "shorter side to"
    scale = "0-255" if c.pixel_range == 255.0 else "0-1"
    mean = ", ".join(f"{m:g}" for m in c.mean)
    std = ", ".join(f"{s:g}" for s in c.std)
    return (
        f"{c.channel_order} {scale}, mean ({mean}), std ({std}); {rule} {c.resize_size} px ({c.interpolation}), "
        f"centre {c.input_size} px"
    )
