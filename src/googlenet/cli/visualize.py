"""``googlenet visualize``: the image that maximises a channel, neuron, direction or layer of a model (feature
visualisation as Distill's *Feature Visualization*, 2017), named as the papers name layers (``inception_4c``,
``inception_4c/5x5_reduce``, Lucid's ``mixed4c``). Writes a PNG (a grid for several channels)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import torch
from torch import nn

from ..contract import ModelContract
from ..errors import UserError
from ..inside.images import grid, save_png, to_pil
from ..inside.layers import Layer, resolve
from ..inside.load import from_checkpoint, from_registry
from ..inside.objectives import Objective, channel, channels, direction, layer_norm, neuron
from ..inside.visualize import visualize
from ._common import add_model_args, output_file, parse_model_args, print_json, stdout_to_stderr
from .argtypes import non_negative_float, non_negative_int, positive_float, positive_int


def add_source_args(p: argparse.ArgumentParser) -> None:
    """``--checkpoint C`` or ``--model NAME`` (random weights, ``--num-classes``, ``--set KEY=VALUE``)."""
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", metavar="C", help="a checkpoint of the project (.safetensors or run folder)")
    source.add_argument("--model", metavar="NAME", help="a registered model with random weights (for trying out)")
    p.add_argument("--num-classes", type=positive_int, default=1000, help="with --model: classes (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of everything random (default 0)")
    add_model_args(p)


def load_source(args: argparse.Namespace) -> tuple[nn.Module, ModelContract]:
    """The model and contract that ``--checkpoint`` or ``--model`` names."""
    if args.checkpoint:
        return from_checkpoint(args.checkpoint)
    return from_registry(args.model, args.num_classes, seed=args.seed, **parse_model_args(args.model_args))


def model_and_layer(args: argparse.Namespace, pre_relu: bool = False) -> tuple[nn.Module, ModelContract, Layer]:
    """The model and the resolved ``--layer`` (before its ReLU with ``pre_relu``)."""
    model, contract = load_source(args)
    return model, contract, resolve(model, args.layer, pre_relu=pre_relu)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("visualize", help="feature visualisation: the image a channel or layer responds to most")
    p.description = __doc__
    add_source_args(p)
    p.add_argument("--layer", default="inception_4c", help="Caffe/Table 1 name, Lucid name or module path")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--channel", type=non_negative_int, help="channel to maximise (default 0)")
    what.add_argument("--channels", type=non_negative_int, nargs="+", metavar="K", help="several: a grid")
    what.add_argument("--neuron", type=non_negative_int, metavar="K", help="channel K at the map's centre only")
    what.add_argument("--direction", metavar="V1,V2,...", help="a direction of the layer's activation space")
    what.add_argument("--layer-norm", action="store_true", help="the whole layer's L2 (DeepDream's objective)")
    p.add_argument("--size", type=positive_int, default=128, help="image side, px (default 128)")
    p.add_argument("--steps", type=positive_int, default=256, help="optimisation steps (default 256)")
    p.add_argument("--lr", type=positive_float, default=0.05, help="Adam learning rate (default 0.05, Lucid's)")
    p.add_argument("--tv", type=non_negative_float, default=0.0, help="total-variation penalty weight (default 0)")
    p.add_argument(
        "--post-relu",
        action="store_true",
        help="optimise the layer's output after its ReLU (default: before it, as Lucid's *_pre_relu layers)",
    )
    p.add_argument("--no-transforms", action="store_true", help="no random jitter, scale and rotation")
    p.add_argument("--no-decorrelate", action="store_true", help="optimise RGB directly, not decorrelated colour")
    p.add_argument(
        "-o", "--output", default="visualize.png", type=output_file, help="PNG to write (default visualize.png)"
    )
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=run)


def _direction(text: str, layer: str) -> Objective:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"--direction must be comma-separated numbers, got {text!r}") from None
    v = torch.tensor(values)
    if not torch.isfinite(v).all() or float(v.norm()) == 0:
        raise UserError("--direction must be finite and not all zero")
    return direction(v, layer)


def objective_of(args: argparse.Namespace) -> tuple[Objective, int]:
    """The objective the options ask for, and the number of images it optimises."""
    if args.channels:
        return channels(args.channels, args.layer), len(args.channels)
    if args.neuron is not None:
        return neuron(args.neuron, layer=args.layer), 1
    if args.direction:
        return _direction(args.direction, args.layer), 1
    if args.layer_norm:
        return layer_norm(), 1
    return channel(args.channel or 0, args.layer), 1


def run(args: argparse.Namespace) -> int:
    with stdout_to_stderr(args.json):
        if args.lr <= 0 or args.tv < 0:
            raise UserError("--lr must be positive and --tv non-negative")
        model, contract, layer = model_and_layer(args, pre_relu=not args.post_relu)
        objective, n = objective_of(args)
        result = visualize(
            model,
            contract,
            layer,
            objective,
            n=n,
            size=args.size,
            steps=args.steps,
            lr=args.lr,
            seed=args.seed,
            tv=args.tv,
            robust=not args.no_transforms,
            decorrelated=not args.no_decorrelate,
        )
        pictures = [to_pil(img) for img in result.images]
        path = save_png(pictures[0] if n == 1 else grid(pictures), args.output)
    other = args.neuron is not None or args.direction or args.layer_norm  # not a channel objective
    record: dict[str, Any] = {
        "layer": layer.name,
        "module": layer.path,
        "pre_relu": layer.pre_relu,
        "objective": result.objective,
        "channels": args.channels or (None if other else [args.channel or 0]),
        **result.settings,
        "initial": result.history[0],
        "final": result.final,
        "history": result.history,
        "output": str(path),
    }
    if args.json:
        print_json(record)
        return 0
    first = ", ".join(f"{v:.4g}" for v in result.history[0])
    last = ", ".join(f"{v:.4g}" for v in result.final)
    print(f"{layer.name} ({layer.path}), objective {result.objective}: {first} at step 0 -> {last}")
    print(f"wrote {path}")
    sys.stdout.flush()
    return 0
