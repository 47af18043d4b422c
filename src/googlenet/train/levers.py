"""Training levers beyond the paper's recipe, each one config field (off by default):

- ``optim.name``: ``sgd`` (the paper's, momentum 0.9), ``adamw`` (decoupled weight decay, Loshchilov & Hutter 2019),
  or timm's ``lamb`` (layer-wise trust ratios, You et al. 2020) and ``lion`` (sign updates, Chen et al. 2023);
- ``data.mixup`` / ``data.cutmix``: the Beta(alpha, alpha) parameter of torchvision's v2 ``MixUp`` / ``CutMix``,
  applied to whole batches (both set: one of the two per batch, with equal probability);
- ``model.zero_init_bn``: the last batch norm of every residual block starts with scale 0 (Goyal et al. 2017); refused
  for Inception networks, whose modules concatenate their branches with no identity path (see
  :func:`zero_init_last_bn`);
- ``optim.precise_bn_batches``: before each evaluation, the batch norms' running statistics are recomputed as plain
  averages over that many training batches with the weights as they are (Wu & Johnson 2021, "precise BN"),
  instead of the exponential averages collected while the weights moved;
- ``data.progressive_min_size``: progressive resizing; epoch ``e`` trains on batches resized from ``input_size``
  down to a size growing linearly from this one to ``input_size`` at the last epoch (fastai's, Howard 2018).

Each is reproducible on resume: random draws come from torch's global generator, which the resume state holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import update_bn
from torchvision.transforms import v2

from ..config import ConfigError, TrainConfig


def build_optimizer(groups: list[dict[str, Any]], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The run's optimiser (``optim.name``, as the schema allows) over ``groups`` (each with its own weight decay,
    see ``param_groups``); ``optim.momentum`` is SGD's momentum or the others' beta1, which onecycle cycles.

    ``lamb`` and ``lion`` are timm's (``pip install 'googlenet[optim]'``): LAMB (You et al. 2020) with its own
    global-norm clipping off, as ``optim.grad_clip`` does that; Lion (Chen et al. 2023), beta2 0.99, whose
    sign update wants a learning rate 3-10x below AdamW's and a weight decay as much higher.
    """
    o = cfg.optim
    if o.name == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=(o.momentum, 0.999))
    if o.name in ("lamb", "lion"):
        try:
            from timm.optim import Lamb, Lion
        except ModuleNotFoundError:
            raise ConfigError(f"optim.name={o.name} is timm's optimiser: pip install 'googlenet[optim]'") from None
        if o.name == "lamb":
            return Lamb(groups, lr=o.lr, betas=(o.momentum, 0.999), max_grad_norm=None)
        return Lion(groups, lr=o.lr, betas=(o.momentum, 0.99))
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)


def batch_mix(cfg: TrainConfig, num_classes: int) -> v2.Transform | None:
    """MixUp and/or CutMix on a (images, labels) batch; labels come back as class probabilities."""
    mixes: list[v2.Transform] = []
    if cfg.data.mixup > 0:
        mixes.append(v2.MixUp(alpha=cfg.data.mixup, num_classes=num_classes))
    if cfg.data.cutmix > 0:
        mixes.append(v2.CutMix(alpha=cfg.data.cutmix, num_classes=num_classes))
    if not mixes:
        return None
    return mixes[0] if len(mixes) == 1 else v2.RandomChoice(mixes)


def hard_labels(y: torch.Tensor) -> torch.Tensor:
    """Class indices of ``y``: itself, or the most probable class of mixed (probability) labels."""
    return y.argmax(1) if y.is_floating_point() else y


def zero_init_last_bn(model: nn.Module) -> int:
    """Set the scale of each residual block's last batch norm to 0, so every block starts as the identity;
    returns how many.

    Inception networks are refused: a module concatenates its branches and has no identity path, so with every
    branch's last norm at 0 its output is exactly 0, ReLU passes no gradient at 0, and nothing before it ever
    learns (``tests/test_levers.py`` shows the stem's gradient is 0).
    """
    if any(all(hasattr(m, f"branch{i}") for i in (1, 2, 3, 4)) for m in model.modules()):
        raise ConfigError(
            "zero_init_bn: Inception modules concatenate their branches with no identity path; zeroing each branch's "
            "last batch norm makes every module output 0 and stops all learning before the classifier. "
            "It is for residual networks (resnet*)"
        )
    zeroed = 0
    for m in model.modules():
        if hasattr(m, "bn3") and isinstance(m.bn3, nn.BatchNorm2d):  # torchvision Bottleneck
            target = m.bn3
        elif hasattr(m, "bn2") and hasattr(m, "conv2") and isinstance(m.bn2, nn.BatchNorm2d):  # BasicBlock
            target = m.bn2
        else:
            continue
        nn.init.zeros_(target.weight)
        zeroed += 1
    if zeroed == 0:
        raise ConfigError("zero_init_bn: this model has no batch-normalised residual blocks")
    return zeroed


def progressive_size(cfg: TrainConfig, epoch: int, full: int) -> int:
    """Epoch ``epoch``'s (0-based) training size: ``progressive_min_size`` growing linearly to ``full`` at the last
    epoch (the first epoch at exactly the start, those in between rounded to a multiple of 8 px, never below the
    start); ``full`` when progressive resizing is off. The sizes follow ``epochs``: a run cut short by
    ``max_steps`` ends below ``full``."""
    start = cfg.data.progressive_min_size
    if not start or start >= full or epoch >= cfg.schedule.epochs - 1:
        return full
    if epoch == 0:
        return start
    t = epoch / (cfg.schedule.epochs - 1)
    return min(full, max(start, round((start + (full - start) * t) / 8) * 8))


def resize_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` (N, C, H, W) resized to ``size`` x ``size`` (antialiased bilinear); ``x`` itself if it already is."""
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)


@torch.no_grad()
def precise_bn(model: nn.Module, batches: Iterable[torch.Tensor], keep: Iterable[nn.Module] = ()) -> int:
    """Recompute every batch norm's running mean and variance as the average over ``batches`` (torch's
    ``update_bn``); norms in ``keep`` (frozen ones) and those the forward pass never reaches (auxiliary heads)
    keep theirs. Returns the number of batches used."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    before = {m: (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in norms}
    seen = []
    kept = set(keep)

    def counted() -> Iterable[torch.Tensor]:
        for x in batches:
            seen.append(len(x))
            yield x

    update_bn(counted(), model)
    for m in norms:
        if int(m.num_batches_tracked) == 0 or m in kept:  # never ran, or frozen: restore
            m.running_mean.copy_(before[m][0])
            m.running_var.copy_(before[m][1])
            m.num_batches_tracked.copy_(before[m][2])
        else:
            m.num_batches_tracked.copy_(before[m][2])
    return len(seen)


__all__ = [
    "batch_mix",
    "build_optimizer",
    "hard_labels",
    "precise_bn",
    "progressive_size",
    "resize_batch",
    "zero_init_last_bn",
]
