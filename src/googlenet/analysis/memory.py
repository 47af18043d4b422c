"""Activation memory of training: what autograd keeps from the forward pass for the backward pass.

Definition used throughout the project ("training activations"): the bytes of the distinct storages that
autograd saves for backward during one training-mode forward pass (``torch.autograd.graph.saved_tensors_hooks``
sees every one), parameters and buffers excluded, auxiliary heads included when the model has them (they run
in training). A storage saved by several ops (a conv's output that batch norm and ReLU also keep) counts once.
It is what must stay in memory until the backward pass starts, on top of weights, gradients and optimizer state.

Measured on a batch of 2 and divided by 2, so that batch norm's training statistics exist even where a map
is 1x1; everything saved scales with the batch except batch norm's per-channel statistics (a few KB).
Runs on any device, the meta device included (no memory, no arithmetic).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

BATCH = 2


def _storage_key(t: Tensor) -> int:
    return t.untyped_storage()._cdata


def saved_activation_bytes(
    model: nn.Module,
    input_size: int,
    in_chans: int,
    rows: list[tuple[str, nn.Module]] | None = None,
    call: Callable[[nn.Module, Tensor], object] | None = None,
) -> tuple[int, dict[str, int]]:
    """Bytes saved for backward per image, in total and per row (the row running when the tensor was saved).

    Args:
        model: any module; it is run in training mode and restored (mode and buffers) afterwards.
        input_size: square input size in px.
        in_chans: input channels.
        rows: ``(name, module)`` pairs to attribute the bytes to; bytes saved outside them go to ``""``.
        call: how to run the model (default ``model(x)``).
    """
    rows = rows or []
    exclude = {_storage_key(t) for t in [*model.parameters(), *model.buffers()]}
    buffers = {k: v.detach().clone() for k, v in model.named_buffers()}
    seen: set[int] = set()
    per_row: dict[str, int] = {}
    stack: list[str] = []

    def pack(t: Tensor) -> Tensor:
        key = _storage_key(t)
        if key not in exclude and key not in seen:
            seen.add(key)
            name = stack[-1] if stack else ""
            per_row[name] = per_row.get(name, 0) + t.untyped_storage().nbytes()
        return t

    def enter(name: str):
        def hook(_m, _inp) -> None:
            stack.append(name)

        return hook

    def leave(_m, _inp, _out) -> None:  # returns None: a hook's return value would replace the output
        stack.pop()

    handles = []
    for name, m in rows:
        handles.append(m.register_forward_pre_hook(enter(name)))
        handles.append(m.register_forward_hook(leave))
    was_training = model.training
    param = next(model.parameters(), None)
    x = torch.zeros(BATCH, in_chans, input_size, input_size, device=param.device if param is not None else "cpu")
    model.train()
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = (call or (lambda m, inp: m(inp)))(model, x)
        del out
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        with torch.no_grad():
            for k, v in model.named_buffers():
                v.copy_(buffers[k])
    per_image = {k: v // BATCH for k, v in per_row.items()}
    return sum(per_row.values()) // BATCH, per_image
