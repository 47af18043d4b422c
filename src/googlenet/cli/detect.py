"""``googlenet detect train|eval|predict``: detection (:mod:`googlenet.detect`), until the engine's own verbs take it.

- ``detect train --recipe pennfudan-fasterrcnn --out runs/det [--data PATH] [--max-steps N]``;
- ``detect eval --checkpoint runs/det --data PATH [--json OUT]``: COCO AP, AP50, AP75, AP small/medium/large and
  AR by pycocotools, on the recipe's held-out split (``--split all``: every image);
- ``detect predict --checkpoint runs/det IMAGES... [--json] [--draw DIR] [--score-threshold 0.5]``: one JSON line
  per image, boxes in the original image's pixels.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..detect.datasets import DetectionDataset, open_detection_data, split_indices
from ..detect.ensemble import FUSION_IOU, DetectorEnsemble, ensemble_meta
from ..detect.predict import draw, image_paths, predict_images
from ..detect.recipe import DetectionRecipe, load_recipe
from ..detect.run import train_from_recipe
from ..detect.sources import locate_pennfudan
from ..detect.store import load_detector, set_test_size
from ..detect.train import evaluate_detector
from ..errors import UserError
from ..fileio import atomic_write
from ..registry import list_models
from ..train import rundir
from ..train.state import load_state
from ._common import output_file_or_stdout, print_json, stdout_to_stderr
from .argtypes import non_negative_float, positive_int

CHECKPOINT_HELP = "detector checkpoint(s) or run folder(s); several are ensembled (weighted boxes fusion)"
RESIZE_HELP = "test scale: the shorter side a Faster R-CNN resizes images to (default: its last training min_size)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="object detection (Section 8): train, eval, predict")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    t = verbs.add_parser("train", help="train a detector from a detection recipe")
    t.add_argument("--recipe", default=None, help="shipped recipe name or YAML path (default pennfudan-fasterrcnn)")
    t.add_argument("--data", default=None, help="dataset folder/archive (default: the recipe's, found in shared data)")
    t.add_argument("--out", default=None, help="run folder (default runs/det): weights, state.pt, records")
    t.add_argument("--epochs", type=positive_int, default=None, help="override the recipe's epochs")
    t.add_argument("--max-steps", type=positive_int, default=None, help="stop after this many steps (smoke runs)")
    t.add_argument("--init-weights", default=None, help="classification checkpoint to start the backbone from")
    t.add_argument("--model", default=None, choices=list_models(task="detect"), help="override the recipe's")
    t.add_argument("--resume", metavar="DIR", default=None, help="continue the run saved in DIR exactly")
    t.add_argument("--overwrite", action="store_true", help="--out may hold an earlier run: replace it")
    t.add_argument("--json", action="store_true", help="print the run's metrics as JSON (logs go to stderr)")
    t.set_defaults(func=run_train)
    e = verbs.add_parser("eval", help="COCO AP / AR of a detector (pycocotools)")
    e.add_argument("--checkpoint", required=True, nargs="+", help=CHECKPOINT_HELP)
    e.add_argument("--data", required=True, help="Penn-Fudan / VOC folder, COCO JSON or a folder holding one")
    e.add_argument("--split", choices=("val", "all"), default=None, help="val: the recipe's held-out images")
    e.add_argument(
        "--json",
        metavar="OUT",
        type=output_file_or_stdout,
        default=None,
        help="write the metrics as JSON ('-': stdout only)",
    )
    e.add_argument("--resize", type=positive_int, default=None, help=RESIZE_HELP)
    e.set_defaults(func=run_eval)
    r = verbs.add_parser("predict", help="detect objects in images: one JSON line per image")
    r.add_argument("images", nargs="+", help="image files or folders of images")
    r.add_argument("--checkpoint", required=True, nargs="+", help=CHECKPOINT_HELP)
    r.add_argument("--score-threshold", type=non_negative_float, default=0.5, help="drop detections scoring under this")
    r.add_argument("--draw", metavar="DIR", default=None, help="write each image with its boxes drawn into DIR")
    r.add_argument("--json", action="store_true", help="JSON lines only on stdout")
    r.add_argument("--resize", type=positive_int, default=None, help=RESIZE_HELP)
    r.set_defaults(func=run_predict)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(p: argparse.ArgumentParser) -> int:
    p.print_help(sys.stderr)
    return 2


def run_train(args: argparse.Namespace) -> int:
    overrides = {"epochs": args.epochs, "init_weights": args.init_weights, "model": args.model}
    resume, overwrite = args.resume, args.overwrite
    return train_run(args.recipe, args.out, args.data, overrides, resume, overwrite, args.max_steps, args.json)


def train_run(
    recipe_name: str | None,
    out: str | None,
    data: str | None,
    overrides: dict[str, Any],
    resume: str | None = None,
    overwrite: bool = False,
    max_steps: int | None = None,
    as_json: bool = False,
) -> int:
    """A detection run, new (``recipe_name`` + ``overrides``: recipe fields) or continued (``resume``: its folder),
    for ``googlenet train`` and ``googlenet detect train`` alike."""
    state = None
    if resume:
        if recipe_name or overwrite or any(v is not None for v in overrides.values()):
            raise UserError("--resume continues the saved run exactly, with its own recipe: give --resume DIR alone")
        rundir.check_resume_dir(resume)
        state = load_state(resume)
        if state.get("task") != "detect" or not isinstance(state.get("recipe"), dict):
            raise UserError(f"--resume {resume}: not a detection run (its state.pt names no detection recipe)")
        recipe, out = DetectionRecipe(**state["recipe"]), resume
        data = data or state.get("data")
    else:
        recipe = load_recipe(recipe_name or "pennfudan-fasterrcnn", **overrides)
        out = out or "runs/det"
        rundir.check_writable_folder(out)
        rundir.check_new_run(out, overwrite)
    with stdout_to_stderr(as_json):
        result = train_from_recipe(recipe, out, data, max_steps, log=print, resume=state)
    if result.get("rank", 0) != 0:  # a rank other than 0 under torchrun: rank 0 reports
        return 0
    if as_json:
        print_json(result)
    else:
        m = result["val"]
        print(f"{result['steps']} steps in {result['seconds']} s; val ({result['val_images']} images): "
              f"AP {m['ap']:.3f} AP50 {m['ap50']:.3f} AP75 {m['ap75']:.3f}; wrote {out}")  # fmt: skip
    return 0


def _eval_data(args: argparse.Namespace, meta: dict[str, Any]):

    data = Path(args.data)
    if (data.is_file() and data.name.endswith(".tar.gz")) or (data / "pennfudanped.tar.gz").is_file():
        data = locate_pennfudan(data)
    ds = open_detection_data(data)
    split = (meta.get("config") or {}).get("split")
    own_split = isinstance(ds, DetectionDataset)  # a COCO file is its own split
    use_val = args.split == "val" or (args.split is None and split is not None and own_split)
    if use_val:
        if split is None:
            raise UserError(f"{args.checkpoint} records no split; use --split all")
        if not own_split:
            raise UserError(
                "--split val applies to Penn-Fudan / VOC folders; a COCO file is its own split (--split all)"
            )
        _, val = split_indices(len(ds), float(split["val_fraction"]), int(split["seed"]))
        return ds.subset(val), ds.class_names, f"val split ({len(val)} of {len(ds)} images)"
    return ds, ds.class_names, f"all {len(ds)} images"


def run_eval(args: argparse.Namespace) -> int:
    return eval_run(args.checkpoint, args.data, args.split, args.json, args.resize)


def load_detectors(checkpoints: str | list[str], resize: int | None = None) -> tuple[Any, dict[str, Any]]:
    """One detector, or several as a :class:`~googlenet.detect.ensemble.DetectorEnsemble`, each at the test scale
    ``resize`` where given; with the metadata to run them by."""
    paths = [checkpoints] if isinstance(checkpoints, str) else list(checkpoints)
    loaded = [load_detector(p) for p in paths]
    for model, _ in loaded:
        set_test_size(model, resize)
    if len(loaded) == 1:
        return loaded[0]
    meta = ensemble_meta([m for _, m in loaded], [str(p) for p in paths])
    return DetectorEnsemble([model for model, _ in loaded]), meta


def eval_run(
    checkpoint: str | list[str], data_path: str, split: str | None, json_out: str | None, resize: int | None = None
) -> int:
    """COCO metrics of a detector on ``data_path`` (``split``: ``val`` the recipe's held-out images, ``all``, or
    None: the held-out ones where the checkpoint records a split); ``json_out``: a file, or ``-`` for stdout;
    ``resize``: the test scale (:func:`~googlenet.detect.store.set_test_size`); several checkpoints: an ensemble."""
    name = checkpoint if isinstance(checkpoint, str) else " ".join(map(str, checkpoint))
    args = argparse.Namespace(checkpoint=name, data=data_path, split=split, json=json_out)
    to_stdout = args.json == "-"
    with stdout_to_stderr(to_stdout):
        model, meta = load_detectors(checkpoint, resize)
        data, names, what = _eval_data(args, meta)
        saved = meta.get("class_names")
        if saved and list(saved) != list(names):
            raise UserError(f"the data's classes {list(names)} are not the checkpoint's {list(saved)}")
        metrics = evaluate_detector(model, data, list(names))
    record = {"checkpoint": name, "data": str(args.data), "images": len(data)}
    if "members" in meta:
        record["ensemble"] = {"members": meta["members"], "fusion": "weighted boxes fusion", "iou": FUSION_IOU}
    if resize is not None:
        record["resize"] = resize
    record |= metrics
    if to_stdout:
        print_json(record)
        return 0
    if args.json:
        out = Path(args.json)
        atomic_write(out, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=2) + "\n"))
    shown = {k: ("n/a" if v is None else f"{v:.3f}") for k, v in metrics.items()}
    print(f"{meta['model']} on {what}, COCO metrics by pycocotools:")
    print("  " + "  ".join(f"{k} {v}" for k, v in shown.items()))
    return 0


def run_predict(args: argparse.Namespace) -> int:
    return predict_run(args.checkpoint, args.images, args.score_threshold, args.draw, args.json, args.resize)


def predict_run(
    checkpoint: str | list[str],
    images: list[str],
    score_threshold: float,
    draw_dir: str | None,
    as_json: bool,
    resize: int | None = None,
) -> int:
    """Boxes of a detector on image files: one line (or JSON object) per image; drawn copies in ``draw_dir``;
    ``resize``: the test scale (:func:`~googlenet.detect.store.set_test_size`); several checkpoints: an ensemble."""
    args = argparse.Namespace(
        checkpoint=checkpoint, images=images, score_threshold=score_threshold, draw=draw_dir, json=as_json
    )
    if not 0.0 <= args.score_threshold <= 1.0:
        raise UserError(f"--score-threshold must be between 0 and 1, got {args.score_threshold}")
    with stdout_to_stderr(args.json):
        model, meta = load_detectors(args.checkpoint, resize)
        paths = image_paths(args.images)
    names = meta.get("class_names") or [str(k) for k in range(int(meta.get("num_classes", 2)))]
    for result, image in predict_images(model, paths, names, args.score_threshold):
        if args.draw:
            draw(image, result, Path(args.draw))
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            shown = ", ".join(
                f"{n} {s:.2f} {b}" for n, s, b in zip(result["names"], result["scores"], result["boxes"], strict=True)
            )
            print(f"{result['path']}: {len(result['boxes'])} detections" + (f": {shown}" if shown else ""))
    return 0
