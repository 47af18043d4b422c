"""GoogLeNet-BN: torchvision's GoogLeNet topology built from this project's Inception blocks.

torchvision's ``googlenet`` is a port of TensorFlow weights and differs from the paper (see
:mod:`googlenet.models.googlenet`): batch norm (eps 1e-3) after every conv and no LRN, a 3x3 conv in the
"5x5" branch, a 2x2/2 max pool before 5a, dropout 0.2 and adaptive-pool auxiliary heads. ``googlenet_bn``
is that network with the same state-dict keys, so a torchvision checkpoint loads with ``strict=True`` and
gives the same logits. The forward API is this project's: ``forward(x)`` returns logits in train and eval,
``forward(x, return_aux=True)`` returns ``(logits, (aux_4a, aux_4d))``. torchvision instead returns
``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`` in training mode only: its auxiliary logits come in
reverse network order (4d, then 4a).

``transform_input=True`` (torchvision switches it on when it loads its ImageNet weights) takes images
normalised with the ImageNet mean/std to the [-1, 1] range the ported weights were trained on.
"""

from __future__ import annotations

from ..registry import register_model, torchvision_weights
from .googlenet import GoogLeNet

# The knobs that turn the paper network into torchvision's port.
TORCHVISION_TOPOLOGY = {
    "batch_norm": True,
    "bn_eps": 1e-3,
    "lrn": False,
    "ch5x5_kernel": 3,
    "pool4_kernel": 2,
    "dropout": 0.2,
    "aux_dropout": 0.7,
    "aux_paper_pool": False,
    "init": "torchvision",
}


# torchvision's GoogLeNet weights are ported from TensorFlow and expect [-1, 1] inputs: its loader sets transform_input
@register_model(
    family="googlenet", min_input_size=15, weights=(torchvision_weights("googlenet", transform_input=True),)
)
def googlenet_bn(num_classes: int = 1000, *, transform_input: bool = False, **kwargs) -> GoogLeNet:
    """torchvision's GoogLeNet (batch norm, 3x3 "5x5" branch) from our blocks; loads its checkpoints strictly."""
    options = {**TORCHVISION_TOPOLOGY, **kwargs}
    return GoogLeNet(num_classes=num_classes, transform_input=transform_input, **options)
