"""``googlenet import-weights SRC.pth --model NAME -o OUT.safetensors``: torchvision checkpoint -> project format."""

from __future__ import annotations

import argparse

from ..contract import ModelContract
from ..errors import UserError
from ..weights import import_torchvision
from ._common import add_model_args, parse_model_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-weights",
        help="convert a torchvision .pth state dict into a .safetensors checkpoint with metadata",
        description="Convert a torchvision state dict (read with weights_only=True) for a registered model into "
        "this project's .safetensors + .json format; the file must fit the model exactly.",
    )
    p.add_argument("src", help="torchvision checkpoint (.pth), e.g. resnet50-11ad3fa6.pth")
    p.add_argument("--model", required=True, help="registered model name, e.g. resnet50 or googlenet_bn")
    p.add_argument("-o", "--output", required=True, help="destination .safetensors file")
    p.add_argument("--num-classes", type=int, default=None, help="classifier size (default: read from the file)")
    p.add_argument(
        "--class-names", default=None, help="text file with one class name per line (default: ImageNet's for 1000)"
    )
    add_model_args(p)
    p.epilog = (
        "googlenet_bn records transform_input=true unless --set transform_input=false is given: torchvision's "
        "published GoogLeNet weights expect it."
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kwargs = parse_model_args(args.model_args)
    class_names = None
    if args.class_names:
        try:
            with open(args.class_names) as f:
                class_names = [line.strip() for line in f if line.strip()]
        except OSError as err:
            raise UserError(f"cannot read class names: {err}") from None
    path, meta = import_torchvision(
        args.src, args.model, args.output, num_classes=args.num_classes, model_kwargs=kwargs, class_names=class_names
    )
    contract = ModelContract.from_meta(meta)
    extra = f", options {dict(contract.model_kwargs)}" if contract.model_kwargs else ""
    print(f"wrote {path} ({contract.model}, {contract.num_classes} classes{extra})")
    return 0
