"""Figure 2a (naive Inception) against Figure 2b (with 1x1 reductions), module by module.

Two comparisons, because the naive network's inputs grow too (its pooling branch passes every input channel
through, so each module adds its input to its output):

- *same input*: the naive module built on the input the reduced network gives that module
  (``InceptionNaive(C_in, #1x1, #3x3, #5x5)`` vs ``Inception(C_in, ...)``), which isolates what the 1x1
  reductions and the pool projection save in one module;
- *cumulative*: the module as it sits in the all-naive network (``naive=True``), whose input has grown with
  every earlier module: the "blow-up stage by stage" of Section 4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import UserError
from ..factory import create_model
from ..models.inception import Inception, InceptionNaive
from .profile import ModelProfile, profile_model


@dataclass
class ModuleCost:
    """One Inception module: input and output channels, spatial size, parameters and multiply-adds."""

    in_channels: int
    out_channels: int
    size: int  # H (= W) of its input and output
    params: int
    macs: int


@dataclass
class NaiveVsReduced:
    """One row of Table 1 under the three constructions."""

    name: str
    reduced: ModuleCost
    naive_same_input: ModuleCost
    naive_cumulative: ModuleCost

    @property
    def ratio_same_input(self) -> float:
        return self.naive_same_input.macs / self.reduced.macs

    @property
    def ratio_cumulative(self) -> float:
        return self.naive_cumulative.macs / self.reduced.macs


def _module_cost(module: nn.Module, in_channels: int, size: int) -> ModuleCost:
    prof = profile_model(module, size, in_channels, memory=False)
    return ModuleCost(in_channels, module.out_channels, size, prof.total_params, prof.total_macs)


def _inceptions(model: nn.Module, kind: type[nn.Module]) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_children() if isinstance(m, kind)}


def _size(prof: ModelProfile, name: str) -> int:
    return prof.row(name).output_shape[-1]


def naive_vs_reduced(name: str, input_size: int = 224, **kwargs) -> list[NaiveVsReduced]:
    """Compare every Inception module of ``name`` (built with ``kwargs``) with its naive counterparts.

    ``name`` must build a GoogLeNet with Figure 2b modules that accepts ``naive=True`` (``googlenet``,
    ``googlenet_small``, ...). Everything is built on the meta device: counting only.
    """
    with torch.device("meta"):
        reduced = create_model(name, **kwargs)
        blocks = _inceptions(reduced, Inception)
        if not blocks:
            raise UserError(f"{name} has no Inception modules with reductions (Figure 2b) to compare")
        try:
            naive = create_model(name, **{**kwargs, "naive": True})
        except UserError as err:
            raise UserError(f"cannot build the naive twin of {name}: {err}") from None
    naive_blocks = _inceptions(naive, InceptionNaive)
    prof_r = profile_model(reduced, input_size, memory=False)
    prof_n = profile_model(naive, input_size, memory=False)
    out = []
    for mod_name, block in blocks.items():
        cin = block.branch1.conv.in_channels
        size = _size(prof_r, mod_name)
        row = prof_r.row(mod_name)
        with torch.device("meta"):
            same = InceptionNaive(
                cin,
                block.branch1.conv.out_channels,
                block.branch2[1].conv.out_channels,
                block.branch3[1].conv.out_channels,
            )
        nb = naive_blocks[mod_name]
        nrow = prof_n.row(mod_name)
        out.append(
            NaiveVsReduced(
                name=mod_name.removeprefix("inception"),
                reduced=ModuleCost(cin, block.out_channels, size, row.params, row.macs),
                naive_same_input=_module_cost(same, cin, size),
                naive_cumulative=ModuleCost(
                    nb.branch1.conv.in_channels, nb.out_channels, _size(prof_n, mod_name), nrow.params, nrow.macs
                ),
            )
        )
    return out
