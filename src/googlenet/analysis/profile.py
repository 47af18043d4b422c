"""Per-layer profile of a model: output shapes, parameters and multiply-adds (MACs).

MACs are counted from each convolution's and linear layer's real output during one forward pass of a
single image: a conv contributes ``out_elements * (in_channels / groups) * kh * kw``, a linear layer
``out_elements * in_features``. Bias additions, pooling, normalisation and activations are not counted,
which is the convention of the paper's Table 1, of torchvision's metadata and of
``torch.utils.flop_counter`` (whose FLOPs are 2 x MACs).

Rows are the model's children, with ``nn.Sequential``/``nn.ModuleList`` containers expanded, in the order
they run.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import torch
from torch import Tensor, nn

from ..errors import InputSizeError
from ..registry import create_model, model_info

CONTAINERS = (nn.Sequential, nn.ModuleList)


@dataclass
class LayerRow:
    """One row of a profile: a module of the trunk (or an auxiliary head)."""

    name: str
    kind: str
    output_shape: tuple[int, ...] | None  # C x H x W, without the batch dimension; None if never run
    params: int
    macs: int
    calls: int = 0


@dataclass
class ModelProfile:
    """Per-layer rows and totals for one input size."""

    input_size: int
    in_chans: int
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    total_macs: int = 0  # everything that ran, auxiliary heads included when they ran
    aux_params: int = 0
    aux_macs: int = 0

    @property
    def main_params(self) -> int:
        """Parameters of the inference network (auxiliary heads excluded)."""
        return self.total_params - self.aux_params

    @property
    def main_macs(self) -> int:
        """Multiply-adds of the inference network (auxiliary heads excluded)."""
        return self.total_macs - self.aux_macs

    def row(self, name: str) -> LayerRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(main_params=self.main_params, main_macs=self.main_macs)
        return d


def _row_modules(model: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    rows: list[tuple[str, nn.Module]] = []
    for name, child in model.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, CONTAINERS):
            rows += _row_modules(child, full + ".")
        else:
            rows.append((full, child))
    return rows


def layer_macs(module: nn.Module, output: Tensor) -> int:
    """Multiply-adds of one conv or linear call that produced ``output`` (per batch); 0 for other layers."""
    if isinstance(module, nn.modules.conv._ConvNd):
        k = math.prod(module.kernel_size)
        return output.numel() * (module.in_channels // module.groups) * k
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def _first_tensor(out) -> Tensor | None:
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def accepts_return_aux(model: nn.Module) -> bool:
    return "return_aux" in inspect.signature(model.forward).parameters


def is_aux_row(name: str) -> bool:
    return name.split(".")[0].startswith("aux")


@torch.no_grad()
def profile_model(model: nn.Module, input_size: int = 224, in_chans: int | None = None) -> ModelProfile:
    """Profile ``model`` on one ``in_chans x input_size x input_size`` image (auxiliary heads included).

    The model is run in eval mode and restored to its previous mode afterwards.
    """
    in_chans = in_chans or getattr(model, "in_chans", 3)
    rows = _row_modules(model)
    stats = {
        name: LayerRow(name, type(m).__name__, None, sum(p.numel() for p in m.parameters()), 0) for name, m in rows
    }
    order: list[str] = []
    handles = []

    def on_row(name: str):
        def hook(_m, _inp, out):
            st = stats[name]
            if st.calls == 0:
                order.append(name)
            st.calls += 1
            t = _first_tensor(out)
            st.output_shape = tuple(t.shape[1:]) if t is not None else None

        return hook

    def on_leaf(name: str):
        def hook(m, _inp, out):
            t = _first_tensor(out)
            if t is not None:
                stats[name].macs += layer_macs(m, t)

        return hook

    for name, m in rows:
        handles.append(m.register_forward_hook(on_row(name)))
        for leaf in m.modules():
            if isinstance(leaf, (nn.modules.conv._ConvNd, nn.Linear)):
                handles.append(leaf.register_forward_hook(on_leaf(name)))
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters(), None)
        x = torch.zeros(1, in_chans, input_size, input_size, device=param.device if param is not None else "cpu")
        if accepts_return_aux(model):
            model(x, return_aux=True)
        else:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    ordered = [stats[n] for n in order] + [stats[n] for n, _ in rows if n not in order]
    prof = ModelProfile(input_size, in_chans, ordered)
    prof.total_params = sum(p.numel() for p in model.parameters())
    prof.total_macs = sum(r.macs for r in ordered)
    prof.aux_params = sum(r.params for r in ordered if is_aux_row(r.name))
    prof.aux_macs = sum(r.macs for r in ordered if is_aux_row(r.name))
    return prof


def _fits(model: nn.Module, size: int) -> bool:
    x = torch.zeros(1, getattr(model, "in_chans", 3), size, size, device="meta")
    try:
        model(x)
    except (RuntimeError, ValueError, IndexError):
        return False
    return True


@lru_cache(maxsize=256)
def _min_size(name: str, kwargs: tuple) -> int:
    with torch.device("meta"):
        model = create_model(name, **dict(kwargs)).eval()
    lo, hi = 1, 2048  # invariant: hi fits (checked), every size below lo does not
    if not _fits(model, hi):
        raise InputSizeError(f"{name} does not run even at {hi} px")
    while lo < hi:
        mid = (lo + hi) // 2
        if _fits(model, mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def min_input_size(name: str, **kwargs) -> int:
    """Smallest square input (px) that ``name`` (built with ``kwargs``) accepts, found by shape propagation.

    Uses the registry's ``min_input_size`` when set; otherwise binary-searches forward passes on the meta
    device (no memory, no arithmetic), assuming larger inputs keep fitting.
    """
    info = model_info(name)
    if info.min_input_size is not None and not kwargs:
        return info.min_input_size
    return _min_size(name, tuple(sorted(kwargs.items())))


def check_input_size(name: str, input_size: int, **kwargs) -> None:
    """Raise :class:`InputSizeError` with the minimum when ``input_size`` is too small for ``name``."""
    if input_size < 1:
        raise InputSizeError(f"input size must be a positive number of pixels, got {input_size}")
    smallest = min_input_size(name, **kwargs)
    if input_size < smallest:
        raise InputSizeError(
            f"input size {input_size} px is too small for {name}: the smallest it accepts is {smallest} px "
            f"(default {model_info(name).default_input_size} px)"
        )
