"""``googlenet dream``: DeepDream on a photo (the 2015 *Inceptionism* notebook): gradient ascent on a layer's
activation norm over several octaves with random jitter, amplifying whatever the layer sees. Writes a PNG of the
photo's size."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UserError
from ..inside.dream import dream
from ..inside.images import load_photo, save_png, to_pil
from ._common import output_file, print_json, stdout_to_stderr
from .argtypes import non_negative_int, positive_float, positive_int
from .visualize import add_source_args, model_and_layer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dream", help="DeepDream: amplify what a layer sees in a photo")
    p.description = __doc__
    p.add_argument("photo", help="an image file")
    add_source_args(p)
    p.add_argument("--layer", default="inception_4c", help="layer to amplify (default inception_4c, the notebook's)")
    p.add_argument("--octaves", type=positive_int, default=4, help="scales, each --octave-scale smaller (default 4)")
    p.add_argument("--octave-scale", type=positive_float, default=1.4, help="ratio between octaves (default 1.4)")
    p.add_argument("--steps", type=positive_int, default=10, help="ascent steps per octave (default 10)")
    p.add_argument(
        "--step-size",
        type=positive_float,
        default=1.5,
        help="step in 0..255 pixel units, as the notebook (default 1.5)",
    )
    p.add_argument("--jitter", type=non_negative_int, default=32, help="random shift, px (default 32)")
    p.add_argument("--max-side", type=positive_int, default=512, help="shrink larger photos to this side first")
    p.add_argument("-o", "--output", default="dream.png", type=output_file, help="PNG to write (default dream.png)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with stdout_to_stderr(args.json):
        if args.octave_scale <= 1.0 or args.step_size <= 0:
            raise UserError("--octave-scale must be above 1 and --step-size positive")
        photo = load_photo(args.photo, max_side=args.max_side)
        model, contract, layer = model_and_layer(args)
        result = dream(
            model,
            contract,
            layer,
            photo,
            octaves=args.octaves,
            octave_scale=args.octave_scale,
            steps=args.steps,
            step_size=args.step_size / 255,
            jitter=args.jitter,
            seed=args.seed,
        )
        path = save_png(to_pil(result.image), args.output)
    record: dict[str, Any] = {
        "layer": layer.name,
        "module": layer.path,
        "size": [int(photo.shape[-1]), int(photo.shape[-2])],
        "octaves": [[w, h] for h, w in result.sizes],
        "steps": args.steps,
        "objective_before": result.before,
        "objective_after": result.after,
        "history": result.history,
        "output": str(path),
    }
    if args.json:
        print_json(record)
        return 0
    print(f"{layer.name} ({layer.path}): mean squared activation {result.before:.4g} -> {result.after:.4g}")
    print(f"wrote {path}")
    return 0
