"""Small building blocks shared by the model families."""

from __future__ import annotations

import math

from torch import Tensor, nn


def scale_channels(n: int, width: float) -> int:
    """Width multiplier rounding: ``max(1, floor(n * width + 0.5))`` (round half up, never zero)."""
    return max(1, math.floor(n * width + 0.5))


class ConvBlock(nn.Module):
    """Conv2d -> [BatchNorm2d] -> ReLU.

    State-dict keys (``conv.*``, ``bn.*``) are those of torchvision's ``BasicConv2d``, so the batch-norm
    form loads torchvision checkpoints. Without batch norm the conv keeps its bias, as in Caffe.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        *,
        batch_norm: bool = False,
        bn_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=not batch_norm)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps) if batch_norm else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


def caffe_xavier_(weight: Tensor) -> Tensor:
    """Caffe's ``xavier`` filler: U(-a, a) with a = sqrt(3 / fan_in), fan_in = in_channels * kh * kw."""
    fan_in = weight[0].numel()
    bound = math.sqrt(3.0 / fan_in)
    return nn.init.uniform_(weight, -bound, bound)
