"""Channel attribution (Olah et al., *The Building Blocks of Interpretability*, Distill 2018): which channels of a
layer make a class's logit what it is, for one image.

For the layer's activations ``A`` (K x H x W) and the logit ``y_c``, channel ``k`` gets

    attr_k = sum_{y,x} A[k, y, x] * d y_c / d A[k, y, x]          (activation x gradient)

When everything after the layer is linear in ``A`` (GoogLeNet's ``inception_5b``: global average pool, dropout
off in eval, the classifier), ``y_c = sum_k attr_k + b_c`` exactly: the attributions split the logit, less the
classifier's bias, among the channels. Through later non-linear layers the sum is the first-order (Taylor) part.
Grad-CAM (:mod:`googlenet.cam`) averages the same gradient over space to weight a heat map; here it is multiplied
with the activation and summed per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..contract import ModelContract
from ..errors import UserError
from .capture import activation_and_output
from .layers import Layer
from .visualize import frozen, model_input


@dataclass
class Attribution:
    """Per-channel attributions ``scores`` (K) of class ``class_index``'s ``logit`` at ``layer``."""

    scores: Tensor
    logit: float
    class_index: int
    layer: str

    def top(self, k: int) -> list[tuple[int, float]]:
        """The ``k`` channels with the largest (most positive) attribution, as ``(channel, attribution)``."""
        order = torch.argsort(self.scores, descending=True)[:k]
        return [(int(i), float(self.scores[i])) for i in order]


def channel_attribution(
    model: nn.Module, contract: ModelContract, layer: Layer, image: Tensor, class_index: int | None = None
) -> Attribution:
    """Attributions of every channel of ``layer`` to class ``class_index`` (default: the top class) for ``image``
    (3 x H x W RGB in 0..1, the size the model takes)."""
    device = next(model.parameters()).device
    x = model_input(image[None].float().to(device), contract)
    with frozen(model), torch.enable_grad():
        x.requires_grad_(True)  # a graph to the layer even though the weights are frozen
        parts, logits = activation_and_output(model, layer, x)
        if logits.dim() != 2:
            raise UserError(f"the model returns {logits.dim()}-D output, not logits: no class to attribute")
        c = int(logits[0].argmax()) if class_index is None else class_index
        if not 0 <= c < logits.shape[1]:
            raise UserError(f"class {c} does not exist: the model has classes 0..{logits.shape[1] - 1}")
        grads = torch.autograd.grad(logits[0, c], parts)
    per_position = torch.cat([(a * g).detach()[0] for a, g in zip(parts, grads, strict=True)])
    scores = per_position if per_position.dim() == 1 else per_position.flatten(1).sum(dim=1)
    return Attribution(scores.cpu(), float(logits[0, c].detach()), c, layer.name)
