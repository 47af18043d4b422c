"""Faster R-CNN (Ren et al. 2015) on a GoogLeNet backbone, through ``torchvision.models.detection``.

The backbone is this project's classification network, built by name from the registry and cut after its last
used stage by torchvision's ``BackboneWithFPN`` (``IntermediateLayerGetter``: the auxiliary heads, pool and
classifier are not kept). A feature pyramid (``FeaturePyramidNetwork``, 256 channels, plus a max-pooled level)
sits on three stages at strides 8, 16 and 32:

- ``fasterrcnn_googlenet``: the outputs of Inception 3b (480 ch), 4e (832 ch) and 5b (1024 ch), each the last
  module of its stage of Table 1;
- ``fasterrcnn_resnet18``: ResNet-18's ``layer2``, ``layer3``, ``layer4``, the same strides, for comparison.

Anchors: one size per level (32, 64, 128, 256 px) and aspect ratios 0.5, 1, 2 (``AnchorGenerator``); RoIAlign
7x7 on the three stage levels (``MultiScaleRoIAlign``) and torchvision's two-layer box head. ``min_size`` /
``max_size`` set the resize inside the model (torchvision's defaults, 800 / 1333, are too slow for a CPU).
Batch norm in a backbone is frozen (``FrozenBatchNorm2d``), as torchvision does: detection batches are small.

``backbone_weights=PATH`` starts the backbone from a classification checkpoint of this project (any
``googlenet`` / ``resnet18`` run, an Imagenette run, BVLC's import): the checkpoint's own builder options
(``width``, ``lrn``...) build the backbone, its classifier and auxiliary heads are dropped, and its input contract
becomes the detector's normalisation (a Caffe contract too: BGR 0..255 is rewritten exactly for RGB 0..1 images,
:func:`rgb_unit_normalisation`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from .. import models as _families  # noqa: F401  (registers the backbones' builders)
from ..contract import IMAGENET_MEAN, IMAGENET_STD
from ..errors import UserError
from ..registry import model_info, register_model
from ..weights import CheckpointError, load_state_strict, read_checkpoint

# backbone -> (stage modules returned to the FPN, stem modules frozen when starting from a checkpoint)
STAGES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "googlenet": (("inception3b", "inception4e", "inception5b"), ("conv1", "conv2", "conv3")),
    "resnet18": (("layer2", "layer3", "layer4"), ("conv1", "bn1", "layer1")),
}
ANCHOR_SIZES = ((32,), (64,), (128,), (256,))
ASPECT_RATIOS = (0.5, 1.0, 2.0)
FPN_CHANNELS = 256


def freeze_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` by a ``FrozenBatchNorm2d`` holding the same statistics and affine terms."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            frozen = FrozenBatchNorm2d(child.num_features, eps=child.eps)
            frozen.weight.copy_(child.weight.detach())
            frozen.bias.copy_(child.bias.detach())
            frozen.running_mean.copy_(child.running_mean)
            frozen.running_var.copy_(child.running_var)
            setattr(module, name, frozen)
        else:
            freeze_batch_norm(child)
    return module


def _float_outputs(_module: nn.Module, _inputs: Any, output: Any) -> Any:
    """A forward hook: the head's tensors (or lists of them) in float32. Under bf16 autocast the box deltas would
    be bf16, and torchvision decodes them against anchors and proposals cast to their dtype: 8 significant bits
    put a box edge near x = 400 on a 2 px grid. In float32 the decoding, the losses and NMS keep the pixels."""

    def f(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v.float()
        if isinstance(v, (list, tuple)):
            return type(v)(f(x) for x in v)
        return v

    return f(output)


class TestScaleTransform(GeneralizedRCNNTransform):
    """torchvision's resize and normalisation with a test scale of its own. In training the shorter side is one of
    ``min_size`` (drawn per image, torchvision's multi-scale training); in eval mode it is ``test_size`` (default:
    the last ``min_size``, torchvision's rule), the longer side capped at ``test_max_size`` (default ``max_size``).
    Detectors trained with random IoU crops see people larger than the photos show them, and test best a little
    above their training scale (docs/detection.md)."""

    def __init__(self, transform: GeneralizedRCNNTransform) -> None:
        super().__init__(
            transform.min_size,
            transform.max_size,
            transform.image_mean,
            transform.image_std,
            size_divisible=transform.size_divisible,
            fixed_size=transform.fixed_size,
        )
        self.test_size: int | None = None
        self.test_max_size: int | None = None

    def test_scale(self) -> tuple[int, int]:
        """(shorter side, cap on the longer side) in eval mode."""
        return int(self.test_size or self.min_size[-1]), int(self.test_max_size or self.max_size)

    def scale_test_to(self, shorter_side: int) -> None:
        """Test at ``shorter_side``, the cap on the longer side scaled by the same factor."""
        size, cap = self.test_scale()
        self.test_size = int(shorter_side)
        self.test_max_size = max(int(shorter_side), round(cap * shorter_side / size))

    def resize(self, image: torch.Tensor, target: dict[str, torch.Tensor] | None = None) -> Any:
        if self.training:
            return super().resize(image, target)
        train_scale = self.min_size, self.max_size
        size, cap = self.test_scale()
        self.min_size, self.max_size = (size,), cap
        try:
            return super().resize(image, target)
        finally:
            self.min_size, self.max_size = train_scale


def rgb_unit_normalisation(trunk: nn.Module, meta: dict[str, Any]) -> tuple[list[float], list[float]]:
    """The detector's normalisation (RGB images in 0..1, as torchvision's detectors take them) equivalent to a
    classification checkpoint's input contract. A Caffe contract (BVLC's: BGR, pixels 0..255, mean 104/117/123)
    becomes mean / 255 and std / 255 in RGB order, and the first convolution's input channels are reversed to read
    RGB: ``conv(BGR * 255 - mean) == conv'((RGB - mean' ) / std')`` exactly."""
    scale = float(meta.get("pixel_range", 1.0))
    mean, std = list(meta.get("mean") or IMAGENET_MEAN), list(meta.get("std") or IMAGENET_STD)
    if meta.get("channel_order", "RGB") == "BGR":
        first = next(m for m in trunk.modules() if isinstance(m, nn.Conv2d))
        with torch.no_grad():
            first.weight.copy_(first.weight.flip(1))
        mean, std = mean[::-1], std[::-1]
    return [float(m) / scale for m in mean], [float(v) / scale for v in std]


