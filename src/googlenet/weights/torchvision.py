"""torchvision's published weights by name, through its own weights API and download cache.

Which registered models have them is data on their registry entries (:class:`~googlenet.registry.PublishedWeights`
tagged ``torchvision``: the torchvision builder of the same architecture, its *twin*, and the builder options the
weights need). ``load_torchvision("resnet50")`` fetches the twin's default ImageNet weights with
``torchvision.models.get_model_weights`` and ``torch.hub``: the cache is ``$TORCH_HOME/hub/checkpoints``
(``~/.cache/torch`` when ``TORCH_HOME`` is unset). A file already in the cache loads offline; without it and
without a network the error is one line naming the URL and the path to put the file at. :func:`torchvision_contract`
turns the weights' own ``transforms()`` and ``meta`` into the contract; the accuracies torchvision publishes stay in
its ``meta`` (:func:`torchvision_figures`).
"""

from __future__ import annotations

import os
import pickle
import urllib.error
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision import models as tvm
from torchvision.transforms import InterpolationMode

from ..contract import ModelContract
from ..errors import UserError
from ..factory import create_model, list_models, model_info
from ..registry import PublishedWeights
from .errors import PretrainedError
from .fit import classifier_keys, fix_state_keys, load_state_except_classifier, without_aux_if_file_lacks
from .imagenet import imagenet_class_ids

TAG = "torchvision"

_INTERPOLATION_NAMES = {
    InterpolationMode.BILINEAR: "bilinear",
    InterpolationMode.BICUBIC: "bicubic",
    InterpolationMode.NEAREST: "nearest",
    InterpolationMode.BOX: "box",
}


def with_torchvision_weights() -> list[str]:
    """The registered models torchvision publishes weights for."""
    return [n for n in list_models() if model_info(n).published(TAG)]


def published(name: str) -> PublishedWeights:
    """The registry's record of torchvision's weights for ``name``; :class:`PretrainedError` when there are none."""
    entry = model_info(name).published(TAG)
    if entry is None:
        raise PretrainedError(
            f"{name!r} has no torchvision twin with published weights; these have: "
            + ", ".join(with_torchvision_weights())
        )
    return entry


def torchvision_weights(name: str) -> tvm.WeightsEnum:
    """torchvision's default weights for the twin of model ``name`` (e.g. ``ResNet50_Weights.IMAGENET1K_V2``)."""
    return tvm.get_model_weights(published(name).ref).DEFAULT


def cache_path(weights: tvm.WeightsEnum) -> Path:
    """Where ``torch.hub`` keeps (and looks for) the file of ``weights``: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def torchvision_state(name: str) -> tuple[dict[str, torch.Tensor], tvm.WeightsEnum]:
    """The state dict of torchvision's default weights for ``name``, from the hub cache or downloaded into it.

    Returns ``(state, weights)``; keys fixed by :func:`~googlenet.weights.fit.fix_state_keys`. Raises
    :class:`PretrainedError` (one line) when the file is neither cached nor downloadable, or is not a state dict.
    """
    weights = torchvision_weights(name)
    path = cache_path(weights)
    try:
        # torch.hub: the cached file, or a download into the cache; tensors and plain containers only
        state = weights.get_state_dict(progress=False, map_location="cpu", weights_only=True)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        if path.is_file():  # cached, but unreadable
            raise PretrainedError(
                f"cannot read the cached weights {path} ({err}); delete it to download again"
            ) from None
        reason = getattr(err, "reason", None) or err
        raise PretrainedError(f"cannot download {weights.url} ({reason}); offline, put that file at {path}") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PretrainedError(f"{path} is not a readable state dict ({first}); delete it to download again") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise PretrainedError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return fix_state_keys(state), weights


def torchvision_contract(name: str, **model_kwargs: Any) -> ModelContract:
    """The contract of torchvision's weights for ``name`` (nothing downloaded): their ``transforms()`` (sizes,
    interpolation, mean/std), categories, provenance, and the builder options they need under ``model_kwargs``."""
    weights = torchvision_weights(name)
    t = weights.transforms()
    crop = int(t.crop_size[0])
    names = tuple(weights.meta["categories"])
    return ModelContract(
        model=name,
        num_classes=len(names),
        model_kwargs={**published(name).model_kwargs, **model_kwargs},
        class_names=names,
        class_ids=imagenet_class_ids() if len(names) == 1000 else None,
        input_size=crop,
        crop_fraction=crop / int(t.resize_size[0]),
        resize="shorter",
        interpolation=_INTERPOLATION_NAMES.get(t.interpolation, "bilinear"),
        pixel_range=1.0,
        channel_order="RGB",
        mean=tuple(float(m) for m in t.mean),
        std=tuple(float(s) for s in t.std),
        weights={"source": "torchvision", "name": str(weights), "url": weights.url},
    )


def load_torchvision(name: str, num_classes: int | None = None, **kwargs: Any) -> tuple[nn.Module, ModelContract]:
    """``name`` with torchvision's published weights, and their contract (transforms, categories, provenance).

    Builder options torchvision applies with its weights (``transform_input`` for ``googlenet_bn``) are set unless
    given. ``num_classes`` None or equal to the weights' keeps their classifier; another count loads everything
    else and leaves a fresh classifier (recorded in the contract's ``weights["reset"]``).
    """
    in_chans = int(kwargs.get("in_chans", 3))
    if in_chans != 3:
        raise UserError(f"torchvision's {name} weights take 3 input channels, not in_chans={in_chans}")
    contract = torchvision_contract(name, **kwargs)
    state, weights = torchvision_state(name)
    kwargs = without_aux_if_file_lacks(name, state, contract.model_kwargs)
    k = contract.num_classes if num_classes is None else num_classes
    model = create_model(name, k, **kwargs)
    reset = load_state_except_classifier(model, state, weights.url, classifier_keys(name, **kwargs))
    changes: dict[str, Any] = {"num_classes": k, "model_kwargs": kwargs}
    if reset:
        changes["weights"] = {**contract.weights, "reset": reset}
    if k != contract.num_classes:
        changes.update(class_names=None, class_ids=None)
    return model, contract.replace(**changes)


def torchvision_figures(weights_name: str) -> dict[str, dict[str, float]]:
    """``{dataset: {"top1": %, "top5": %}}`` as torchvision's metadata of weights ``weights_name`` publishes them
    (offline; {} for a name it does not know)."""
    try:
        weights = tvm.get_weight(weights_name)
    except (ValueError, KeyError, AttributeError):
        return {}
    out = {}
    for dataset, figures in weights.meta.get("_metrics", {}).items():
        if isinstance(figures, Mapping) and "acc@1" in figures:
            out[dataset] = {"top1": float(figures["acc@1"]), "top5": float(figures.get("acc@5", float("nan")))}
    return out
