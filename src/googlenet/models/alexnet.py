"""AlexNet, Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep CNNs", NeurIPS 2012.

Four registered forms:

- ``alexnet``: the paper's network on one device: 96-256-384-384-256 convs, ReLU, local response
  normalisation after the ReLUs of conv1 and conv2, overlapping 3x3/2 max pools after conv1, conv2 and
  conv5, FC 4096-4096 with dropout 0.5, paper initialisation (N(0, 0.01) weights; bias 1 in conv2, conv4,
  conv5 and the hidden FC layers, 0 elsewhere).
- ``alexnet_grouped``: the paper's two-GPU form. conv2, conv4 and conv5 only see the maps on their own GPU,
  i.e. ``groups=2`` (kernel depths 48, 192, 192); conv3 and the FC layers see everything.
- ``alexnet_tv``: torchvision's "one weird trick" variant (64-192-384-256-256, no LRN, no groups).
- ``alexnet_bvlc``: BVLC's Caffe AlexNet exactly as its ``models/bvlc_alexnet/deploy.prototxt`` defines it, the
  network of BVLC's published ``bvlc_alexnet.caffemodel``: 227 px input, conv1 without padding, two groups in
  conv2/4/5, LRN size 5, alpha 1e-4, beta 0.75, k 1 (Caffe's across-channel formula ``x / (1 + alpha/5 * sum
  x^2)^0.75``, which is PyTorch's), ceil-mode max pools (Caffe's rounding; equal to floor at 227 px), BVLC's
  initialisation (N(0, 0.01), fc6/fc7 N(0, 0.005); biases 0.1 in conv2/4/5 and fc6/fc7, else 0).
  ``alexnet`` (paper LRN k 2, alpha 5e-4 per the paper's formula, conv1 padding 2) and ``alexnet_grouped``
  (the same weight shapes) compute something else with these weights.

All four take ``in_chans`` (1 for greyscale: only conv1's input channels change).

Deviations and readings of the paper, all shared with torchvision's layout:

- input 224 px with conv1 padding 2 (the paper's 224 does not divide; Caffe uses 227 px and no padding);
  both give 55x55 after conv1 and 6x6x256 before the classifier.
- dropout follows the ReLU of fc6 and fc7 (Caffe's ``drop6``/``drop7``).
- an adaptive average pool to 6x6 before the classifier (the identity at 224 px) accepts other sizes.

State-dict keys follow torchvision's AlexNet (``features.N``, ``classifier.N``; final layer ``classifier.6``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision import models as tvm

from ..registry import PublishedWeights, register_model, torchvision_weights
from .adapter import adapt

# Krizhevsky LRN: b = a / (k + alpha * sum_n a^2)^beta with k=2, n=5, alpha=1e-4, beta=0.75. PyTorch divides
# alpha by n, so the paper's alpha is 5 * 1e-4 here.
LRN = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}
# BVLC's deploy.prototxt: local_size 5, alpha 1e-4, beta 0.75, k 1 (default); Caffe divides alpha by the size too
BVLC_LRN = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 1.0}


class AlexNet(nn.Module):
    """The paper's AlexNet; ``grouped=True`` is its two-GPU form with grouped convs, ``bvlc=True`` BVLC's Caffe net.

    Args:
        num_classes: classifier outputs (0: the model returns the fc7 features).
        grouped: ``groups=2`` in conv2, conv4 and conv5, as the paper's two-GPU split.
        dropout: dropout after the two hidden FC layers (paper 0.5).
        in_chans: input channels.
        bvlc: BVLC's deploy.prototxt: grouped, conv1 unpadded (227 px input), LRN k 1 alpha 1e-4, ceil-mode pools,
            BVLC's initialisation.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        *,
        grouped: bool = False,
        dropout: float = 0.5,
        in_chans: int = 3,
        bvlc: bool = False,
    ):
        super().__init__()
        g = 2 if grouped or bvlc else 1
        lrn, pad1 = (BVLC_LRN, 0) if bvlc else (LRN, 2)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.bvlc = bvlc
        self.features = nn.Sequential(
            nn.Conv2d(in_chans, 96, kernel_size=11, stride=4, padding=pad1),  # 0: conv1, N x 96 x 55 x 55
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(**lrn),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=bvlc),  # 3: N x 96 x 27 x 27
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=g),  # 4: conv2, N x 256 x 27 x 27
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(**lrn),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=bvlc),  # 7: N x 256 x 13 x 13
            nn.Conv2d(256, 384, kernel_size=3, padding=1),  # 8: conv3, N x 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=g),  # 10: conv4, N x 384 x 13 x 13
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=g),  # 12: conv5, N x 256 x 13 x 13
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=bvlc),  # 14: N x 256 x 6 x 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.num_features = 4096
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),  # 0: fc6
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),  # 3: fc7
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes) if num_classes > 0 else nn.Identity(),  # 6: fc8 (none: features)
        )
        self._init_weights()

    def _init_weights(self) -> None:
        # Section 5: weights N(0, 0.01); biases 1 in conv2, conv4, conv5 and the hidden FC layers, else 0.
        # BVLC (train_val.prototxt): fc6/fc7 weights N(0, 0.005), those biases 0.1 ("1 gave flat loss", its readme).
        ones = {"features.4", "features.10", "features.12", "classifier.0", "classifier.3"}
        bias, fc_std = (0.1, 0.005) if self.bvlc else (1.0, 0.01)
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                hidden_fc = name in ("classifier.0", "classifier.3")
                nn.init.normal_(m.weight, 0.0, fc_std if hidden_fc else 0.01)
                nn.init.constant_(m.bias, bias if name in ones else 0.0)

    def forward_features(self, x: Tensor) -> Tensor:
        """Conv trunk: N x 256 x 6 x 6 at 224 px."""
        return self.features(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool to 6x6, flatten, fc6 -> fc7 -> fc8; ``pre_logits=True`` stops before fc8 (N x num_features)."""
        x = torch.flatten(self.avgpool(x), 1)
        for i, layer in enumerate(self.classifier):  # TorchScript cannot call a slice of a Sequential
            if i < 6 or not pre_logits:  # classifier.6 is fc8
                x = layer(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        """The final linear layer (fc8; an ``nn.Identity`` for ``num_classes=0``)."""
        return self.classifier[6]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace fc8 for ``num_classes`` outputs (fine-tuning; 0: none, the model returns fc7 features)."""
        w = self.classifier[0].weight
        new = (
            nn.Linear(self.num_features, num_classes, device=w.device, dtype=w.dtype) if num_classes else nn.Identity()
        )
        self.classifier[6] = new
        self.num_classes = num_classes


# BVLC's Caffe replication (models/bvlc_alexnet/readme.md); ``googlenet import-weights`` loads the file
BVLC_ALEXNET = PublishedWeights(
    tag="bvlc",
    source="caffe",
    publisher="BVLC",
    ref="bvlc_alexnet.caffemodel",
    url="http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel",
    sha1="9116a64c0fbe4459d18f4bb6b56d647b63920377",
    top1=57.1,
    top5=80.2,
    evaluation="ILSVRC-2012 val, single centre crop",
)


@register_model(family="alexnet", min_input_size=63)
def alexnet(num_classes: int = 1000, **kwargs) -> AlexNet:
    """AlexNet as the paper: 96-256-384-384-256, LRN, overlapping pools, dropout 0.5, on one device."""
    return AlexNet(num_classes, **kwargs)


@register_model(family="alexnet", min_input_size=63)
def alexnet_grouped(num_classes: int = 1000, **kwargs) -> AlexNet:
    """AlexNet's two-GPU form: groups=2 in conv2, conv4 and conv5, as the paper splits them."""
    return AlexNet(num_classes, grouped=True, **kwargs)


@register_model(family="alexnet", default_input_size=227, min_input_size=39, weights=(BVLC_ALEXNET,))
def alexnet_bvlc(num_classes: int = 1000, **kwargs) -> AlexNet:
    """BVLC's Caffe AlexNet (deploy.prototxt: 227 px, unpadded conv1, groups, LRN k 1): loads bvlc_alexnet weights."""
    return AlexNet(num_classes, bvlc=True, **kwargs)


@register_model(family="alexnet", min_input_size=63, weights=(torchvision_weights("alexnet"),))
def alexnet_tv(num_classes: int = 1000, *, in_chans: int = 3, **kwargs) -> nn.Module:
    """torchvision's AlexNet ("one weird trick": 64-192-384-256-256, no LRN, no groups)."""
    return adapt(tvm.alexnet(weights=None, num_classes=num_classes or 1, **kwargs), in_chans, num_classes == 0)
