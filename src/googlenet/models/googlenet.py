"""GoogLeNet (Inception v1), Szegedy et al., "Going Deeper with Convolutions", CVPR 2015.

``googlenet`` is the network of Table 1 and the BVLC Caffe definition, exactly: true 5x5 branches, LRN
in the stem, ceil-mode max pools, conv biases, dropout 0.4 and two auxiliary classifiers after 4a and 4d.

Deliberate differences, from the paper and from torchvision's port:

====================  ===============================  ================================  ===========================
what                  paper / Caffe                    torchvision ``googlenet``         this module
====================  ===============================  ================================  ===========================
"5x5" branch          5x5 conv                         3x3 conv (port of TF weights)     5x5 (``googlenet``)
normalisation         LRN after maxpool1 and conv3     batch norm, eps 1e-3, no LRN      LRN; ``lrn=False`` drops
                                                                                         it; ``batch_norm=True``
                                                                                         adds BN (own names)
conv bias             yes (filled with 0.2)            no (BN follows)                   yes (0.2), none with BN
max pool before 5a    3x3/2, ceil                      2x2/2, ceil                       3x3/2, ceil
final pool            7x7/1 average                    adaptive average                  adaptive average (equal
                                                                                         to 7x7 at 224 px)
main dropout          0.4                              0.2                               0.4 (``dropout=``)
aux pool              5x5/3 average                    adaptive average to 4x4           5x5/3, then adaptive to
                                                                                         4x4 (identity at 224)
aux outputs           training only                    returned in training, order was   ``return_aux=True`` in
                                                       wrong for years                   any mode, order 4a, 4d
forward return type   n/a                              tuple in training, tensor in      always logits; a tuple
                                                       eval                              only when asked
input transform       none                             ``transform_input`` re-maps       off; ``transform_input``
                                                       normalisation when weights load   as torchvision
input scale           BVLC: BGR, pixels 0-255 minus    RGB 0-1, ImageNet mean/std        the checkpoint contract's:
                      (104, 117, 123), std 1, so the   (``transform_input``: [-1, 1])    RGB 0-1 ImageNet mean/std
                      LRN layers act (paper: not                                         by default, where LRN is
                      stated)                                                            nearly the identity;
                                                                                         Caffe's with training's
                                                                                         ``input_contract=caffe``
                                                                                         and BVLC's imported weights
weight init           paper: "gaussian" (so BVLC's     truncated normal 0.01 (scipy,     BVLC's xavier (fan-in
                      readme); BVLC's replication:     slow before 0.13)                 uniform), bias 0.2: not
                      xavier, bias 0.2                                                   the paper's gaussian
====================  ===============================  ================================  ===========================

``num_classes=0`` builds a features-only model (timm's convention): no classifier and no auxiliary heads, ``forward``
returns the pooled features (N x 1024). BVLC's published ``bvlc_googlenet.caffemodel`` loads into ``googlenet``
(``googlenet import-weights``, :mod:`googlenet.weights.caffe`).

Variants: ``width`` multiplies every channel count (stem, every Inception branch, aux conv and FC
hidden units; rounding ``max(1, floor(n * width + 0.5))``), ``small_input=True`` replaces the
7x7/2 conv + two stride-2 pools of the stem by a 3x3/1 conv and no pools, so a 32x32 image reaches
inception 3a at 32x32 instead of 4x4 (28 px: 28x28), ``naive=True`` uses the Figure 2a module with the
``#1x1``, ``#3x3`` and ``#5x5`` counts of Table 1, and ``in_chans=1`` builds a greyscale network.
"""

from __future__ import annotations

from functools import partial
from typing import List, Tuple, Union  # noqa: UP035  (TorchScript needs typing generics in forward)

import torch
from torch import Tensor, nn

from ..errors import InputSizeError
from ..registry import PublishedWeights, register_model
from .inception import ConvFactory, Inception, InceptionAux, InceptionNaive
from .layers import ConvBlock, caffe_xavier_, scale_channels

