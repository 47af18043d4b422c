"""Per-layer profile of a model: output shapes, parameters and multiply-adds (MACs).

MACs are counted from each convolution's and linear layer's real output during one forward pass of a
single image: a conv contributes ``out_elements * (in_channels / groups) * kh * kw``, a linear layer
``out_elements * in_features``. Bias additions, pooling, normalisation and activations are not counted,
which is the convention of the paper's Table 1, of torchvision's metadata and of
``torch.utils.flop_counter`` (whose FLOPs are 2 x MACs).

Rows are the model's children, with ``nn.Sequential``/``nn.ModuleList`` containers expanded, in the order
they run.

The same pass follows every op with :class:`~googlenet.analysis.trace.GraphTracer`, which gives each row's
receptive field (size, jump, start) and depth (longest chain of conv/linear layers from the input). A second
traced pass without the auxiliary heads gives the inference network's depth, final receptive field and peak
forward activation memory; a training-mode pass gives the activations saved for backward
(:mod:`googlenet.analysis.memory`). Every pass works on the meta device, where nothing is computed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from ..probe import accepts_return_aux
from .memory import saved_activation_bytes
from .receptive import ReceptiveField
from .trace import GraphTracer

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
    rf: ReceptiveField | None = None  # receptive field of one unit of the output (None: unknown)
    depth: int = 0  # longest chain of conv/linear layers from the input to this output
    out_bytes: int = 0  # size of the output (one image)
    saved_bytes: int = 0  # activations this row saves for backward in training (one image)


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
    depth: int = 0  # layers with weights on the longest input-to-logits path (the paper's "22 layers deep")
    weighted_layers: int = 0  # conv + linear modules of the inference network
    final_rf: ReceptiveField | None = None  # field of the inference network's output (logits)
    peak_forward_bytes: int = 0  # inference: peak of live activations (input and output included)
    train_saved_bytes: int = 0  # training: activations saved for backward (aux heads included)

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


def is_aux_row(name: str) -> bool:
    return name.split(".")[0].startswith("aux")


WEIGHTED_MODULES = (nn.modules.conv._ConvNd, nn.Linear)


def _run(model: nn.Module, x: Tensor, aux: bool):
    return model(x, return_aux=True) if aux else model(x)


def profile_model(
    model: nn.Module, input_size: int = 224, in_chans: int | None = None, *, memory: bool = True
) -> ModelProfile:
    """Profile ``model`` on one ``in_chans x input_size x input_size`` image (auxiliary heads included).

    The model is run in eval mode and restored to its previous mode afterwards. Runs wherever the model's
    parameters are; build the model on the meta device to count without memory or arithmetic.

    Args:
        model: any module taking an image batch.
        input_size: square input size in px.
        in_chans: input channels (default: ``model.in_chans`` or 3).
        memory: also measure the training activations (a training-mode pass with autograd).
    """
    in_chans = in_chans or getattr(model, "in_chans", 3)  # any nn.Module, torchvision's too
    rows = _row_modules(model)
    with torch.no_grad():
        prof = _forward_profile(model, rows, input_size, in_chans)
    if memory:
        aux = accepts_return_aux(model)
        prof.train_saved_bytes, per_row = saved_activation_bytes(
            model, input_size, in_chans, rows, lambda m, x: _run(m, x, aux)
        )
        for r in prof.rows:
            r.saved_bytes = per_row.get(r.name, 0)
    return prof


def _forward_profile(
    model: nn.Module, rows: list[tuple[str, nn.Module]], input_size: int, in_chans: int
) -> ModelProfile:
    stats = {
        name: LayerRow(name, type(m).__name__, None, sum(p.numel() for p in m.parameters()), 0) for name, m in rows
    }
    order: list[str] = []
    handles = []
    tracer: GraphTracer | None = None

    def on_row(name: str):
        def hook(_m, _inp, out):
            st = stats[name]
            if st.calls == 0:
                order.append(name)
            st.calls += 1
            t = _first_tensor(out)
            st.output_shape = tuple(t.shape[1:]) if t is not None else None
            info = tracer.info_of(t) if tracer is not None and t is not None else None
            if info is not None:
                st.rf, st.depth = info.rf, info.depth
            if t is not None:
                st.out_bytes = t.numel() * t.element_size()

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
            if isinstance(leaf, WEIGHTED_MODULES):
                handles.append(leaf.register_forward_hook(on_leaf(name)))
    was_training = model.training
    model.eval()
    aux = accepts_return_aux(model)
    param = next(model.parameters(), None)
    x = torch.zeros(1, in_chans, input_size, input_size, device=param.device if param is not None else "cpu")
    try:
        with GraphTracer(x) as tracer:
            _run(model, x, aux)
    finally:
        for h in handles:
            h.remove()
    try:
        with GraphTracer(x) as main:  # the inference network alone: no auxiliary heads
            logits = _first_tensor(model(x))
    finally:
        model.train(was_training)
    ordered = [stats[n] for n in order] + [stats[n] for n, _ in rows if n not in order]
    prof = ModelProfile(input_size, in_chans, ordered)
    prof.total_params = sum(p.numel() for p in model.parameters())
    prof.total_macs = sum(r.macs for r in ordered)
    prof.aux_params = sum(r.params for r in ordered if is_aux_row(r.name))
    prof.aux_macs = sum(r.macs for r in ordered if is_aux_row(r.name))
    prof.weighted_layers = sum(
        isinstance(m, WEIGHTED_MODULES) for name, row in rows if not is_aux_row(name) for m in row.modules()
    )
    info = main.info_of(logits) if logits is not None else None
    if info is not None:
        prof.depth, prof.final_rf = info.depth, info.rf
    prof.peak_forward_bytes = main.peak_bytes([logits] if logits is not None else [])
    return prof
