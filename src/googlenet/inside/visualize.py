"""Feature visualisation by optimisation (Olah, Mordvintsev & Schubert, *Feature Visualization*, Distill 2017):
the image that maximises an :class:`~googlenet.inside.objectives.Objective` of one layer.

Each step renders the :class:`~googlenet.inside.params.FourierImage` (Fourier basis, decorrelated colour, sigmoid),
applies the random :func:`~googlenet.inside.transforms.standard` transformations, normalises it as the model's
contract says, runs the network up to the layer and takes an Adam step up the objective (minus an optional
total-variation penalty). The weights never change. The objective's value at every step is kept; the final value
is measured again on the untransformed images, so it compares with :func:`score` of any other image.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..contract import ModelContract
from ..errors import UserError
from ..preprocess import normalizer
from .capture import activation, check_size
from .layers import Layer
from .objectives import Objective, total_variation
from .params import FourierImage
from .transforms import standard

MIN_SIZE = 8  # px: below this the transformations have nothing to work with


@dataclass
class Visualization:
    """Result of :func:`visualize`: ``images`` (N x 3 x S x S, 0..1), each image's objective at each step
    (``history[step][image]``, under the random transformations), and each image's final objective without them."""

    images: Tensor
    history: list[list[float]]
    final: list[float]
    layer: str
    objective: str
    settings: dict[str, float | int | bool] = field(default_factory=dict)


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode with no parameter gradients, restored afterwards."""
    flags = [p.requires_grad for p in model.parameters()]
    was_training = model.training
    model.eval().requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)


def _device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def model_input(images: Tensor, contract: ModelContract) -> Tensor:
    """RGB images in 0..1 -> the network's input (greyscale for a 1-channel model, then the contract's
    normalisation: pixel range, channel order, mean, std)."""
    if contract.in_chans == 1:
        images = images.mean(dim=1, keepdim=True)
    return normalizer(contract).to(images.device)(images)


def score(model: nn.Module, contract: ModelContract, layer: Layer, objective: Objective, images: Tensor) -> Tensor:
    """The objective of ``images`` (N x 3 x H x W RGB, 0..1), one value per image, without gradients."""
    with frozen(model), torch.no_grad():
        acts = activation(model, layer, model_input(images.to(_device(model)), contract))
        objective.check(acts)
        return objective(acts).float().cpu()


def visualize(
    model: nn.Module,
    contract: ModelContract,
    layer: Layer,
    objective: Objective,
    n: int = 1,
    size: int = 128,
    steps: int = 256,
    lr: float = 0.05,
    seed: int = 0,
    tv: float = 0.0,
    robust: bool = True,
    decorrelated: bool = True,
    decay_power: float = 1.0,
) -> Visualization:
    """Optimise ``n`` images of ``size`` px for ``steps`` Adam steps at learning rate ``lr``.

    Args:
        model: any model of the project (its weights are not changed).
        contract: how the model takes its input.
        layer: from :func:`~googlenet.inside.layers.resolve`.
        objective: one value per image of the batch (:func:`~googlenet.inside.objectives.channels` for a grid).
        n: images optimised together.
        size: image side, px (the layer must be reachable: :class:`~googlenet.inside.capture.LayerSizeError`).
        steps: optimisation steps.
        lr: Adam's learning rate on the Fourier coefficients (Lucid: 0.05).
        seed: the initial spectrum and the random transformations.
        tv: weight of the total-variation penalty.
        robust: apply the random jitter, scale and rotation at every step.
        decorrelated: mix colours by ImageNet's covariance square root.
        decay_power: the 1/f scaling of the Fourier basis (0: none).
    """
    if size < MIN_SIZE:
        raise UserError(f"--size must be at least {MIN_SIZE} px, got {size}")
    if steps < 1 or lr <= 0 or n < 1:
        raise UserError(f"steps, lr and n must be positive (got {steps}, {lr}, {n})")
    shape = check_size(model, layer, size, contract.in_chans)
    objective.check(torch.empty((n, *shape[1:]), device="meta"))
    gen = torch.Generator().manual_seed(seed)
    device = _device(model)
    image = FourierImage(n, size, size, decorrelated=decorrelated, decay_power=decay_power, generator=gen).to(device)
    transform = standard(size, gen) if robust else (lambda x: x)
    optimizer = torch.optim.Adam(image.parameters(), lr=lr)
    history: list[list[float]] = []
    with frozen(model), torch.enable_grad():
        for _ in range(steps):
            img = image()
            acts = activation(model, layer, model_input(transform(img), contract))
            value = objective(acts)
            loss = -value.sum() + (tv * total_variation(img).sum() if tv else 0.0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.append(value.detach().float().cpu().tolist())
    with torch.no_grad():
        images = image().detach().cpu()
    final = score(model, contract, layer, objective, images).tolist()
    settings = {"size": size, "steps": steps, "lr": lr, "seed": seed, "tv": tv, "robust": robust}
    return Visualization(images, history, final, layer.name, objective.name, settings)
