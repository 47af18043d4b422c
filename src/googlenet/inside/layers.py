"""Layer names as the papers write them, mapped to this project's module paths.

Three vocabularies name GoogLeNet's layers:

- **Caffe / BVLC** (the DeepDream notebook, ``train_val.prototxt``): ``conv2/3x3``, ``inception_4c/5x5_reduce``,
  ``inception_4c/output``, ``pool3/3x3_s2``, ``loss3/classifier``. The convolutions come from
  :data:`googlenet.caffe.nets.GOOGLENET` (the weight importer's table); a convolution's name means its
  :class:`~googlenet.models.layers.ConvBlock`, whose output is after the ReLU, as Caffe's in-place ReLU leaves
  its top blob.
- **Table 1** of the paper: a row name such as ``inception_4c`` (the module's concatenated output).
- **Lucid** (Distill's *Feature Visualization*, *Building Blocks*, *Circuits*): ``mixed4c``, ``mixed4c_3x3_bottleneck``,
  ``conv2d2``, ``softmax2_pre_activation`` (its pool names, ``maxpool1`` for Caffe's ``pool2``, would clash with this
  project's module paths and are left out).

Every name resolves to a module of the model or raises a one-line :class:`UnknownLayerError` (listing the names)
or :class:`MissingLayerError` (a name of GoogLeNet this checkpoint's model lacks: an auxiliary head trained away, a
features-only model's classifier, the naive module's reductions). Any module path of the model
(``inception4c.branch2``, or ``layer4`` of a ResNet checkpoint) is accepted as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..errors import UserError
from ..models.inception import Inception, InceptionNaive
from ..models.layers import ConvBlock
from ..weights.caffe.nets import GOOGLENET, INCEPTIONS

# Caffe's non-convolution layers -> module paths
_CAFFE_OTHER = {
    "pool1/3x3_s2": "maxpool1",
    "pool1/norm1": "lrn1",
    "conv2/norm2": "lrn2",
    "pool2/3x3_s2": "maxpool2",
    "pool3/3x3_s2": "maxpool3",
    "pool4/3x3_s2": "maxpool4",
    "pool5/7x7_s1": "avgpool",
}
# Lucid's InceptionV1 names: branch suffix -> the Caffe suffix of the same layer
_LUCID_BRANCHES = {
    "1x1": "1x1",
    "3x3_bottleneck": "3x3_reduce",
    "3x3": "3x3",
    "5x5_bottleneck": "5x5_reduce",
    "5x5": "5x5",
    "pool_reduce": "pool_proj",
}
_LUCID_STEM = {
    "conv2d0": "conv1/7x7_s2",
    "conv2d1": "conv2/3x3_reduce",
    "conv2d2": "conv2/3x3",
    "softmax2_pre_activation": "loss3/classifier",
}


def _module_of(path: str) -> str:
    """A convolution's state-dict prefix -> its ConvBlock (post-ReLU); Linear layers stay as they are."""
    return path.removesuffix(".conv")


def _caffe_names() -> dict[str, str]:
    names = {name: _module_of(path) for name, path in GOOGLENET.items()}
    names.update(_CAFFE_OTHER)
    for row in INCEPTIONS:
        names[f"inception_{row}"] = names[f"inception_{row}/output"] = f"inception{row}"
        names[f"inception_{row}/pool"] = f"inception{row}.branch4.0"
    return names


CAFFE = _caffe_names()


def _lucid_names() -> dict[str, str]:
    names = {lucid: CAFFE[caffe] for lucid, caffe in _LUCID_STEM.items()}
    for row in INCEPTIONS:
        names[f"mixed{row}"] = CAFFE[f"inception_{row}"]
        for lucid, caffe in _LUCID_BRANCHES.items():
            names[f"mixed{row}_{lucid}"] = CAFFE[f"inception_{row}/{caffe}"]
    return names


LUCID = _lucid_names()
NAMES: dict[str, str] = {**CAFFE, **LUCID}  # every GoogLeNet name -> module path


