"""The intermediate feature maps of every registered model, by stage name, for detection's FPN, Grad-CAM and study.

As timm's ``features_only`` / ``forward_intermediates`` and torchvision's ``IntermediateLayerGetter`` do, a stage is
named by the module whose output it is; the names follow each family's own paper:

- GoogLeNet (Table 1): ``conv1`` (/2), ``conv3`` (/4, after the stem's second pool in the paper model: the
  3x3 reduce/3x3 pair), ``inception3b`` (/8), ``inception4e`` (/16), ``inception5b`` (/32);
- ResNet: ``relu`` (the stem, /2), ``layer1`` ... ``layer4``;
- DenseNet: ``features.relu0`` and each ``features.denseblockN``, the last through ``features.norm5``;
- VGG and AlexNet: the layer before each max pool of ``features`` (``stage1`` ...), the last one included.

``StageFeatures(model, ["inception3b", "inception4e"])(x)`` returns an ordered ``{stage: tensor}``; it stops the
forward pass after the last stage asked for. :func:`feature_info` gives each stage's channels and reduction.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import UserError

GOOGLENET_STAGES = ("conv1", "conv3", "inception3b", "inception4e", "inception5b")
RESNET_STAGES = ("relu", "layer1", "layer2", "layer3", "layer4")


class StageError(UserError):
    """A stage name the model does not have."""


def _pool_stages(features: nn.Sequential, prefix: str = "features") -> dict[str, str]:
    """``stageN`` -> the module right before each max pool of ``features`` (and the last one)."""
    paths, children = [], list(features.named_children())
    for (name, _), (_, nxt) in itertools.pairwise(children):
        if isinstance(nxt, nn.MaxPool2d):
            paths.append(f"{prefix}.{name}")
    if children and not isinstance(children[-1][1], nn.MaxPool2d):
        paths.append(f"{prefix}.{children[-1][0]}")
    return {f"stage{i + 1}": p for i, p in enumerate(paths)}


def stage_modules(model: nn.Module) -> dict[str, str]:
    """Stage name -> module path (as in ``named_modules``), in forward order."""
    names = dict(model.named_children())
    if "inception5b" in names:
        return {s: s for s in GOOGLENET_STAGES}
    if "layer4" in names:
        return {s: s for s in RESNET_STAGES}
    features = names.get("features")
    if isinstance(features, nn.Sequential):
        blocks = [n for n, _ in features.named_children() if n.startswith("denseblock")]
        if blocks:
            last = "norm5" if hasattr(features, "norm5") else blocks[-1]
            paths = ["relu0", *blocks[:-1], last]
            return {n if n != last else blocks[-1]: f"features.{n}" for n in paths}
        return _pool_stages(features)
    raise StageError(f"{type(model).__name__} has no stages declared in googlenet.models.stages")


class _Done(Exception):
    """Raised by the last stage's hook: nothing after it is needed."""


class StageFeatures(nn.Module):
    """``model`` returning its stage outputs: ``{stage: N x C x H x W}``, in forward order.

    Args:
        model: a registered model (any ``num_classes``; the classifier never runs).
        stages: stage names (default: all of :func:`stage_modules`).
    """

    def __init__(self, model: nn.Module, stages: Sequence[str] | None = None) -> None:
        super().__init__()
        self.model = model
        known = stage_modules(model)
        wanted = list(known) if stages is None else list(stages)
        unknown = [s for s in wanted if s not in known]
        if unknown or not wanted:
            raise StageError(f"unknown stage(s) {unknown or wanted}; {type(model).__name__} has: {', '.join(known)}")
        self.stages = [s for s in known if s in wanted]  # forward order
        self.paths = {s: known[s] for s in self.stages}

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        out: OrderedDict[str, Tensor] = OrderedDict()
        modules = dict(self.model.named_modules())
        last = self.stages[-1]

        def hook(stage: str) -> Any:
            def keep(_m: nn.Module, _args: Any, output: Tensor) -> None:
                out[stage] = output
                if stage == last:
                    raise _Done

            return keep

        handles = [modules[self.paths[s]].register_forward_hook(hook(s)) for s in self.stages]
        try:
            self.model(x)
        except _Done:
            pass
        finally:
            for h in handles:
                h.remove()
        return out


def feature_info(model: nn.Module, input_size: int = 224, in_chans: int = 3) -> list[dict[str, Any]]:
    """Each stage's ``{"stage", "module", "channels", "reduction"}`` (input side / output side), measured on a
    ``input_size`` px input on the meta device (no memory, no arithmetic)."""
    meta = StageFeatures(model).to("meta").eval()
    with torch.no_grad():
        outs = meta(torch.zeros(1, in_chans, input_size, input_size, device="meta"))
    return [
        {"stage": s, "module": meta.paths[s], "channels": t.shape[1], "reduction": input_size // t.shape[-1]}
        for s, t in outs.items()
    ]
