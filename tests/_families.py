"""One model per family for the runtime and export matrices: the family's smallest (fewest parameters) registered
model at its smallest input, random weights with non-trivial batch-norm statistics."""

from __future__ import annotations

import torch
from torch import nn

from googlenet.contract import ModelContract
from googlenet.factory import create_model, default_contract, list_models, model_info
from googlenet.probe import min_input_size

NUM_CLASSES = 10


def family_of(name: str) -> str:
    """The registry's family, with GoogLeNet's batch-norm form (a different graph: BN to fold) as its own."""
    return "googlenet_bn" if name == "googlenet_bn" else model_info(name).family


def _params(name: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in create_model(name, num_classes=NUM_CLASSES).parameters())


# family -> its smallest model; ``test_representatives_are_the_smallest`` checks this against the registry
REPRESENTATIVES = {
    "alexnet": "alexnet_bvlc",
    "densenet": "densenet121",
    "googlenet": "googlenet_small",
    "googlenet_bn": "googlenet_bn",
    "resnet": "resnet18",
    "vgg": "vgg11",
}


def representatives() -> dict[str, str]:
    """family -> its smallest model (ties: the first name in sorted order), from the registry (some seconds)."""
    best: dict[str, tuple[int, str]] = {}
    for name in list_models():
        key = (_params(name), name)
        best[family_of(name)] = min(best.get(family_of(name), key), key)
    return {family: name for family, (_, name) in sorted(best.items())}


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial batch-norm statistics and affine terms, so that folding them is actually tested."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)
    return model.eval()


def build(name: str, seed: int = 0) -> tuple[nn.Module, ModelContract]:
    """``name`` with random weights in eval mode, and its default contract at its smallest input size."""
    torch.manual_seed(seed)
    model = randomize_bn(create_model(name, num_classes=NUM_CLASSES), seed)
    return model, default_contract(name, NUM_CLASSES).replace(input_size=min_input_size(name))
