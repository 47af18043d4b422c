"""Fine-tuning: a run that starts from other weights (``model.init_weights=PATH|torchvision``), and its input scale.

Everything of the source that fits is loaded; the classifier (and the auxiliary heads' classifiers) is left freshly
initialised when its class count differs (:func:`googlenet.weights.load_into`). The source's builder options
(``aux_logits``, ``transform_input``...) are the run's unless its ``model.kwargs`` say otherwise, and with
``model.input_contract=auto`` its input scale (pixel range, channel order, mean/std) is the run's, so the features
see what they were trained on. ``model.freeze=features`` trains the classifiers only (batch-norm statistics of the
frozen part stay as loaded), ``optim.classifier_lr_mult`` scales their learning rate. Weights are loaded on a fresh
start only: a resumed run continues from its own state, and its record of the source comes from that state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..config import ConfigError, TrainConfig
from ..contract import CAFFE_MEAN_BGR, ModelContract
from ..weights import classifier_keys, load_into, resolve
from ..weights.errors import CheckpointError


@dataclass(frozen=True)
class InputScale:
    """How a run scales its inputs: ``(pixel * pixel_range - mean) / std`` per channel, in ``channel_order``."""

    pixel_range: float
    channel_order: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def unit_mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``mean``, ``std`` for pixels in 0..1 (what the training transforms' ``Normalize`` takes)."""
        r = self.pixel_range
        return tuple(m / r for m in self.mean), tuple(s / r for s in self.std)


CAFFE_SCALE = InputScale(255.0, "BGR", CAFFE_MEAN_BGR, (1.0, 1.0, 1.0))


@dataclass
class InitSource:
    """The weights a fine-tuning run starts from: ``spec`` as configured, the source's contract, and (once loaded)
    the classifier keys left at initialisation."""

    spec: str
    contract: ModelContract
    reset: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """What the run's checkpoints keep under ``weights["init"]``: where the weights came from."""
        out: dict[str, Any] = {"from": self.spec, **dict(self.contract.weights)}
        if self.reset:
            out["reset"] = list(self.reset)
        return out

    def to_state(self) -> dict[str, Any]:
        return {"spec": self.spec, "contract": self.contract.to_meta(), "reset": list(self.reset)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> InitSource:
        return cls(state["spec"], ModelContract.from_meta(state["contract"]), list(state.get("reset", [])))


def resolve_init(cfg: TrainConfig) -> InitSource | None:
    """The source of ``cfg.model.init_weights`` with its contract (nothing downloaded or loaded yet), or None."""
    if cfg.model.init_weights is None:
        return None
    contract = resolve(cfg.model.init_weights, cfg.model.name).contract()
    if contract.model != cfg.model.name:
        raise ConfigError(
            f"model.init_weights {cfg.model.init_weights} holds a {contract.model}, this run trains "
            f"{cfg.model.name} (set model.name={contract.model})"
        )
    weights = dict(contract.weights)
    if weights.get("source") == "trained":  # the source run's own record, and where its checkpoint is
        weights = {**weights, "file": str(cfg.model.init_weights)}
    return InitSource(str(cfg.model.init_weights), contract.replace(weights=weights))


def source_kwargs(init: InitSource | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The run's builder options: the source's, then the run's own on top."""
    return {**dict(init.contract.model_kwargs), **kwargs} if init is not None else kwargs


def input_scale(cfg: TrainConfig, in_chans: int, mean: tuple, std: tuple, init: InitSource | None) -> InputScale:
    """The run's input scale (``cfg.model.input_contract``): the dataset's RGB 0..1 ``mean``/``std``, Caffe's, or the
    init weights' own."""
    if cfg.model.input_contract == "caffe":
        if in_chans != 3:
            raise ConfigError(
                f"model.input_contract=caffe needs RGB images; {cfg.data.dataset} has {in_chans} channel(s)"
            )
        return CAFFE_SCALE
    if cfg.model.input_contract == "auto" and init is not None and init.contract.in_chans == in_chans:
        c = init.contract
        return InputScale(float(c.pixel_range), c.channel_order, tuple(c.mean), tuple(c.std))
    return InputScale(1.0, "RGB", tuple(mean), tuple(std))


def load_init(model: nn.Module, init: InitSource, name: str, kwargs: dict[str, Any]) -> None:
    """Load the source's weights into ``model`` (built for the run's classes); records the reset classifier keys."""
    try:
        init.reset = load_into(model, resolve(init.spec, name), name, kwargs)
    except CheckpointError as err:
        hint = options_hint(dict(init.contract.model_kwargs), kwargs, init.contract.model, name)
        raise CheckpointError(f"{err}{hint}") from None


def options_hint(source: dict[str, Any], run: dict[str, Any], source_model: str, run_model: str) -> str:
    """Why weights may not fit: the builder options (``width``...) or the model that differ, as a clause."""
    if source_model != run_model:
        return f"; the init weights are a {source_model}, this run builds a {run_model}"
    differ = [k for k in sorted(set(source) | set(run)) if k != "in_chans" and source.get(k) != run.get(k)]
    if not differ:
        return ""
    shown = ", ".join(f"{k}={source.get(k, '(default)')!r} vs {run.get(k, '(default)')!r}" for k in differ)
    return (
        f"; the init weights were built with other options than this run's ({shown}): leave model.kwargs to the "
        "init weights (they are taken by default) or start from weights of the same options"
    )


def classifier_parameters(model: nn.Module, name: str, kwargs: dict[str, Any]) -> set[str]:
    """Names of the parameters whose shape depends on the class count: the main and auxiliary classifiers."""
    keys = set(classifier_keys(name, **kwargs))
    return {n for n, _ in model.named_parameters() if n in keys}


def freeze_features(model: nn.Module, classifier: set[str]) -> list[nn.Module]:
    """Stop gradients to every parameter but the classifiers'; returns the normalisation layers now frozen, which
    the loop keeps in eval mode so that their running statistics stay as loaded."""
    for n, p in model.named_parameters():
        p.requires_grad_(n in classifier)
    norms = []
    for m in model.modules():
        norm = isinstance(m, nn.modules.batchnorm._BatchNorm | nn.GroupNorm | nn.LayerNorm)
        if norm and all(not p.requires_grad for p in m.parameters(recurse=False)):
            norms.append(m)
    return norms


def param_groups(model: nn.Module, cfg: TrainConfig, classifier: set[str]) -> list[dict[str, Any]]:
    """Weight decay on weights only (biases and norm scales excluded when ``no_decay_bn_bias``); the classifiers'
    parameters at ``lr x classifier_lr_mult`` (groups of their own only then, so runs without it keep two groups).
    Frozen parameters are left out; empty groups are dropped."""
    split = cfg.optim.classifier_lr_mult != 1.0
    groups: dict[tuple[bool, bool], list[torch.Tensor]] = {(d, c): [] for d in (True, False) for c in (False, True)}
    for n, p in model.named_parameters():
        if p.requires_grad:
            decay = not (cfg.optim.no_decay_bn_bias and p.ndim <= 1)
            groups[(decay, split and n in classifier)].append(p)
    out = []
    for (decay, is_classifier), params in groups.items():
        if params:
            group: dict[str, Any] = {"params": params, "weight_decay": cfg.optim.weight_decay if decay else 0.0}
            if is_classifier:
                group["lr"] = cfg.optim.lr * cfg.optim.classifier_lr_mult
            out.append(group)
    return out
