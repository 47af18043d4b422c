"""What the weights a run saves say about themselves: the model's builder options and the
:class:`~googlenet.contract.ModelContract` (classes, evaluation preprocessing, where the weights came from)."""

from __future__ import annotations

from typing import Any

from ..config import TrainConfig
from ..contract import ModelContract
from ..data.datasets import DataSpec
from .finetune import InitSource, InputScale, source_kwargs


def model_kwargs(cfg: TrainConfig, spec: DataSpec, init: InitSource | None = None) -> dict[str, Any]:
    """The builder options of the run's model: the init weights' (if any), the config's on top, ``in_chans``."""
    kwargs = source_kwargs(init, dict(cfg.model.kwargs))
    if spec.in_chans != 3:
        kwargs.setdefault("in_chans", spec.in_chans)
    return kwargs


def run_contract(
    cfg: TrainConfig,
    spec: DataSpec,
    kwargs: dict[str, Any],
    eval_size: int,
    epoch: int,
    kind: str,
    scale: InputScale | None = None,
    init: InitSource | None = None,
) -> ModelContract:
    """The contract of weights this run trained: its model, classes, and the evaluation preprocessing it used.

    Args:
        cfg: the run's config (model, dataset, crop fraction).
        spec: the data it trained on (classes, channels, mean and std in 0-1 units, RGB).
        kwargs: the builder options of the model (``in_chans`` among them when not 3).
        eval_size: the crop side the validation set was evaluated at, px.
        epoch: epochs done (1-based), recorded in ``weights``.
        kind: "raw" or "ema" (the averaged weights).
        scale: the input scale (default: the dataset's RGB 0-1 mean and std).
        init: the weights the run started from, recorded under ``weights["init"]``.
    """
    scale = scale or InputScale(1.0, "RGB", tuple(spec.mean), tuple(spec.std))
    weights: dict[str, Any] = {"source": "trained", "dataset": cfg.data.dataset, "epoch": epoch, "kind": kind}
    if init is not None:
        weights["init"] = init.record()
    return ModelContract(
        model=cfg.model.name,
        num_classes=len(spec.classes),
        model_kwargs=kwargs,
        class_names=tuple(spec.classes),
        input_size=eval_size,
        in_chans=spec.in_chans,
        pixel_range=scale.pixel_range,
        channel_order=scale.channel_order,
        mean=scale.mean,
        std=scale.std,
        resize="shorter",
        crop_fraction=cfg.data.crop_fraction,
        interpolation="bilinear",
        weights=weights,
    )
