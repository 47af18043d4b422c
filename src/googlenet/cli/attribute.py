"""``googlenet attribute``: which channels of a layer make a class's logit for a photo (activation x gradient,
*The Building Blocks of Interpretability*, 2018), drawn as one picture: the photo beside the top channels'
feature visualisations, each with its attribution."""

from __future__ import annotations

import argparse
from typing import Any

from ..contract import ModelContract
from ..errors import UserError
from ..inside.attribution import channel_attribution
from ..inside.capture import check_size
from ..inside.images import attribution_sheet, load_photo, save_png, to_pil
from ..inside.layers import resolve
from ..inside.objectives import channels
from ..inside.visualize import visualize
from ..preprocess import preprocess
from ._common import output_file, print_json, stdout_to_stderr
from .argtypes import non_negative_int, positive_int
from .visualize import add_source_args, model_and_layer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("attribute", help="channel attribution: which features of a layer make a class")
    p.description = __doc__
    p.add_argument("photo", help="an image file")
    add_source_args(p)
    p.add_argument("--layer", default="inception_4d", help="layer (default inception_4d, Building Blocks' mixed4d)")
    p.add_argument("--class", dest="cls", default=None, help="class name or index (default: the top class)")
    p.add_argument("--top", type=positive_int, default=6, help="channels shown (default 6)")
    p.add_argument("--thumb-size", type=positive_int, default=64, help="thumbnail side, px (default 64)")
    p.add_argument(
        "--thumb-steps", type=non_negative_int, default=64, help="visualisation steps (default 64; 0: no thumbnails)"
    )
    p.add_argument(
        "-o", "--output", default="attribution.png", type=output_file, help="PNG to write (default attribution.png)"
    )
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    p.set_defaults(func=run)


def class_index(text: str | None, contract: ModelContract) -> int | None:
    """``--class``: a class name of the contract or an index."""
    if text is None:
        return None
    names = contract.names
    if text in names:
        return names.index(text)
    if text.isdigit() and int(text) < contract.num_classes:
        return int(text)
    shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
    raise UserError(f"unknown class {text!r}: give a name ({shown}) or an index 0..{contract.num_classes - 1}")


def run(args: argparse.Namespace) -> int:
    with stdout_to_stderr(args.json):
        photo = load_photo(args.photo)
        model, contract, layer = model_and_layer(args)
        check_size(model, layer, contract.input_size, contract.in_chans)
        image = preprocess(photo, contract, normalized=False)
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        attr = channel_attribution(model, contract, layer, image, class_index(args.cls, contract))
        top = attr.top(args.top)
        if args.thumb_steps:
            vis = visualize(  # the channels' pictures before the ReLU, as Lucid draws them
                model,
                contract,
                resolve(model, args.layer, pre_relu=True),
                channels([k for k, _ in top], layer.name),
                n=len(top),
                size=args.thumb_size,
                steps=args.thumb_steps,
                seed=args.seed,
            )
            thumbs = [to_pil(img) for img in vis.images]
        else:
            thumbs = [to_pil(image[:, :1, :1].expand(3, args.thumb_size, args.thumb_size) * 0 + 0.9)] * len(top)
        name = contract.names[attr.class_index]
        title = f"{name}: logit {attr.logit:.3g}, {layer.name}"
        path = save_png(attribution_sheet(to_pil(image), title, top, thumbs), args.output)
    record: dict[str, Any] = {
        "layer": layer.name,
        "module": layer.path,
        "class": attr.class_index,
        "class_name": name,
        "logit": attr.logit,
        "attribution_sum": float(attr.scores.sum()),
        "top": [{"channel": k, "attribution": a} for k, a in top],
        "attributions": attr.scores.tolist(),  # every channel, in channel order
        "output": str(path),
    }
    if args.json:
        print_json(record)
        return 0
    print(f"{name} (class {attr.class_index}), logit {attr.logit:.4g}; {layer.name} channels by attribution:")
    for k, a in top:
        print(f"  channel {k:4d}  {a:+.4g}")
    print(f"wrote {path}")
    return 0
