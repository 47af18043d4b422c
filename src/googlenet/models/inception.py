"""Inception modules (Figure 2 of the paper) and the auxiliary classifier head."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import ConvBlock

ConvFactory = Callable[..., nn.Module]


class Inception(nn.Module):
    """Figure 2b, "Inception module with dimension reductions".

    Four parallel branches concatenated on channels, named as torchvision names them so that
    checkpoints interoperate:

    - ``branch1``: 1x1 conv (``#1x1``)
    - ``branch2``: 1x1 reduce (``#3x3 reduce``) -> 3x3 conv (``#3x3``)
    - ``branch3``: 1x1 reduce (``#5x5 reduce``) -> 5x5 conv (``#5x5``); ``ch5x5_kernel=3`` gives
      torchvision's port, which uses a 3x3 here
    - ``branch4``: 3x3/1 max pool -> 1x1 ``pool proj``
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3red: int,
        ch3x3: int,
        ch5x5red: int,
        ch5x5: int,
        pool_proj: int,
        *,
        conv_block: ConvFactory = ConvBlock,
        ch5x5_kernel: int = 5,
    ) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            conv_block(in_channels, ch3x3red, kernel_size=1),
            conv_block(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            conv_block(in_channels, ch5x5red, kernel_size=1),
            conv_block(ch5x5red, ch5x5, kernel_size=ch5x5_kernel, padding=ch5x5_kernel // 2),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            conv_block(in_channels, pool_proj, kernel_size=1),
        )
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        # N x in_channels x H x W -> N x (ch1x1 + ch3x3 + ch5x5 + pool_proj) x H x W
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionNaive(nn.Module):
    """Figure 2a, "Inception module, naive version": no reductions, no pool projection.

    The pooling branch passes all ``in_channels`` through, so the output has
    ``ch1x1 + ch3x3 + ch5x5 + in_channels`` channels and grows at every stage: the computational
    blow-up that motivates Figure 2b.
    """

    def __init__(
        self,
        in_channels: int,
        ch1x1: int,
        ch3x3: int,
        ch5x5: int,
        *,
        conv_block: ConvFactory = ConvBlock,
    ) -> None:
        super().__init__()
        self.branch1 = conv_block(in_channels, ch1x1, kernel_size=1)
        self.branch2 = conv_block(in_channels, ch3x3, kernel_size=3, padding=1)
        self.branch3 = conv_block(in_channels, ch5x5, kernel_size=5, padding=2)
        self.branch4 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x: Tensor) -> Tensor:
        # N x in_channels x H x W -> N x (ch1x1 + ch3x3 + ch5x5 + in_channels) x H x W
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier (Section 5): avg pool 5x5/3 -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 -> linear.

    ``paper_pool=True`` applies the paper's 5x5/3 average pool (14x14 -> 4x4 at 224 px) and then an
    adaptive average pool to 4x4, which is the identity at 224 px and keeps the FC's input size for other
    input sizes. ``paper_pool=False`` is torchvision's adaptive pool alone.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        conv_block: ConvFactory = ConvBlock,
        conv_channels: int = 128,
        hidden: int = 1024,
        dropout: float = 0.7,
        paper_pool: bool = True,
    ) -> None:
        super().__init__()
        self.paper_pool = paper_pool
        self.conv = conv_block(in_channels, conv_channels, kernel_size=1)
        self.fc1 = nn.Linear(conv_channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        # N x C x 14 x 14 (at 224 px)
        if self.paper_pool and x.shape[-2] >= 5 and x.shape[-1] >= 5:
            x = F.avg_pool2d(x, kernel_size=5, stride=3)  # N x C x 4 x 4
        x = F.adaptive_avg_pool2d(x, (4, 4))  # N x C x 4 x 4
        x = self.conv(x)  # N x 128 x 4 x 4
        x = torch.flatten(x, 1)  # N x 2048
        x = F.relu(self.fc1(x), inplace=True)  # N x 1024
        x = self.dropout(x)
        return self.fc2(x)  # N x num_classes
