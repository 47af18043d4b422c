"""VGG's receptive-field argument, computed: ``n`` stacked 3x3 convs against one ``(2n+1)x(2n+1)`` conv.

Simonyan & Zisserman (2014, Section 2.3): two stacked 3x3 convs (stride 1) see 5x5, three see 7x7, with
``2 * 9 C^2 = 18 C^2`` and ``3 * 9 C^2 = 27 C^2`` weights instead of ``25 C^2`` and ``49 C^2`` for ``C``
input and output channels (biases left out), and with a ReLU after each conv instead of one. Here both
stacks are built as modules and measured by :func:`~googlenet.analysis.profile.profile_model`, so the
figures come from the same code that profiles the real networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .profile import profile_model


@dataclass
class StackVsSingle:
    """``n`` stacked 3x3 convs against one conv with the same receptive field."""

    n: int
    channels: int
    size: int  # feature map side used for MACs
    stack_rf: int
    single_kernel: int
    single_rf: int
    stack_params: int
    single_params: int
    stack_macs: int
    single_macs: int
    stack_relus: int
    single_relus: int

    @property
    def stack_coef(self) -> float:
        """Weights of the stack divided by C^2 (18 for two 3x3, 27 for three)."""
        return self.stack_params / self.channels**2

    @property
    def single_coef(self) -> float:
        """Weights of the single conv divided by C^2 (25 for 5x5, 49 for 7x7)."""
        return self.single_params / self.channels**2


def _stack(n: int, c: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(n):
        layers += [nn.Conv2d(c, c, 3, padding=1, bias=False), nn.ReLU()]
    return nn.Sequential(*layers)


def stacked_vs_single(n: int, channels: int = 64, size: int = 56) -> StackVsSingle:
    """Build and measure ``n`` stacked 3x3 convs and one ``(2n+1)x(2n+1)`` conv, ``channels`` in and out."""
    if n < 1 or channels < 1 or size < 1:
        raise ValueError("n, channels and size must be positive")
    k = 2 * n + 1
    with torch.device("meta"):
        stack = _stack(n, channels)
        single = nn.Sequential(nn.Conv2d(channels, channels, k, padding=n, bias=False), nn.ReLU())
    ps = profile_model(stack, size, channels, memory=False)
    p1 = profile_model(single, size, channels, memory=False)
    return StackVsSingle(
        n=n,
        channels=channels,
        size=size,
        stack_rf=int(ps.final_rf.size[0]),
        single_kernel=k,
        single_rf=int(p1.final_rf.size[0]),
        stack_params=ps.total_params,
        single_params=p1.total_params,
        stack_macs=ps.total_macs,
        single_macs=p1.total_macs,
        stack_relus=sum(isinstance(m, nn.ReLU) for m in stack),
        single_relus=sum(isinstance(m, nn.ReLU) for m in single),
    )
