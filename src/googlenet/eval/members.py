"""Loading the checkpoints of an evaluation or prediction: one model each, with its preprocessing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..factory import load_checkpoint
from ..data.datasets import normalization
from ..errors import UserError
from ..factory import model_info
from .backends import Forward, make_forward
from .stream import normalizer


@dataclass
class Member:
    """One model of an ensemble, ready to run: its forward, input size, normalisation and class names."""

    path: str
    model_name: str
    forward: Forward
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    class_names: list[str] | None
    meta: dict[str, Any]
    in_chans: int = 3
    resize: int | None = None  # shorter side before 1 or 10 crops, from the training's crop_fraction

    @property
    def image_mode(self) -> str:
        """PIL mode the model reads: "RGB", or "L" for a greyscale model."""
        return "L" if self.in_chans == 1 else "RGB"

    @property
    def label(self) -> str:
        return f"{self.model_name} ({Path(self.path).name})"

    def preprocess(self):
        return normalizer(self.mean, self.std)


def load_member(
    path: str | os.PathLike, backend: str = "eager", device: str = "cpu", input_size: int | None = None
) -> Member:
    """Load a checkpoint (:func:`googlenet.checkpoint.load_checkpoint`) and wrap it in a back end."""
    model, meta = load_checkpoint(path)
    size = int(input_size or meta.get("input_size") or model_info(meta["model"]).default_input_size)
    in_chans = int(meta.get("model_kwargs", {}).get("in_chans", 3))
    mean, std = normalization(meta, in_chans)
    if len(mean) != in_chans or len(std) != in_chans:
        raise UserError(f"{path}: mean/std have {len(mean)}/{len(std)} values for a {in_chans}-channel model")
    num_classes = int(meta.get("num_classes", 1000))
    names = meta.get("class_names")
    if names is not None and len(names) != num_classes:
        raise UserError(f"{path}: {len(names)} class names for {num_classes} classes")
    forward = make_forward(model, backend, device, size, meta=meta)
    resize = eval_resize(meta, size)
    return Member(str(path), meta["model"], forward, size, mean, std, num_classes, names, meta, in_chans, resize)


def eval_resize(meta: dict[str, Any], size: int) -> int | None:
    """Shorter side the training evaluated at: ``size / crop_fraction`` from the checkpoint's config, if saved."""
    fraction = meta.get("crop_fraction") or (meta.get("config") or {}).get("crop_fraction")
    return max(size, round(size / float(fraction))) if fraction else None


def load_members(paths: Sequence[str | os.PathLike], **kwargs: Any) -> list[Member]:
    """Load every checkpoint of an ensemble and check they predict the same classes."""
    members = [load_member(p, **kwargs) for p in paths]
    first = members[0]
    for m in members[1:]:
        if m.num_classes != first.num_classes:
            raise UserError(
                f"cannot ensemble {first.path} ({first.num_classes} classes) with {m.path} ({m.num_classes})"
            )
        if first.class_names and m.class_names and m.class_names != first.class_names:
            raise UserError(f"cannot ensemble {first.path} with {m.path}: their class names differ")
    return members


def class_names_of(members: Sequence[Member]) -> list[str]:
    """The ensemble's class names (from the first checkpoint that has them, else ``class_0``...)."""
    for m in members:
        if m.class_names:
            return list(m.class_names)
    return [f"class_{i}" for i in range(members[0].num_classes)]
