"""A detection training run from a recipe: data and split, model, the loop, checkpoints and metrics in ``out``.

``out/best.safetensors`` and ``out/last.safetensors`` (the weights after the last epoch; ``last`` also after each
epoch), ``out/state.pt`` (the resume state, :mod:`googlenet.detect.loop`), ``out/metrics.csv``, ``steps.csv`` and
``curves.png`` (:mod:`googlenet.detect.records`), ``out/metrics.json`` (the recipe, per-epoch records, the final
COCO metrics on the held-out split, seconds).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from ..errors import UserError
from ..fileio import atomic_write
from ..registry import model_info
from ..runtime.cpu import amp_words, auto_amp
from ..train import distributed
from ..train.state import save_state
from .datasets import DetectionDataset, open_detection_data, split_indices
from .fasterrcnn import load_classification_backbone
from .loop import ONE_PROCESS, DetectionRun, train_detector
from .rcnn import RCNN, SelectiveSearch
from .rcnn_train import RegionCrops, finetune_region_classifier, save_rcnn
from .recipe import DetectionRecipe
from .records import write_records
from .sources import locate_pennfudan
from .store import detector_meta, save_detector
from .train import evaluate_detector
from .transforms import detection_transforms


def open_recipe_data(recipe: DetectionRecipe, data: str | os.PathLike | None) -> DetectionDataset:
    """The recipe's dataset: ``data`` if given (any layout), else the named one (``pennfudan``) where it lives."""
    if data is None and recipe.data == "pennfudan":
        data = locate_pennfudan()
    elif data is not None and recipe.data == "pennfudan" and not Path(data, "PNGImages").is_dir():
        p = Path(data)
        if p.is_file() or (p / "pennfudanped.tar.gz").is_file() or (p / "PennFudanPed").is_dir():
            data = locate_pennfudan(p)
    ds = open_detection_data(data if data is not None else recipe.data)
    if not isinstance(ds, DetectionDataset):
        raise UserError("training reads Penn-Fudan or VOC folders for now (COCO: evaluation only)")
    return ds


def split_data(recipe: DetectionRecipe, ds: DetectionDataset) -> tuple[Dataset, Dataset]:
    """The recipe's fixed-seed train/val split, training augmentation on the first."""
    train_idx, val_idx = split_indices(len(ds), float(recipe.split["val_fraction"]), int(recipe.split["seed"]))
    aug = recipe.augment
    train_tf = detection_transforms(
        True, flip=float(aug.get("flip", 0.5)), crop=bool(aug.get("crop")), zoom_out=bool(aug.get("zoom_out"))
    )
    return ds.subset(train_idx, train_tf), ds.subset(val_idx)


