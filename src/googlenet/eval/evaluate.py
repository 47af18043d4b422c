"""``googlenet eval`` as a library: checkpoints x crop schemes over an image folder, ensembles, Table 3."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from ..errors import UserError
from ..preprocess import image_transform
from ..runtime.images import eval_dataset, round_robin
from .members import Member, class_names_of
from .metrics import summarize
from .stream import stream_probabilities


@dataclass
class EvalOptions:
    """How each pass runs (see ``googlenet eval --help``)."""

    reduce: str = "mean"
    chunk_size: int = 128
    workers: int = 0
    limit: int | None = None
    resize: int | None = None  # side before 1 or 10 crops; default: the contract's (input_size / crop_fraction)
    progress: bool = True
    class_map: str = "by-name"  # how class folders meet the checkpoint's classes (CLASS_MAPS)


@dataclass
class PassResult:
    """Probabilities of one model under one crop scheme, for every readable image."""

    member: Member
    crops: int
    probs: Tensor  # (N, K)
    targets: Tensor  # (N,)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


# by-name: class folders must be (some of) the checkpoint's classes, matched by name; by-position: the i-th folder
# (sorted) is class i, whatever the names (for data whose folders are named otherwise, e.g. 0_tshirt, 1_trouser)
CLASS_MAPS = ("by-name", "by-position")


def target_map(
    folder_classes: Sequence[str],
    names: Sequence[str] | None,
    num_classes: int | None = None,
    class_map: str = "by-name",
) -> list[int] | None:
    """Folder class index -> model class index (None: the same), matching by name (``class_map`` "by-name").

    Folders that are not among the checkpoint's classes are refused with one line naming them, unless
    ``class_map`` is "by-position": then folders are taken in order. Without class names (``names`` None)
    folders are taken in order, and there must not be more of them than the model's ``num_classes``.
    """
    if class_map not in CLASS_MAPS:
        raise UserError(f"class map must be one of {', '.join(CLASS_MAPS)}, got {class_map!r}")
    if class_map == "by-position" or names is None:
        count = num_classes if names is None else len(names)
        if count is not None and len(folder_classes) > count:
            raise UserError(f"the data has {len(folder_classes)} classes, the checkpoint {count}")
        return None
    if names is None:
        if num_classes is not None and len(folder_classes) > num_classes:
            raise UserError(f"the data has {len(folder_classes)} classes, the checkpoint {num_classes}")
        return None
    if list(names) == list(folder_classes):
        return None
    if set(folder_classes) <= set(names):  # the same classes, or some of them, in any order: match by name
        return [list(names).index(c) for c in folder_classes]
    if len(names) == len(folder_classes):
        foreign = [c for c in folder_classes if c not in names]
        shown = ", ".join(repr(c) for c in foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise UserError(
            f"class folders {shown} are not among the checkpoint's classes ({', '.join(map(repr, names[:3]))}...); "
            "to score the i-th folder as class i anyway, pass --class-map by-position"
        )
    raise UserError(f"the data has {len(folder_classes)} classes, the checkpoint {len(names)}")


def run_pass(member: Member, root: Path, crops: int, opts: EvalOptions) -> PassResult:
    """Evaluate one model with one crop scheme over the image folder ``root`` (chunked, with a progress bar)."""
    transform = image_transform(member.contract, crops, opts.resize)
    dataset = eval_dataset(root, transform, mode=member.contract.image_mode)
    keys = member.class_keys_for(dataset.classes)
    mapping = target_map(dataset.classes, keys, member.num_classes, opts.class_map)
    indices = round_robin(dataset.targets, opts.limit)
    loader = DataLoader(Subset(dataset, indices), batch_size=None, num_workers=opts.workers, collate_fn=_as_is)
    skipped: list[tuple[str, str]] = []

    def items():
        for views, target, path, error in loader:
            if error is not None:
                skipped.append((path, error))
                continue
            yield (mapping[target] if mapping else target), views

    bar = tqdm(
        total=len(indices),
        unit="img",
        desc=f"{member.model_name} {crops} crop{'s' * (crops > 1)}",
        disable=not opts.progress,
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
        file=sys.stderr,
    )
    probs, targets = [], []
    start = time.perf_counter()
    with bar:
        stream = stream_probabilities(
            member.forward, items(), chunk_size=opts.chunk_size, reduce=opts.reduce, preprocess=member.preprocess()
        )
        for target, p in stream:
            probs.append(p)
            targets.append(target)
            bar.update(len(probs) + len(skipped) - bar.n)
    seconds = time.perf_counter() - start
    if not probs:
        raise UserError(f"no readable images in {root} ({len(skipped)} unreadable)")
    return PassResult(member, crops, torch.stack(probs), torch.tensor(targets), skipped, seconds)


def _as_is(item: Any) -> Any:
    """DataLoader collate for ``batch_size=None``: items pass through unchanged."""
    return item


def ensemble(results: Sequence[PassResult]) -> Tensor:
    """Average the probabilities of several models (the paper's ensembling)."""
    for r in results[1:]:
        if r.probs.shape != results[0].probs.shape or not torch.equal(r.targets, results[0].targets):
            raise UserError("ensemble members saw different images")
    return torch.stack([r.probs for r in results]).mean(dim=0)


def evaluate(
    members: Sequence[Member], root: Path, crop_schemes: Sequence[int], opts: EvalOptions
) -> list[dict[str, Any]]:
    """Every model alone (when several) and their ensemble, under each crop scheme.

    Returns:
        One row per (models, crops) setting: ``{"models", "crops", "reduce", "seconds", "skipped", ...}`` plus
        :func:`~googlenet.eval.metrics.summarize`'s fields.
    """
    names = class_names_of(members)
    rows: list[dict[str, Any]] = []
    for crops in crop_schemes:
        results = [run_pass(m, root, crops, opts) for m in members]
        settings = [[r] for r in results] if len(results) > 1 else []
        for group in [*settings, results]:
            probs = group[0].probs if len(group) == 1 else ensemble(group)
            row = {
                "models": [r.member.path for r in group],
                "crops": crops,
                "reduce": opts.reduce,
                "seconds": sum(r.seconds for r in group),
                "skipped": [{"path": p, "error": e} for p, e in group[0].skipped],
                **summarize(probs, group[0].targets, names),
            }
            rows.append(row)
    return rows


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _short(path: str) -> str:
    p = Path(path)
    return f"1: {p.parent.name}/{p.name}" if p.parent.name else f"1: {p.name}"


def table3_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Rows shaped like the paper's Table 3: models, crops, cost, top-1/top-5 error, top-5 change from the base."""
    base = rows[0]
    lines = [
        "| models | crops | cost | top-1 error | top-5 error | top-5 vs base | time |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        models = r["models"]
        who = _short(models[0]) if len(models) == 1 else f"{len(models)}: ensemble"
        delta = 100 * ((1 - r["top5"]) - (1 - base["top5"]))
        lines.append(
            f"| {who} | {r['crops']} | {len(r['models']) * r['crops']} | {_pct(1 - r['top1'])} | "
            f"{_pct(1 - r['top5'])} | {delta:+.2f} | {r['seconds']:.0f} s |"
        )
    return "\n".join(lines)
