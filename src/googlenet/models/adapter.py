"""One thin adapter that gives torchvision classifiers this project's model interface.

torchvision's AlexNet, VGG, ResNet and DenseNet already return logits from ``forward``; what they lack is
``num_classes``, ``in_chans``, ``num_features``, ``get_classifier``, ``forward_features``, ``forward_head``
and ``reset_classifier``. :func:`adapt` adds them without wrapping: the model's class is swapped for a
subclass that mixes in :class:`ClassifierAPI`, so the state-dict keys stay torchvision's (its checkpoints
load with ``strict=True``), ``isinstance(model, torchvision.models.ResNet)`` still holds, torchvision's own
``forward`` runs (and scripts) unchanged, and the model pickles and deep-copies like any other.

What differs between families is data, not code (:class:`HeadSpec`): the first conv, the modules of the
trunk, whether a ReLU follows it, the pooling module, and where the final linear layer lives.

``adapt(model, in_chans=1)`` builds a greyscale network: only the first conv changes (its input channels),
re-initialised as the family initialises it; every state-dict key stays torchvision's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision import models as tvm


@dataclass(frozen=True)
class HeadSpec:
    """Where a torchvision family keeps its trunk and classifier.

    Attributes:
        stem: dotted path of the first conv, the layer whose input channels ``in_chans`` sets.
        trunk: child modules applied in order by ``forward_features``.
        trunk_relu: apply a ReLU after the trunk (DenseNet's forward does, outside its ``features``).
        pool: child module that pools the trunk output; ``None``: global average pooling.
        head: child module applied to the flattened pooled features (may hold hidden layers).
        classifier: dotted path of the final ``nn.Linear``, the layer ``reset_classifier`` replaces.
        stem_init: the family's initialisation of the first conv; ``None``: PyTorch's default.
    """

    stem: str
    trunk: tuple[str, ...]
    classifier: str
    head: str
    pool: str | None = "avgpool"
    trunk_relu: bool = False
    stem_init: Callable[[nn.Conv2d], None] | None = None


def _kaiming_fan_out(conv: nn.Conv2d) -> None:  # torchvision's VGG and ResNet
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def _kaiming_fan_in(conv: nn.Conv2d) -> None:  # torchvision's DenseNet (its first conv has no bias)
    nn.init.kaiming_normal_(conv.weight)


SPECS: dict[type[nn.Module], HeadSpec] = {
    tvm.AlexNet: HeadSpec(stem="features.0", trunk=("features",), head="classifier", classifier="classifier.6"),
    tvm.VGG: HeadSpec(
        stem="features.0", trunk=("features",), head="classifier", classifier="classifier.6", stem_init=_kaiming_fan_out
    ),
    tvm.ResNet: HeadSpec(
        stem="conv1",
        trunk=("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"),
        head="fc",
        classifier="fc",
        stem_init=_kaiming_fan_out,
    ),
    tvm.DenseNet: HeadSpec(
        stem="features.conv0",
        trunk=("features",),
        head="classifier",
        classifier="classifier",
        pool=None,
        trunk_relu=True,
        stem_init=_kaiming_fan_in,
    ),
}


class ClassifierAPI:
    """Mixin with the project's classifier interface, driven by the class attribute ``head_spec``.

    ``num_features`` is the input width of the final linear layer, i.e. what ``reset_classifier`` builds
    on (4096 for AlexNet/VGG, whose heads keep two hidden layers; 2048 for ResNet-50), and the width of
    ``forward``'s output in a features-only model (``num_classes=0``).
    """

    # Set by :func:`adapt`: ``head_spec`` (class attribute), ``num_classes``, ``in_chans`` and ``num_features``
    # (instance attributes). No class-level annotations here: TorchScript would read them as attribute types.

    def get_classifier(self) -> nn.Module:
        """The final linear layer (an ``nn.Identity`` in a features-only model, ``num_classes=0``)."""
        return self.get_submodule(self.head_spec.classifier)  # type: ignore[attr-defined]

    def forward_features(self, x: Tensor) -> Tensor:
        """Trunk output before pooling, e.g. N x 2048 x 7 x 7 for ResNet-50 at 224 px."""
        for name in self.head_spec.trunk:
            x = getattr(self, name)(x)
        return F.relu(x) if self.head_spec.trunk_relu else x

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool, flatten and classify :meth:`forward_features` output into logits.

        ``pre_logits=True`` stops before the final linear layer: N x num_features (after the hidden FC layers
        of AlexNet and VGG).
        """
        spec = self.head_spec
        x = getattr(self, spec.pool)(x) if spec.pool else F.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        head = getattr(self, spec.head)
        if not pre_logits:
            return head(x)
        return x if spec.head == spec.classifier else head[:-1](x)  # the classifier ends the head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final linear layer by a freshly initialised one with ``num_classes`` outputs (0: none, the
        model returns its pooled features, N x num_features)."""
        w = next(self.parameters())
        new: nn.Module = nn.Identity()
        if num_classes:
            new = nn.Linear(self.num_features, num_classes, device=w.device, dtype=w.dtype)
        self.set_submodule(self.head_spec.classifier, new)  # type: ignore[attr-defined]
        self.num_classes = num_classes


_ADAPTED: dict[type[nn.Module], type[nn.Module]] = {}


def _adapted_class(cls: type[nn.Module]) -> type[nn.Module]:
    if cls not in _ADAPTED:
        spec = next((s for base, s in SPECS.items() if issubclass(cls, base)), None)
        if spec is None:
            raise TypeError(f"no adapter spec for {cls.__name__}; add one to googlenet.models.adapter.SPECS")
        sub = type(cls.__name__, (ClassifierAPI, cls), {"head_spec": spec, "__module__": __name__})
        sub.__qualname__ = f"_adapted_{cls.__name__}"
        globals()[sub.__qualname__] = sub  # importable by name, so pickle and torch.save(model) work
        _ADAPTED[cls] = sub
    return _ADAPTED[cls]


def _set_in_chans(model: nn.Module, in_chans: int) -> None:
    """Rebuild the first conv for ``in_chans`` input channels (same shape otherwise), initialised as the family."""
    spec: HeadSpec = model.head_spec  # type: ignore[assignment]
    old = model.get_submodule(spec.stem)
    if old.in_channels == in_chans:
        return
    w = old.weight
    new = nn.Conv2d(
        in_chans,
        old.out_channels,
        old.kernel_size,
        old.stride,
        old.padding,
        old.dilation,
        old.groups,
        bias=old.bias is not None,
        padding_mode=old.padding_mode,
        device=w.device,
        dtype=w.dtype,
    )
    if spec.stem_init is not None:
        spec.stem_init(new)
    model.set_submodule(spec.stem, new)


def adapt(model: nn.Module, in_chans: int = 3, features_only: bool = False) -> nn.Module:
    """Give a torchvision AlexNet/VGG/ResNet/DenseNet instance the project's interface, in place.

    Args:
        model: a torchvision classifier (3 input channels, or already built for ``in_chans``).
        in_chans: input channels; another count than the first conv's rebuilds that conv only.
        features_only: replace the final linear layer by ``nn.Identity`` (timm's ``num_classes=0``): ``forward``
            returns the pooled features, N x num_features.
    """
    model.__class__ = _adapted_class(type(model))
    _set_in_chans(model, in_chans)
    model.in_chans = in_chans
    model.num_features = model.get_classifier().in_features  # type: ignore[attr-defined]
    if features_only:
        model.reset_classifier(0)  # type: ignore[attr-defined]
    model.num_classes = 0 if features_only else model.get_classifier().out_features  # type: ignore[attr-defined]
    return model
