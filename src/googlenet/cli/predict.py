"""``googlenet predict``: the top classes of images (files, folders, globs); unreadable files are reported."""

from __future__ import annotations

import argparse
import sys

from ..detect.store import is_detector_file
from ..errors import UserError
from ..eval.members import class_names_of, load_members
from ..eval.predict import as_dict, cam_folder, cam_model, expand_inputs, predict, save_cams
from . import detect as detect_cli
from ._common import check_contract_size, print_json, stdout_to_stderr
from .argtypes import non_negative_float, positive_int
from .eval import add_model_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict", help="classify image files with a checkpoint (or an ensemble)", description=__doc__
    )
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files, folders (searched recursively) or globs")
    p.add_argument(
        "--checkpoint",
        action="append",
        required=True,
        metavar="C",
        help="model file: a .safetensors checkpoint (or run folder), or an exported .onnx, TorchScript or "
        "OpenVINO .xml file; repeat to ensemble several",
    )
    p.add_argument("--topk", type=positive_int, default=5, help="classes shown per image (default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.add_argument(
        "--cam",
        metavar="OUT_DIR",
        default=None,
        help="also write a Grad-CAM overlay of the top class per image, OUT_DIR/<name>-cam.png (first checkpoint)",
    )
    p.add_argument("--cam-layer", default=None, help="Grad-CAM layer (default: the last block, inception5b)")
    add_model_options(p, several_crops=False)
    det = p.add_argument_group("detectors (a checkpoint trained with a detection recipe)")
    det.add_argument("--score-threshold", type=non_negative_float, default=0.5, help="drop boxes scoring under this")
    det.add_argument("--draw", metavar="DIR", default=None, help="write each image with its boxes drawn into DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if any(is_detector_file(c) for c in args.checkpoint):
        return _detection(args)
    if args.draw:
        raise UserError("--draw draws a detector's boxes; these checkpoints classify (--cam DIR: Grad-CAM)")
    with stdout_to_stderr(args.json):  # --json: stdout holds the JSON lines alone
        members = load_members(args.checkpoint, backend=args.backend, device=args.device, input_size=args.input_size)
        for m in members:
            check_contract_size(m.contract)
        if args.cam:
            cam_model(members[0])  # refused before any image is read
        names = class_names_of(members)
        files = expand_inputs(args.inputs)
        folder = cam_folder(args.cam) if args.cam else None
        preds = predict(members, files, args.crops, args.reduce, args.chunk_size, args.resize)
        cams, layer = save_cams(members[0], preds, folder, args.cam_layer) if folder else ({}, "")
    failed = 0
    for pred in preds:
        failed += pred.error is not None
        if args.json:
            record = as_dict(pred, args.topk, names)
            if pred.path in cams:
                record["cam"] = str(cams[pred.path])
            print_json(record, indent=None)
        elif pred.error is not None:
            print(f"error: {pred.error}", file=sys.stderr, flush=True)
        else:
            print(pred.path)
            for rank, (name, _, p) in enumerate(pred.topk(args.topk, names), 1):
                print(f"  {rank}. {name:<28} {100 * p:6.2f}%")
            if pred.path in cams:
                print(f"  Grad-CAM ({layer}): {cams[pred.path]}")
    sys.stdout.flush()
    if failed:
        print(f"googlenet predict: {failed} of {len(preds)} file(s) could not be read", file=sys.stderr)
    return 1 if failed else 0


def _detection(args: argparse.Namespace) -> int:
    """A detector's checkpoint: boxes per image (:func:`googlenet.cli.detect.predict_run`)."""
    if args.cam or args.backend != "eager" or args.input_size:
        raise UserError(f"--cam, --backend and --input-size are classification options; "
                        f"{args.checkpoint[0]} is a detector")  # fmt: skip
    return detect_cli.predict_run(args.checkpoint, args.inputs, args.score_threshold, args.draw, args.json, args.resize)
