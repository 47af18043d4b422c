"""``googlenet eval``: top-1/top-5 of checkpoints (alone and ensembled) with 1, 10 or 144 crops per image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..data.crops import CROP_SCHEMES
from ..data.sources import resolve_split
from ..detect.datasets import looks_like_detection_data
from ..detect.store import is_detector_file
from ..errors import UserError
from ..eval.evaluate import CLASS_MAPS, EvalOptions, evaluate, table3_markdown
from ..eval.members import class_names_of, load_members
from ..eval.metrics import save_confusion_png
from ..eval.stream import REDUCTIONS
from ..fileio import atomic_write
from ..runtime.backends import available_backends
from ..runtime.images import idx_images
from . import detect as detect_cli
from ._common import check_contract_size, output_file, output_file_or_stdout, print_json, stdout_to_stderr
from .argtypes import non_negative_int, positive_int


def add_model_options(p: argparse.ArgumentParser, several_crops: bool = True) -> None:
    """Options shared by ``eval`` and ``predict``: crops, reduction, back end, device, sizes."""
    p.add_argument(
        "--crops",
        type=int,
        nargs="+" if several_crops else None,
        choices=CROP_SCHEMES,
        default=None if several_crops else 1,
        metavar="N",
        help="views per image: 1 (resize + centre crop), 2 (the centre crop and its mirror), 10 (corners + centre, "
        "mirrored), 144 (the paper's scheme)"
        + ("; several values evaluate each (default: 1)" if several_crops else " (default: 1)"),
    )
    p.add_argument(
        "--reduce",
        choices=REDUCTIONS,
        default="mean",
        help="combine the softmax of an image's crops by mean (the paper) or max",
    )
    p.add_argument(
        "--backend", default="eager", help=f"inference back end: {', '.join(available_backends())} (default: eager)"
    )
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, mps)")
    p.add_argument("--chunk-size", type=positive_int, default=128, help="most crops forwarded at once (bounds memory)")
    p.add_argument(
        "--input-size", type=positive_int, default=None, help="crop size (default: the checkpoint's input_size)"
    )
    p.add_argument(
        "--resize",
        type=positive_int,
        default=None,
        help="side the image is resized to before 1 or 10 crops, by the checkpoint's rule (shorter side, or both "
        "for a warping model; default: input_size / crop_fraction from the checkpoint)",
    )


def check_output_paths(*paths: str | None) -> None:
    """Refuse output paths that cannot be written before a long evaluation, not after it."""
    for path in filter(None, paths):
        p = Path(path)
        if p.is_dir():
            raise UserError(f"{path} is a folder; give a file name")
        if p.parent.exists() and not p.parent.is_dir():
            raise UserError(f"{p.parent} is not a folder")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval", help="evaluate checkpoints (top-1/top-5, multi-crop, ensembles)", description=__doc__
    )
    p.add_argument(
        "--checkpoint",
        nargs="+",
        required=True,
        metavar="C",
        help="model file(s): .safetensors checkpoints (or run folders), or exported .onnx, TorchScript or "
        "OpenVINO .xml files; several are also ensembled",
    )
    p.add_argument(
        "--data",
        required=True,
        help="image folder root/<split>/<class>/*, a dataset name (imagenette2-128, cifar10, fashion-mnist), or a "
        "folder holding Fashion-MNIST's IDX files",
    )
    p.add_argument("--split", default="val", help="subfolder of --data to evaluate ('' for --data itself)")
    p.add_argument(
        "--class-map",
        choices=CLASS_MAPS,
        default="by-name",
        help="by-name (default): class folders must carry the checkpoint's class names (or ids), else refused; "
        "by-position: the i-th folder (sorted) is scored as class i whatever its name",
    )
    add_model_options(p)
    p.add_argument(
        "--table3",
        action="store_true",
        help="print a Markdown table shaped like the paper's Table 3 (default crops: 1 10 144)",
    )
    p.add_argument(
        "--json",
        metavar="OUT",
        type=output_file_or_stdout,
        help="write every figure (per class, confusion, skipped files) as JSON ('-': stdout only, the rest on stderr)",
    )
    p.add_argument(
        "--confusion",
        metavar="PNG",
        type=output_file,
        help="confusion matrix of the last setting (default: beside --json as OUT.confusion.png)",
    )
    p.add_argument(
        "--limit", type=positive_int, default=None, help="evaluate at most N images, spread over the classes"
    )
    p.add_argument(
        "--workers", type=non_negative_int, default=0, help="DataLoader worker processes decoding and cropping"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output_paths(None if args.json == "-" else args.json, args.confusion)
    if any(is_detector_file(c) for c in args.checkpoint):
        return _detection(args)
    crops = args.crops or ([1, 10, 144] if args.table3 else [1])
    root = idx_images(args.data, args.split) or resolve_split(args.data, args.split or None)
    members = load_members(args.checkpoint, backend=args.backend, device=args.device, input_size=args.input_size)
    for m in members:
        check_contract_size(m.contract)
    opts = EvalOptions(
        args.reduce, args.chunk_size, args.workers, args.limit, args.resize, not args.no_progress, args.class_map
    )
    to_stdout, names = args.json == "-", class_names_of(members)
    with stdout_to_stderr(to_stdout):
        rows = evaluate(members, root, crops, opts)
        _show(rows, args, names)
    if args.json:
        report = {"data": str(root), "class_names": names, "backend": args.backend, "rows": rows}
        if to_stdout:
            print_json(report)
            return 0
        text = json.dumps(report, indent=1, allow_nan=False)
        atomic_write(args.json, lambda tmp: Path(tmp).write_text(text + "\n"))
        print(f"json: {args.json}")
    return 0


def _show(rows: list[dict], args: argparse.Namespace, names: list[str]) -> None:
    """The human-readable figures of ``rows``, and the confusion matrix as a PNG where asked (or beside a JSON
    file)."""
    for r in rows:
        who = "ensemble of " + str(len(r["models"])) if len(r["models"]) > 1 else r["models"][0]
        print(
            f"{who} | {r['crops']} crop{'s' * (r['crops'] > 1)} ({r['reduce']}): top-1 {100 * r['top1']:.2f}%  "
            f"top-5 {100 * r['top5']:.2f}%  loss {r['loss']:.4f}  ({r['n']} images, {len(r['skipped'])} unreadable, "
            f"{r['seconds']:.1f} s)"
        )
    if len(rows) == 1:
        print("per class:")
        for name, pc in rows[0]["per_class"].items():
            acc = "     -" if pc["accuracy"] is None else f"{100 * pc['accuracy']:6.2f}%"
            print(f"  {name:<24} {acc}  ({pc['count']} images)")
    for s in rows[-1]["skipped"]:
        print(f"skipped: {s['error']}")
    if args.table3:
        print()
        print(table3_markdown(rows))

    png = args.confusion or (
        str(Path(args.json).with_suffix(".confusion.png")) if args.json and args.json != "-" else None
    )
    if png and Path(png).suffix.lower() != ".png":
        png += ".png"  # (matplotlib would add it anyway; say the name it writes)
    if png:
        last = rows[-1]
        title = f"{len(last['models'])} model(s), {last['crops']} crop(s): top-1 {100 * last['top1']:.2f}%"
        save_confusion_png(last["confusion"], names, png, title)
        print(f"confusion matrix: {png}")


def _detection(args: argparse.Namespace) -> int:
    """A detector's checkpoint: COCO AP / AR by pycocotools (:func:`googlenet.cli.detect.eval_run`)."""
    classification = {"--crops": args.crops, "--table3": args.table3, "--confusion": args.confusion}
    classification |= {"--limit": args.limit, "--input-size": args.input_size}
    classification["--backend"] = None if args.backend == "eager" else args.backend
    given = [flag for flag, value in classification.items() if value]
    if given:
        raise UserError(f"{given[0]} is a classification option; {args.checkpoint[0]} is a detector")
    if args.split not in ("val", "all", ""):
        raise UserError(f"--split {args.split!r}: a detector is evaluated on the recipe's held-out split (val) or all")
    classes = Path(args.data, args.split or "")
    if classes.is_dir() and any(d.is_dir() for d in classes.iterdir()) and not looks_like_detection_data(args.data):
        raise UserError(
            f"{args.checkpoint[0]} is a detection checkpoint, not a classifier: --data must be detection data "
            f"(Penn-Fudan, VOC or COCO), not the class folders of {classes}"
        )
    split = None if args.split == "val" else "all"  # val: the held-out split where the checkpoint records one
    return detect_cli.eval_run(args.checkpoint, args.data, split, args.json, args.resize)
