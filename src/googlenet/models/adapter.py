"""One thin adapter that gives torchvision classifiers this project's model interface.

torchvision's AlexNet, VGG, ResNet and DenseNet already return logits from ``forward``; what they lack is
``num_classes``, ``num_features``, ``forward_features``, ``forward_head`` and ``reset_classifier``.
:func:`adapt` adds them without wrapping: the model's class is swapped for a subclass that mixes in
:class:`ClassifierAPI`, so the state-dict keys stay torchvision's (its checkpoints load with
``strict=True``), ``isinstance(model, torchvision.models.ResNet)`` still holds, torchvision's own
``forward`` runs (and scripts) unchanged, and the model pickles and deep-copies like any other.

What differs between families is data, not code (:class:`HeadSpec`): the modules of the trunk, whether a
ReLU follows it, the pooling module, and where the final linear layer lives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision import models as tvm


@dataclass(frozen=True)
class HeadSpec:
    """Where a torchvision family keeps its trunk and classifier.

    Attributes:
        trunk: child modules applied in order by ``forward_features``.
        trunk_relu: apply a ReLU after the trunk (DenseNet's forward does, outside its ``features``).
        pool: child module that pools the trunk output; ``None``: global average pooling.
        head: child module applied to the flattened pooled features (may hold hidden layers).
        classifier: dotted path of the final ``nn.Linear``, the layer ``reset_classifier`` replaces.
    """

    trunk: tuple[str, ...]
    classifier: str
    head: str
    pool: str | None = "avgpool"
    trunk_relu: bool = False


SPECS: dict[type[nn.Module], HeadSpec] = {
    tvm.AlexNet: HeadSpec(trunk=("features",), head="classifier", classifier="classifier.6"),
    tvm.VGG: HeadSpec(trunk=("features",), head="classifier", classifier="classifier.6"),
    tvm.ResNet: HeadSpec(
        trunk=("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"),
        head="fc",
        classifier="fc",
    ),
    tvm.DenseNet: HeadSpec(trunk=("features",), head="classifier", classifier="classifier", pool=None, trunk_relu=True),
}


class ClassifierAPI:
    """Mixin with the project's classifier interface, driven by the class attribute ``head_spec``.

    ``num_features`` is the input width of the final linear layer, i.e. what ``reset_classifier`` builds
    on (4096 for AlexNet/VGG, whose heads keep two hidden layers; 2048 for ResNet-50).
    """

    # Set by :func:`adapt`: ``head_spec`` (class attribute) and ``num_classes`` (instance attribute). No class-level
    # annotations here: TorchScript would read them as attribute types.
    __jit_unused_properties__ = ["num_features"]  # noqa: RUF012  (TorchScript would try to compile it)

    @property
    def num_features(self) -> int:
        return self.get_classifier().in_features

    def get_classifier(self) -> nn.Linear:
        """The final linear layer."""
        return self.get_submodule(self.head_spec.classifier)  # type: ignore[attr-defined]

    def forward_features(self, x: Tensor) -> Tensor:
        """Trunk output before pooling, e.g. N x 2048 x 7 x 7 for ResNet-50 at 224 px."""
        for name in self.head_spec.trunk:
            x = getattr(self, name)(x)
        return F.relu(x) if self.head_spec.trunk_relu else x

    def forward_head(self, x: Tensor) -> Tensor:
        """Pool, flatten and classify :meth:`forward_features` output into logits."""
        spec = self.head_spec
        x = getattr(self, spec.pool)(x) if spec.pool else F.adaptive_avg_pool2d(x, (1, 1))
        return getattr(self, spec.head)(torch.flatten(x, 1))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final linear layer by a freshly initialised one with ``num_classes`` outputs."""
        old = self.get_classifier()
        new = nn.Linear(old.in_features, num_classes, device=old.weight.device, dtype=old.weight.dtype)
        parent, _, leaf = self.head_spec.classifier.rpartition(".")
        setattr(self.get_submodule(parent) if parent else self, leaf, new)  # type: ignore[attr-defined]
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


def adapt(model: nn.Module) -> nn.Module:
    """Give a torchvision AlexNet/VGG/ResNet/DenseNet instance the project's interface, in place."""
    model.__class__ = _adapted_class(type(model))
    model.num_classes = model.get_classifier().out_features  # type: ignore[attr-defined]
    return model