def _stage_channels(trunk: nn.Module, stages: tuple[str, ...]) -> list[int]:
    """Output channels of each stage module, found by running a small image through the trunk."""
    out: dict[str, int] = {}
    hooks = [
        getattr(trunk, s).register_forward_hook(lambda _m, _i, y, s=s: out.__setitem__(s, y.shape[1])) for s in stages
    ]
    try:
        with torch.no_grad():
            trunk.eval()(torch.zeros(1, 3, 64, 64))
    finally:
        for h in hooks:
            h.remove()
    return [out[s] for s in stages]


HEAD_PREFIXES = ("fc.", "aux1.", "aux2.")  # the classifier and auxiliary heads a features-only backbone drops


def _features_only(arch: str, **kwargs: Any) -> nn.Module:
    """The registered classifier ``arch`` built with ``num_classes=0`` (timm's convention: no heads)."""
    return model_info(arch).builder(num_classes=0, **kwargs)


def classification_backbone(
    arch: str, backbone_weights: str | os.PathLike | None = None, **kwargs: Any
) -> tuple[nn.Module, dict[str, Any]]:
    """The features-only classification network ``arch`` and the metadata of the checkpoint it was loaded from
    (``{}`` when built at random)."""
    if backbone_weights is None:
        return _features_only(arch, **kwargs), {}
    model, meta = load_classification_backbone(backbone_weights, **kwargs)
    if meta.get("model") != arch:
        raise UserError(f"{backbone_weights} holds a {meta.get('model')!r} network, not the {arch!r} this backbone is")
    return model, meta


def load_classification_backbone(path: str | os.PathLike, **overrides: Any) -> tuple[nn.Module, dict[str, Any]]:
    """A classification checkpoint of this project as a features-only network: its own builder options, all its
    weights but the classifier and auxiliary heads (strict otherwise). A detection checkpoint is refused."""
    tensors, meta = read_checkpoint(path)  # the one place detection reads classification weights
    name = meta.get("model")
    if not isinstance(name, str):
        raise CheckpointError(f"{path} has no googlenet metadata naming its model")
    if model_info(name).task != "classify":
        raise UserError(f"{path} is a {name} detection checkpoint, not a classification network for a backbone")
    kwargs = {**meta.get("model_kwargs", {}), **overrides}
    kwargs.pop("aux_logits", None)
    model = _features_only(name, **kwargs)
    own = model.state_dict()
    kept = {k: v for k, v in tensors.items() if k in own or not k.startswith(HEAD_PREFIXES)}
    load_state_strict(model, kept, source=str(path))
    return model, meta