# Table 1: name -> (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
TABLE1: dict[str, tuple[int, int, int, int, int, int]] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class GoogLeNet(nn.Module):
    """GoogLeNet trunk with optional auxiliary heads.

    ``forward(x)`` returns logits in train and eval alike; ``forward(x, return_aux=True)`` returns
    ``(logits, aux)`` where ``aux`` holds the auxiliary logits in network order (after 4a, after 4d),
    empty when the model has none.

    Args:
        num_classes: classifier outputs; 0 builds a features-only model (timm's convention, the one exception to
            "forward returns logits"): ``forward`` returns the pooled features, N x num_features, and there are no
            auxiliary heads.
        aux_logits: build the two auxiliary classifiers.
        width: channel multiplier (see module docstring for rounding).
        small_input: stem for 28-32 px images (no early downsampling).
        naive: Figure 2a modules instead of Figure 2b.
        lrn: local response normalisation in the stem (size 5, alpha 1e-4, beta 0.75, k 1).
        batch_norm: batch norm after every conv (then convs have no bias).
        dropout: main classifier dropout (paper 0.4).
        aux_dropout: auxiliary classifier dropout (paper 0.7).
        in_chans: input channels (3 for RGB, 1 for greyscale).
        ch5x5_kernel: kernel of the "5x5" branch (3 reproduces torchvision's port).
        pool4_kernel: kernel of the max pool before 5a (2 reproduces torchvision's port).
        aux_paper_pool: 5x5/3 average pool in the aux heads (False: adaptive only, as torchvision).
        bn_eps: batch norm epsilon.
        transform_input: re-map inputs normalised with ImageNet mean/std to the [-1, 1] range that
            torchvision's ported GoogLeNet weights expect (as torchvision's ``transform_input``).
        init: ``"caffe"`` (xavier fan-in uniform, conv bias 0.2) or ``"torchvision"`` (truncated normal 0.01).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        aux_logits: bool = True,
        width: float = 1.0,
        small_input: bool = False,
        naive: bool = False,
        lrn: bool = True,
        batch_norm: bool = False,
        dropout: float = 0.4,
        aux_dropout: float = 0.7,
        in_chans: int = 3,
        ch5x5_kernel: int = 5,
        pool4_kernel: int = 3,
        aux_paper_pool: bool = True,
        bn_eps: float = 1e-3,
        transform_input: bool = False,
        init: str = "caffe",
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if init not in ("caffe", "torchvision"):
            raise ValueError(f"init must be 'caffe' or 'torchvision', got {init!r}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.small_input = small_input
        if transform_input and in_chans != 3:
            raise ValueError("transform_input needs 3 input channels")
        self.transform_input = transform_input
        c = partial(scale_channels, width=width)
        conv_block: ConvFactory = partial(ConvBlock, batch_norm=batch_norm, bn_eps=bn_eps)

        def make_lrn() -> nn.Module:
            return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=1.0) if lrn else nn.Identity()

        # Stem (Figure 3): conv 7x7/2 -> max pool 3x3/2 -> LRN -> conv 1x1 -> conv 3x3 -> LRN -> max pool 3x3/2
        if small_input:
            self.conv1 = conv_block(in_chans, c(64), kernel_size=3, stride=1, padding=1)
            self.maxpool1: nn.Module = nn.Identity()
        else:
            self.conv1 = conv_block(in_chans, c(64), kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = make_lrn()
        self.conv2 = conv_block(c(64), c(64), kernel_size=1)
        self.conv3 = conv_block(c(64), c(192), kernel_size=3, padding=1)
        self.lrn2 = make_lrn()
        self.maxpool2: nn.Module = nn.Identity() if small_input else nn.MaxPool2d(3, stride=2, ceil_mode=True)

        channels = c(192)

        def inception(row: str) -> nn.Module:
            nonlocal channels
            ch1, ch3r, ch3, ch5r, ch5, pool = (c(n) for n in TABLE1[row])
            if naive:
                block: nn.Module = InceptionNaive(channels, ch1, ch3, ch5, conv_block=conv_block)
            else:
                block = Inception(
                    channels, ch1, ch3r, ch3, ch5r, ch5, pool, conv_block=conv_block, ch5x5_kernel=ch5x5_kernel
                )
            channels = block.out_channels
            return block

        self.inception3a = inception("3a")
        self.inception3b = inception("3b")
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception("4a")
        aux1_in = channels
        self.inception4b = inception("4b")
        self.inception4c = inception("4c")
        self.inception4d = inception("4d")
        aux2_in = channels
        self.inception4e = inception("4e")
        self.maxpool4 = nn.MaxPool2d(pool4_kernel, stride=2, ceil_mode=True)
        self.inception5a = inception("5a")
        self.inception5b = inception("5b")

        self.aux_logits = aux_logits and num_classes > 0  # a features-only model (num_classes=0) has no aux heads
        self.aux1: InceptionAux | None = None
        self.aux2: InceptionAux | None = None
        if self.aux_logits:
            aux = partial(
                InceptionAux,
                num_classes=num_classes,
                conv_block=conv_block,
                conv_channels=c(128),
                hidden=c(1024),
                dropout=aux_dropout,
                paper_pool=aux_paper_pool,
            )
            self.aux1 = aux(aux1_in)
            self.aux2 = aux(aux2_in)

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.num_features = channels
        self.fc: nn.Module = nn.Linear(channels, num_classes) if num_classes > 0 else nn.Identity()
        self._init_weights(init)

    def _init_weights(self, init: str) -> None:
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if init == "caffe":
                    caffe_xavier_(m.weight)
                else:
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                if m.bias is not None:
                    # Caffe: 0.2 for convs and the aux hidden FC, 0 for the classifiers
                    is_hidden = isinstance(m, nn.Conv2d) or name.endswith("fc1")
                    nn.init.constant_(m.bias, 0.2 if init == "caffe" and is_hidden else 0.0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.in_chans:
            raise InputSizeError(f"expected a batch of shape N x {self.in_chans} x H x W, got {list(x.shape)}")

    def _transform_input(self, x: Tensor) -> Tensor:
        # x_imagenet * std / 0.5 + (mean - 0.5) / 0.5: from (x - mean) / std to (x - 0.5) / 0.5, torchvision's
        # exact arithmetic so that its weights give identical logits
        if self.transform_input:
            x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            x = torch.cat((x_ch0, x_ch1, x_ch2), 1)
        return x

    def _trunk(self, x: Tensor, want_aux: bool) -> tuple[Tensor, list[Tensor]]:
        aux: list[Tensor] = []
        x = self._transform_input(x)
        x = self.conv1(x)  # N x 64 x 112 x 112
        x = self.maxpool1(x)  # N x 64 x 56 x 56
        x = self.lrn1(x)
        x = self.conv2(x)  # N x 64 x 56 x 56
        x = self.conv3(x)  # N x 192 x 56 x 56
        x = self.lrn2(x)
        x = self.maxpool2(x)  # N x 192 x 28 x 28
        x = self.inception3a(x)  # N x 256 x 28 x 28
        x = self.inception3b(x)  # N x 480 x 28 x 28
        x = self.maxpool3(x)  # N x 480 x 14 x 14
        x = self.inception4a(x)  # N x 512 x 14 x 14
        if want_aux and self.aux1 is not None:
            aux.append(self.aux1(x))  # N x num_classes
        x = self.inception4b(x)  # N x 512 x 14 x 14
        x = self.inception4c(x)  # N x 512 x 14 x 14
        x = self.inception4d(x)  # N x 528 x 14 x 14
        if want_aux and self.aux2 is not None:
            aux.append(self.aux2(x))  # N x num_classes
        x = self.inception4e(x)  # N x 832 x 14 x 14
        x = self.maxpool4(x)  # N x 832 x 7 x 7
        x = self.inception5a(x)  # N x 832 x 7 x 7
        x = self.inception5b(x)  # N x 1024 x 7 x 7
        return x, aux

    def forward_features(self, x: Tensor) -> Tensor:
        """Trunk output before global pooling: N x num_features x 7 x 7 at 224 px."""
        self._check_input(x)
        return self._trunk(x, False)[0]

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Global average pool -> dropout -> linear, from :meth:`forward_features` output to logits.

        ``pre_logits=True`` stops before the linear layer: N x num_features.
        """
        x = self.avgpool(x)  # N x 1024 x 1 x 1
        x = torch.flatten(x, 1)  # N x 1024
        x = self.dropout(x)
        if pre_logits:
            return x
        return self.fc(x)  # N x num_classes

    def get_classifier(self) -> nn.Module:
        """The main classifier (the auxiliary heads keep their own, ``aux1.fc2`` and ``aux2.fc2``); an
        ``nn.Identity`` in a features-only model."""
        return self.fc

    @torch.jit.unused  # Python-side surgery: never part of a scripted graph
    def reset_classifier(self, num_classes: int) -> None:
        """Replace the main and auxiliary classifiers for ``num_classes`` outputs (fine-tuning).

        ``num_classes=0`` leaves a features-only model: no classifier and no auxiliary heads (they are not rebuilt
        by a later reset).
        """
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes == 0:
            self.aux1 = self.aux2 = None
            self.aux_logits = False
        for head in (self.aux1, self.aux2):
            if head is not None:
                head.fc2 = nn.Linear(head.fc2.in_features, num_classes)

    def forward(self, x: Tensor, return_aux: bool = False) -> Union[Tensor, Tuple[Tensor, List[Tensor]]]:  # noqa: UP006, UP007
        """Logits, or ``(logits, aux)`` with ``return_aux=True``.

        ``aux`` is a tuple of auxiliary logits in network order (a list under TorchScript).
        """
        self._check_input(x)
        feats, aux = self._trunk(x, return_aux)
        logits = self.forward_head(feats)
        if not return_aux:
            return logits
        if torch.jit.is_scripting():
            return logits, aux
        return logits, tuple(aux)


