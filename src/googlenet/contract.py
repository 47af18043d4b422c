"""The model contract: what a set of weights needs to be used correctly, as one typed value.

Every checkpoint and every exported file carries one (flattened into its JSON metadata); the registry entry
gives the defaults of a freshly built model. The contract says which network (architecture name and builder
options, class count and names) and how to feed it: input size and channels, pixel range (0-1 or 0-255),
channel order (RGB or BGR), per-channel mean and std, the resize rule and crop fraction, the interpolation,
and where the weights came from. :mod:`googlenet.preprocess` turns a contract into the preprocessing that
eval, predict, export parity checks, int8 calibration and bench all use: nothing else reads raw metadata keys.

Like torchvision's ``Weights.meta`` + ``weights.transforms()`` and timm's ``pretrained_cfg``::

    c = ModelContract.from_meta(googlenet.weights.read_checkpoint(path)[1])  # or open_model(path).contract
    c.input_size, c.mean, c.resize_size    # 224, (0.485, 0.456, 0.406), 256 (crop fraction 0.875)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (104.0, 117.0, 123.0)  # BVLC's ilsvrc_2012_mean per channel, B G R, on 0-255 pixels

PIXEL_RANGES = (1.0, 255.0)
CHANNEL_ORDERS = ("RGB", "BGR")
RESIZE_RULES = ("shorter", "warp")  # keep the aspect ratio (torchvision) | stretch to a square (Caffe)
INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "box")


class ContractError(UserError):
    """A contract (checkpoint or exported-file metadata) with a missing, wrong-typed or inconsistent field."""


@dataclass(frozen=True)
class ModelContract:
    """Which network a set of weights belongs to and how its input must be prepared.

    Attributes:
        model: registered architecture name (``googlenet``, ``resnet18``...).
        num_classes: classifier outputs (0: the model returns pooled features).
        model_kwargs: builder options the weights need (``width``, ``aux_logits``, ``in_chans``...).
        class_names: a name per output, or None.
        class_ids: a stable id per output (WordNet ids for ImageNet), matched against folder names; or None.
        input_size: square crop side the network sees, px.
        in_chans: input channels (3, or 1 for greyscale).
        pixel_range: pixels are scaled to ``0..pixel_range`` before ``mean``/``std`` (1.0, or 255.0 for Caffe).
        channel_order: "RGB", or "BGR" (Caffe).
        mean: per channel, subtracted, in ``pixel_range`` units, in ``channel_order``.
        std: per channel, divided by, in the same units and order.
        resize: "shorter" (shorter side to ``resize_size``, aspect kept) or "warp" (both sides: Caffe's ImageNet).
        crop_fraction: the centre crop's share of the resized image (0.875: 256 -> 224).
        interpolation: resize filter.
        weights: where the weights came from: ``{"source": "trained", "recipe": ..., "data": ...}`` and so on; the
            source is ``random``, ``trained``, ``torchvision`` (published, or a ``.pth``) or ``caffe``.
    """

    model: str
    num_classes: int = 1000
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    class_names: tuple[str, ...] | None = None
    class_ids: tuple[str, ...] | None = None
    input_size: int = 224
    in_chans: int = 3
    pixel_range: float = 1.0
    channel_order: str = "RGB"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    resize: str = "shorter"
    crop_fraction: float = 1.0
    interpolation: str = "bilinear"
    weights: Mapping[str, Any] = field(default_factory=lambda: {"source": "random"})

    def __post_init__(self) -> None:
        _check(self)

    # ---- derived -------------------------------------------------------------------------------------
    @property
    def resize_size(self) -> int:
        """Side the image is resized to before the centre crop: ``input_size / crop_fraction``."""
        return max(self.input_size, round(self.input_size / self.crop_fraction))

    @property
    def image_mode(self) -> str:
        """PIL mode the model reads: "RGB", or "L" for a greyscale model."""
        return "L" if self.in_chans == 1 else "RGB"

    @property
    def names(self) -> list[str]:
        """Class names, or ``class_0``... when the weights carry none."""
        return list(self.class_names) if self.class_names else [f"class_{i}" for i in range(self.num_classes)]

    @property
    def source(self) -> str:
        return str(self.weights.get("source", "random"))

    def replace(self, **changes: Any) -> ModelContract:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    # ---- metadata round trip -------------------------------------------------------------------------
    def to_meta(self) -> dict[str, Any]:
        """The contract as JSON-ready metadata fields (what checkpoints and exported files store)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], **defaults: Any) -> ModelContract:
        """Read a contract from checkpoint or exported-file metadata.

        Metadata written before the contract existed still loads: ``in_chans`` then comes from the builder
        options, the crop fraction from the saved training config, and missing mean/std from the defaults for
        the channel count. ``defaults`` fill fields the metadata lacks (e.g. the registry's input size).
        """
        if not isinstance(meta, Mapping):
            raise ContractError(f"model metadata must be a mapping, not {type(meta).__name__}")
        if not isinstance(meta.get("model"), str) or not meta["model"]:
            raise ContractError("model metadata has no architecture name under 'model'")
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {**defaults, **{k: v for k, v in meta.items() if k in known and v is not None}}
        kwargs = values.get("model_kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise ContractError(f"'model_kwargs' must be a mapping, not {type(kwargs).__name__}")
        if "in_chans" not in values and "in_chans" in kwargs:
            values["in_chans"] = kwargs["in_chans"]
        config = meta.get("config") if isinstance(meta.get("config"), Mapping) else {}
        if "crop_fraction" not in values and config.get("crop_fraction"):
            values["crop_fraction"] = config["crop_fraction"]
        if "mean" not in values and "std" not in values:
            in_chans = values.get("in_chans", 3)
            if in_chans != 3 and isinstance(in_chans, int):
                values["mean"] = values["std"] = (0.5,) * in_chans
        if "weights" in values and not isinstance(values["weights"], Mapping):
            values["weights"] = {"source": "trained", "kind": str(values["weights"])}  # older files: raw | ema
        for name in ("class_names", "class_ids", "mean", "std"):
            if name in values:
                values[name] = _as_tuple(name, values[name])
        try:
            return cls(**values)
        except TypeError as err:
            raise ContractError(f"model metadata does not form a contract ({err})") from None


def _as_tuple(name: str, value: Any) -> tuple:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ContractError(f"{name!r} must be a list, not {type(value).__name__}")
    return tuple(value)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check(c: ModelContract) -> None:
    """Types and ranges of every field, and the lengths that must agree; one line naming the first problem."""

    def bad(name: str, want: str) -> ContractError:
        return ContractError(f"model contract field {name!r} must be {want}, got {getattr(c, name)!r}")

    if not isinstance(c.model, str) or not c.model:
        raise bad("model", "a registered model name")
    if not _is_int(c.num_classes) or c.num_classes < 0:
        raise bad("num_classes", "an integer >= 0")
    if not isinstance(c.model_kwargs, Mapping) or not all(isinstance(k, str) for k in c.model_kwargs):
        raise bad("model_kwargs", "a mapping of option names")
    if not _is_int(c.input_size) or c.input_size < 1:
        raise bad("input_size", "an integer >= 1")
    if not _is_int(c.in_chans) or c.in_chans < 1:
        raise bad("in_chans", "an integer >= 1")
    if not _is_number(c.pixel_range) or float(c.pixel_range) not in PIXEL_RANGES:
        raise bad("pixel_range", "1.0 or 255.0")
    if c.channel_order not in CHANNEL_ORDERS:
        raise bad("channel_order", "RGB or BGR")
    if c.channel_order == "BGR" and c.in_chans != 3:
        raise bad("channel_order", "RGB for a model without 3 input channels")
    for name in ("mean", "std"):
        values = getattr(c, name)
        if not isinstance(values, tuple) or not all(_is_number(v) for v in values):
            raise bad(name, "a list of finite numbers")
        if len(values) != c.in_chans:
            raise ContractError(f"model contract has {len(values)} {name} values for {c.in_chans} input channel(s)")
    if any(s <= 0 for s in c.std):
        raise bad("std", "positive numbers")
    if c.resize not in RESIZE_RULES:
        raise bad("resize", " or ".join(RESIZE_RULES))
    if not _is_number(c.crop_fraction) or not 0 < c.crop_fraction <= 1:
        raise bad("crop_fraction", "a number in (0, 1]")
    if c.interpolation not in INTERPOLATIONS:
        raise bad("interpolation", " or ".join(INTERPOLATIONS))
    for name in ("class_names", "class_ids"):
        values = getattr(c, name)
        if values is None:
            continue
        if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
            raise bad(name, "a list of strings")
        if len(values) != c.num_classes:
            raise ContractError(f"model contract has {len(values)} {name} for {c.num_classes} classes")
    if not isinstance(c.weights, Mapping):
        raise bad("weights", "a mapping (where the weights came from)")


RUN_TEXT = ("amp", "machine", "code")  # the metrics that are words: what the epoch ran on


def run_record(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What checkpoint metadata records of the training run beside the contract: ``epoch`` and the final
    ``metrics`` (``val_acc``, ``val_top5``...), finite numbers only, and the words of :data:`RUN_TEXT` (the
    precision, machine and code of the epoch) as one printable line of at most 200 characters; empty for weights
    not trained here."""
    out: dict[str, Any] = {}
    if _is_int(meta.get("epoch")):
        out["epoch"] = meta["epoch"]
    metrics = meta.get("metrics")
    if isinstance(metrics, Mapping):
        out["metrics"] = {str(k): v for k, v in metrics.items() if _is_number(v) or _is_run_text(k, v)}
    return out


def _is_run_text(key: Any, value: Any) -> bool:
    return key in RUN_TEXT and isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable()