def googlenet_detector(
    arch: str,
    num_classes: int,
    *,
    backbone_weights: str | os.PathLike | None = None,
    freeze_stem: bool | None = None,
    min_size: int = 320,
    max_size: int = 512,
    test_size: int | None = None,
    anchor_sizes: tuple[tuple[int, ...], ...] = ANCHOR_SIZES,
    aspect_ratios: tuple[float, ...] = ASPECT_RATIOS,
    image_mean: tuple[float, ...] | None = None,
    image_std: tuple[float, ...] | None = None,
    representation_size: int = 1024,
    **detector_kwargs: Any,
) -> FasterRCNN:
    """A Faster R-CNN whose backbone is the registered classifier ``arch`` with an FPN on :data:`STAGES`.

    Args:
        arch: the backbone's registered name (``googlenet``, ``resnet18``).
        num_classes: detector outputs, the background included (Penn-Fudan: 2).
        backbone_weights: a classification checkpoint to start the backbone from.
        freeze_stem: keep the stem's weights fixed (default: when starting from a checkpoint).
        min_size, max_size: the resize inside the model (shorter side, cap on the longer side); several
            ``min_size`` train each image at one drawn at random.
        test_size: the shorter side in eval mode (default: the last ``min_size``), the cap scaled alike.
        anchor_sizes, aspect_ratios: per pyramid level (4 levels), and per anchor (height / width).
        image_mean, image_std: the normalisation (default: the checkpoint's, else ImageNet's).
        representation_size: width of the box head's two fully connected layers (torchvision: 1024).
        **detector_kwargs: ``FasterRCNN`` options (``box_score_thresh``, ``rpn_batch_size_per_image``...); a
            ``backbone_kwargs`` dict goes to the backbone's builder (``width=0.25``, ``lrn=False``).
    """
    if num_classes < 2:
        raise UserError(f"a detector needs num_classes >= 2 (the background and at least one class), got {num_classes}")
    stages, stem = STAGES[arch]
    backbone_kwargs = dict(detector_kwargs.pop("backbone_kwargs", {}))
    trunk, meta = classification_backbone(arch, backbone_weights, **backbone_kwargs)
    mean, std = rgb_unit_normalisation(trunk, meta) if meta else (None, None)
    if getattr(trunk, "transform_input", False):
        raise UserError("a backbone built with transform_input=True is not supported (the FPN skips the remap)")
    trunk = freeze_batch_norm(trunk)
    if freeze_stem if freeze_stem is not None else backbone_weights is not None:
        for name in stem:
            getattr(trunk, name).requires_grad_(False)
    channels = _stage_channels(trunk, stages)
    backbone = BackboneWithFPN(
        trunk,
        return_layers={s: str(i) for i, s in enumerate(stages)},
        in_channels_list=channels,
        out_channels=FPN_CHANNELS,
        extra_blocks=LastLevelMaxPool(),
    )
    anchor_sizes = tuple(tuple(int(v) for v in level) for level in anchor_sizes)  # JSON metadata gives lists
    aspect_ratios = tuple(float(v) for v in aspect_ratios)
    anchors = AnchorGenerator(anchor_sizes, (aspect_ratios,) * len(anchor_sizes))
    roi_pool = MultiScaleRoIAlign(featmap_names=[str(i) for i in range(len(stages))], output_size=7, sampling_ratio=2)
    model = FasterRCNN(
        backbone,
        num_classes=None,  # the box predictor below has the classes
        min_size=min_size,
        max_size=max_size,
        image_mean=list(image_mean or mean or IMAGENET_MEAN),
        image_std=list(image_std or std or IMAGENET_STD),
        rpn_anchor_generator=anchors,
        box_roi_pool=roi_pool,
        box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, representation_size),
        box_predictor=FastRCNNPredictor(representation_size, num_classes),
        **detector_kwargs,
    )
    model.transform = TestScaleTransform(model.transform)
    if test_size is not None:
        model.transform.scale_test_to(test_size)
    model.rpn.head.register_forward_hook(_float_outputs)  # heavy convs in bf16, their deltas in float32
    model.roi_heads.box_predictor.register_forward_hook(_float_outputs)
    model.num_classes = num_classes  # type: ignore[assignment]  # the project's interface
    model.in_chans = 3  # type: ignore[assignment]
    model.task = "detect"  # type: ignore[assignment]
    model.stage_names = OrderedDict(zip(stages, channels, strict=True))  # type: ignore[assignment]
    # what rebuilds this detector without the starting checkpoint: its backbone's builder options and normalisation
    trunk_kwargs = {k: v for k, v in {**meta.get("model_kwargs", {}), **backbone_kwargs}.items() if k != "aux_logits"}
    model.rebuild_kwargs = {  # type: ignore[assignment]
        **({"backbone_kwargs": trunk_kwargs} if trunk_kwargs else {}),
        "image_mean": [float(v) for v in model.transform.image_mean],
        "image_std": [float(v) for v in model.transform.image_std],
    }
    return model


@register_model(family="googlenet", task="detect", default_input_size=320)
def fasterrcnn_googlenet(num_classes: int = 2, **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN, FPN on GoogLeNet's Inception 3b / 4e / 5b (strides 8 / 16 / 32)."""
    return googlenet_detector("googlenet", num_classes, **kwargs)


@register_model(family="resnet", task="detect", default_input_size=320)
def fasterrcnn_resnet18(num_classes: int = 2, **kwargs: Any) -> FasterRCNN:
    """Faster R-CNN, FPN on ResNet-18's layer2 / layer3 / layer4 (strides 8 / 16 / 32), for comparison."""
    return googlenet_detector("resnet18", num_classes, **kwargs)