class UnknownLayerError(UserError):
    """A layer name that is neither a GoogLeNet name nor a module of the model."""


class MissingLayerError(UserError):
    """A GoogLeNet layer name whose module this model does not have."""


PRE_RELU = "_pre_relu"  # Lucid's suffix: the layer before its ReLU


@dataclass(frozen=True)
class Layer:
    """A resolved layer: the name asked for, its module path, and the modules whose outputs make up its
    activations (``parts``, concatenated on channels: the module itself, or before the ReLU the convolution (and
    batch norm) of a ConvBlock, or of each branch of an Inception module). ``aux``: in an auxiliary head, which
    runs only when the forward pass asks for the auxiliary logits."""

    name: str
    path: str
    parts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.parts:
            object.__setattr__(self, "parts", (self.path,))

    @property
    def aux(self) -> bool:
        return self.path.startswith(("aux1.", "aux2."))

    @property
    def pre_relu(self) -> bool:
        return self.parts != (self.path,)


def _before_relu(model: nn.Module, path: str) -> tuple[str, ...]:
    """The modules whose outputs are ``path``'s output before its last ReLU (``path`` itself if none)."""
    module = model.get_submodule(path)
    if isinstance(module, ConvBlock):
        return (f"{path}.bn",)  # batch norm, or the Identity passing the convolution's output on
    if isinstance(module, nn.Sequential) and len(module) and isinstance(module[-1], ConvBlock):
        return (f"{path}.{len(module) - 1}.bn",)
    if isinstance(module, (Inception, InceptionNaive)):
        return tuple(
            p for b in ("branch1", "branch2", "branch3", "branch4") for p in _before_relu(model, f"{path}.{b}")
        )
    return (path,)


def _present(model: nn.Module, path: str) -> bool:
    try:
        module = model.get_submodule(path)
    except AttributeError:
        return False
    return not isinstance(module, nn.Identity)  # a features-only model's fc, a model without LRN


def is_googlenet(model: nn.Module) -> bool:
    """Is ``model`` a GoogLeNet of this project (the papers' names apply only to it)?"""
    return isinstance(getattr(model, "inception3a", None), (Inception, InceptionNaive))


def available(model: nn.Module) -> list[str]:
    """The GoogLeNet names (Caffe and Table 1 first, then Lucid's) that resolve to a module of ``model`` (none
    for another family)."""
    if not is_googlenet(model):
        return []
    return [name for name, path in NAMES.items() if _present(model, path)]


def _listing(model: nn.Module) -> str:
    names = [n for n in available(model) if n in CAFFE]
    if names:
        return "layers: " + ", ".join(names) + " (or Lucid's mixed4c..., or a module path)"
    return "modules: " + ", ".join(n for n, _ in model.named_children())


def resolve(model: nn.Module, name: str, pre_relu: bool = False) -> Layer:
    """The module ``name`` means in ``model``: a Caffe, Table 1 or Lucid name, or a module path; with
    ``pre_relu`` (or a name ending in ``_pre_relu``, as Lucid's ``mixed4c_pre_relu``), its activations before
    the ReLU where it ends in one (a channel's objective then has a gradient even where the ReLU is off)."""
    if name.endswith(PRE_RELU) and name != PRE_RELU:
        layer = resolve(model, name.removesuffix(PRE_RELU), pre_relu=True)
        return Layer(name, layer.path, layer.parts)
    if pre_relu:
        layer = resolve(model, name)
        return Layer(name, layer.path, _before_relu(model, layer.path))
    if is_googlenet(model) and name in NAMES:
        path = NAMES[name]
        if not _present(model, path):
            raise MissingLayerError(
                f"this {type(model).__name__} has no layer {name!r} (module {path}); it has {_listing(model)}"
            )
        return Layer(name, path)
    if name and _present(model, name):  # a module path, of any model
        return Layer(name, name)
    if name in NAMES:
        raise MissingLayerError(f"{name!r} names a GoogLeNet layer; this {type(model).__name__} has {_listing(model)}")
    raise UnknownLayerError(f"unknown layer {name!r}; valid {_listing(model)}")