def _googlenet(num_classes: int, **kwargs) -> GoogLeNet:
    return GoogLeNet(num_classes=num_classes, **kwargs)


# BVLC's Caffe replication (models/bvlc_googlenet/readme.md); ``googlenet import-weights`` loads the file
BVLC_GOOGLENET = PublishedWeights(
    tag="bvlc",
    source="caffe",
    publisher="BVLC",
    ref="bvlc_googlenet.caffemodel",
    url="http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel",
    sha1="405fc5acd08a3bb12de8ee5e23a96bec22f08204",
    top1=68.7,
    top5=88.9,
    evaluation="ILSVRC-2012 val, single centre crop",
)


@register_model(family="googlenet", weights=(BVLC_GOOGLENET,))
def googlenet(num_classes: int = 1000, **kwargs) -> GoogLeNet:
    """GoogLeNet exactly as the paper (Table 1) and its Caffe definition: 5x5 branches, LRN, aux heads."""
    return _googlenet(num_classes, **kwargs)


@register_model(family="googlenet")
def googlenet_naive(num_classes: int = 1000, **kwargs) -> GoogLeNet:
    """GoogLeNet built from the naive Inception module of Figure 2a (no 1x1 reductions)."""
    return _googlenet(num_classes, naive=True, **kwargs)


@register_model(family="googlenet", default_input_size=32)
def googlenet_small(num_classes: int = 1000, **kwargs) -> GoogLeNet:
    """Paper GoogLeNet with a stem for 28-32 px images (3x3/1 conv, no stem pools)."""
    return _googlenet(num_classes, small_input=True, **kwargs)