def train_from_recipe(
    recipe: DetectionRecipe,
    out: str | os.PathLike,
    data: str | os.PathLike | None = None,
    max_steps: int | None = None,
    log: Callable[[str], None] | None = None,
    resume: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the recipe's detector into ``out``; returns what ``out/metrics.json`` holds. ``resume``: the run's
    ``state.pt`` (:func:`googlenet.train.state.load_state`), continued exactly."""
    threads = torch.get_num_threads()
    if recipe.threads:
        torch.set_num_threads(int(recipe.threads))
    dist = check_processes(recipe, resume)
    joined = dist.enabled and not torch.distributed.is_initialized()
    if joined:
        dist, _ = distributed.setup("cpu")
    try:
        return _train(recipe, Path(out), data, max_steps, log if dist.main else None, resume, dist)
    finally:
        torch.set_num_threads(threads)
        if joined:
            distributed.teardown()


def check_processes(recipe: DetectionRecipe, resume: dict[str, Any] | None) -> distributed.Dist:
    """This process's place under torchrun, checked against the recipe and a resumed run's process count."""
    dist = distributed.place()
    world = dist.world
    saved = int(resume.get("world", 1)) if resume is not None else world
    if saved != world:
        launch = f"torchrun --nproc_per_node {saved} -m googlenet" if saved > 1 else "googlenet (one process)"
        raise UserError(f"this run was trained with {saved} process(es), not {world}: resume it with {launch}")
    if world > 1 and recipe.model == "rcnn":
        raise UserError("the R-CNN recipe trains in one process (its fine-tuning has no DDP): run it without torchrun")
    if recipe.batch_size < world:
        raise UserError(f"batch_size {recipe.batch_size} is split between {world} processes: give at least {world}")
    return dist


def resolve_detection_amp(recipe: DetectionRecipe, resume: dict[str, Any] | None) -> str:
    """The precision a run computes in: a resumed run's own, ``auto``'s choice for this CPU, or the recipe's."""
    if resume is not None and resume.get("amp"):
        return str(resume["amp"])
    return auto_amp("cpu") if recipe.amp == "auto" else recipe.amp


def _train(
    recipe: DetectionRecipe,
    out: Path,
    data: str | os.PathLike | None,
    max_steps: int | None,
    log: Callable[[str], None] | None,
    resume: dict[str, Any] | None = None,
    dist: distributed.Dist = ONE_PROCESS,
) -> dict[str, Any]:
    ds = open_recipe_data(recipe, data)
    if recipe.num_classes != len(ds.class_names):
        raise UserError(f"the recipe says num_classes {recipe.num_classes}, the data has {len(ds.class_names)}")
    if recipe.model == "rcnn":
        if resume is not None:
            raise UserError("the R-CNN recipe fine-tunes in one go; it has no resume (start it again)")
        return _train_rcnn(recipe, out, ds, max_steps, log)
    train_ds, val_ds = split_data(recipe, ds)
    kwargs = dict(recipe.model_kwargs)
    if "aspect_ratios" in kwargs:
        kwargs["aspect_ratios"] = tuple(kwargs["aspect_ratios"])
    if recipe.init_weights:  # on a resume too: the same backbone options and frozen stem (the weights: the state's)
        kwargs["backbone_weights"] = recipe.init_weights
    torch.manual_seed(recipe.seed)
    model = model_info(recipe.model).builder(num_classes=recipe.num_classes, **kwargs)
    amp = resolve_detection_amp(recipe, resume)
    if log:
        log(
            f"precision: {amp_words(amp)} (amp={recipe.amp})"
            + (f"; {dist.world} processes (DDP, gloo)" if dist.enabled else "")
        )
    meta = detector_meta(recipe.model, recipe.num_classes, {**kwargs, **model.rebuild_kwargs}, ds.class_names, amp=amp)
    meta["config"] = dataclasses.asdict(recipe)
    out.mkdir(parents=True, exist_ok=True)
    per_epoch = math.ceil(len(train_ds) / recipe.batch_size)
    title = f"{recipe.model} on {recipe.data} ({len(train_ds)} train images)"

    def save(state: dict[str, Any]) -> None:
        extra = {"task": "detect", "recipe": dataclasses.asdict(recipe), "data": None if data is None else str(data)}
        save_state(out, {**state, **extra})

    def end_epoch(run: DetectionRun) -> None:
        write_records(out, run.losses, run.epochs, per_epoch, title)
        save_detector(out / "last.safetensors", model, {**meta, "epoch": run.epochs[-1]["epoch"]})

    run = train_detector(
        model,
        train_ds,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        warmup_steps=recipe.warmup_steps,
        val_data=val_ds if recipe.val_every_epoch else None,
        class_names=ds.class_names,
        max_steps=max_steps,
        seed=recipe.seed,
        log=log,
        amp=amp,
        resume=resume,
        save_state=save,
        end_epoch=end_epoch,
        dist=dist,
    )
    if recipe.save_all_ranks and dist.enabled:
        save_detector(out / f"last_rank{dist.rank}.safetensors", model, meta)
    if not dist.main:  # rank 0 evaluates and writes the run's files
        return {"steps": len(run.losses), "seconds": round(run.seconds, 1), "rank": dist.rank}  # no "val"
    start = time.perf_counter()
    metrics = evaluate_detector(model, val_ds, ds.class_names)
    result = {
        "recipe": dataclasses.asdict(recipe),
        "train_images": len(train_ds),
        "val_images": len(val_ds),
        "steps": len(run.losses),
        "first_loss": run.losses[0] if run.losses else None,
        "last_loss": run.losses[-1] if run.losses else None,
        "epochs": run.epochs,
        "amp": amp,
        "processes": dist.world,
        "seconds": round(run.seconds, 1),
        "eval_seconds": round(time.perf_counter() - start, 1),
        "val": metrics,
    }
    final = {**meta, "metrics": metrics, "epoch": run.epochs[-1]["epoch"] if run.epochs else 0}
    save_detector(out / "last.safetensors", model, final)
    save_detector(out / "best.safetensors", model, final)  # one held-out evaluation, at the end: last is best
    atomic_write(out / "metrics.json", lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
    return result


def _train_rcnn(
    recipe: DetectionRecipe,
    out: Path,
    ds: DetectionDataset,
    max_steps: int | None,
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    """The paper's R-CNN: fine-tune the region classifier on R-CNN's windows of the train split, evaluate the
    whole pipeline on the val split. ``model_kwargs``: ``classifier`` (a registered classifier), its
    ``classifier_kwargs``, ``input_size``, ``max_side`` (Selective Search's), ``steps``, ``batch_size``."""
    opts = dict(recipe.model_kwargs)
    name, size = str(opts.get("classifier", "googlenet")), int(opts.get("input_size", 224))
    clf_kwargs = dict(opts.get("classifier_kwargs", {}))
    train_idx, val_idx = split_indices(len(ds), float(recipe.split["val_fraction"]), int(recipe.split["seed"]))
    torch.manual_seed(recipe.seed)
    if recipe.init_weights:  # a classification checkpoint: its trunk, a fresh K + 1 classifier
        net, meta = load_classification_backbone(recipe.init_weights, **clf_kwargs)
        name, clf_kwargs = meta["model"], {**meta.get("model_kwargs", {}), **clf_kwargs}
        net.reset_classifier(recipe.num_classes)
    else:
        net = model_info(name).builder(num_classes=recipe.num_classes, **clf_kwargs)
    proposals = SelectiveSearch(max_side=opts.get("max_side", 500))
    crops = RegionCrops(ds.subset(train_idx), proposals, size=size)
    steps = int(max_steps or opts.get("steps", 100))
    start = time.perf_counter()
    losses = finetune_region_classifier(
        net, crops, steps=steps, batch_size=int(opts.get("batch_size", recipe.batch_size)), lr=recipe.lr, log=log
    )
    seconds = time.perf_counter() - start
    if hasattr(net, "aux_logits"):  # rebuilt from the file with the heads it has (none after a backbone start)
        clf_kwargs["aux_logits"] = bool(net.aux_logits)
    rcnn = RCNN(net.eval(), input_size=size, proposals=proposals, context_pad=crops.context_pad)
    start = time.perf_counter()
    metrics = evaluate_detector(rcnn, ds.subset(val_idx), ds.class_names)
    per_image = (time.perf_counter() - start) / max(1, len(val_idx))
    result = {
        "recipe": dataclasses.asdict(recipe),
        "train_images": len(train_idx),
        "val_images": len(val_idx),
        "windows": len(crops),
        "positive_windows": int((crops.labels > 0).sum()),
        "steps": len(losses),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "seconds": round(seconds, 1),
        "seconds_per_val_image": round(per_image, 2),
        "val": metrics,
    }
    out.mkdir(parents=True, exist_ok=True)
    for file in ("last.safetensors", "best.safetensors"):
        save_rcnn(out / file, net, name, clf_kwargs, ds.class_names, crops, metrics=metrics,
                  config=dataclasses.asdict(recipe))  # fmt: skip
    atomic_write(out / "metrics.json", lambda tmp: Path(tmp).write_text(json.dumps(result, indent=2) + "\n"))
    return result
