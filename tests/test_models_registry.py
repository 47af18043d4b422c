"""Every registered model through the one interface, parametrised over ``list_models()``.

Adding a model to the registry adds it to these tests. Each model is built once (a module-scoped fixture,
so the 130M-parameter VGGs are built once each) and shared by the tests of its group; the test that
replaces the classifier runs last in the file. The greyscale tests (``in_chans=1``) build their own.
"""

from __future__ import annotations

import math
from functools import cache

import pytest
import torch
from torch import Tensor, nn
from torchvision import models as tvm

from googlenet import create_model, list_models, model_info
from googlenet.probe import accepts_return_aux, meta_model, min_input_size, shapes_only_batchnorm

NAMES = list_models()
NUM_CLASSES = 7
BATCH = 2  # batch norm in training mode needs more than one value per channel at a 1x1 map

# Models that share torchvision's architecture exactly: torchvision builder and options.
TORCHVISION_TWINS = {
    "alexnet_tv": (tvm.alexnet, {}),
    **{n: (getattr(tvm, n), {}) for n in ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn")},
    **{n: (getattr(tvm, n), {}) for n in ("vgg19", "vgg19_bn")},
    **{f"resnet{d}": (getattr(tvm, f"resnet{d}"), {}) for d in (18, 34, 50, 101, 152)},
    **{f"densenet{d}": (getattr(tvm, f"densenet{d}"), {}) for d in (121, 161, 169, 201)},
    "googlenet_bn": (tvm.googlenet, {"aux_logits": True, "init_weights": True}),
}

# TorchScript compiles per module class; scripting all 28 models costs minutes on two cores. These models
# together contain every module class of every registered model (checked by the coverage test below).
SCRIPTED = [
    "alexnet",
    "alexnet_tv",
    "vgg11_lrn_bn",
    "resnet18",
    "resnet50",
    "densenet121",
    "googlenet_bn",
    "googlenet_naive",
]
NOT_SCRIPTABLE: dict[str, str] = {}  # name -> reason; every registered model scripts today


def test_size(name: str) -> int:
    """A small input the model accepts: its minimum, but at least 32 px."""
    return max(min_input_size(name), 32)


test_size.__test__ = False  # a helper, not a test


@pytest.fixture(scope="module", params=NAMES)
def built(request) -> tuple[str, nn.Module]:
    torch.manual_seed(0)
    return request.param, create_model(request.param, num_classes=NUM_CLASSES)


def _input(name: str, seed: int = 1) -> Tensor:
    size = test_size(name)
    return torch.randn(BATCH, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_registry_entry_is_consistent(built):
    name, model = built
    info = model_info(name)
    assert info.family in {"alexnet", "vgg", "resnet", "densenet", "googlenet"}
    assert info.doc, f"{name} needs a one-line docstring (shown by `googlenet models`)"
    assert min_input_size(name) <= info.default_input_size
    assert model.num_classes == NUM_CLASSES
    assert model.in_chans == 3


def test_train_forward_backward_reaches_every_parameter(built):
    name, model = built
    model.train()
    x = _input(name)
    out = model(x)
    assert type(out) is Tensor and out.shape == (BATCH, NUM_CLASSES)
    loss = out.logsumexp(1).sum()
    if accepts_return_aux(model):  # auxiliary heads only run when asked for
        _, aux = model(x, return_aux=True)
        assert len(aux) > 0 and all(a.shape == (BATCH, NUM_CLASSES) for a in aux)
        loss = loss + sum(a.logsumexp(1).sum() for a in aux)
    model.zero_grad(set_to_none=True)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing[:5]}"
    # one pass per tensor (the VGGs hold 130M gradients): a NaN or inf anywhere makes the norm non-finite
    norms = {n: torch.linalg.vector_norm(p.grad).item() for n, p in model.named_parameters()}
    bad = [n for n, v in norms.items() if not math.isfinite(v) or v == 0]
    assert not bad, f"zero or non-finite gradients in {bad[:5]}"
    model.zero_grad(set_to_none=True)


def test_eval_forward_is_head_of_features(built):
    name, model = built
    model.eval()
    x = _input(name, seed=2)
    classifiers: list[nn.Linear] = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: classifiers.append(m))
        for m in model.modules()
        if isinstance(m, nn.Linear)
    ]
    with torch.no_grad():
        logits = model(x)
    for h in hooks:
        h.remove()
    assert type(logits) is Tensor and logits.shape == (BATCH, NUM_CLASSES)
    # num_features is the input width of the layer that produces the logits (the last linear layer called)
    assert classifiers[-1].out_features == NUM_CLASSES
    assert model.get_classifier() is classifiers[-1]
    assert model.num_features == classifiers[-1].in_features
    with torch.no_grad():
        features = model.forward_features(x)
        assert features.dim() == 4 and features.shape[0] == BATCH
        torch.testing.assert_close(model.forward_head(features), logits, rtol=0, atol=1e-6)
        pre_logits = model.forward_head(features, pre_logits=True)
        assert pre_logits.shape == (BATCH, model.num_features)
        torch.testing.assert_close(model.get_classifier()(pre_logits), logits, rtol=0, atol=1e-6)


def test_registered_min_input_size_is_the_real_boundary(built):
    """The registry's minimum fits and one pixel less does not (shape propagation on the meta device)."""
    name, _ = built
    smallest = model_info(name).min_input_size
    if smallest is None:
        return  # probed by analysis.profile.min_input_size itself (tested with the paper model)
    with shapes_only_batchnorm(meta_model(name)) as model:
        model.eval()
        assert model(torch.empty(1, 3, smallest, smallest, device="meta")).shape == (1, 1000)
        if smallest > 1:
            with pytest.raises((RuntimeError, ValueError)):
                model(torch.empty(1, 3, smallest - 1, smallest - 1, device="meta"))


def first_conv_called(model: nn.Module, x: Tensor) -> tuple[nn.Conv2d, Tensor]:
    """``(conv, output)``: the first conv that ``model(x)`` runs (the stem, whatever its name) and the logits."""
    called: list[nn.Conv2d] = []
    hooks = [
        m.register_forward_pre_hook(lambda m, args: None if called else called.append(m))
        for m in model.modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return called[0], out


def test_num_classes_0_returns_the_pooled_features(built):
    """timm's convention: ``num_classes=0`` has no classifier (and no aux heads); forward gives N x num_features, the
    classifying model's ``forward_head(pre_logits=True)`` for the same weights."""
    name, model = built
    features = meta_model(name, num_classes=0)  # shapes only; the classifying model's tensors are assigned below
    own = features.state_dict()
    assert set(own) <= set(model.state_dict()) and not any(k.startswith(("aux1.", "aux2.")) for k in own)
    features.load_state_dict({k: v for k, v in model.state_dict().items() if k in own}, strict=True, assign=True)
    assert features.num_classes == 0 and features.num_features == model.num_features
    assert not accepts_return_aux(features) or features(_input(name), return_aux=True)[1] == ()
    model.eval()
    features.eval()
    x = _input(name, seed=6)
    with torch.no_grad():
        out = features(x)
        assert type(out) is Tensor and out.shape == (BATCH, model.num_features)
        torch.testing.assert_close(out, model.forward_head(model.forward_features(x), pre_logits=True), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_greyscale_forward_backward_at_min_size(name):
    """``in_chans=1`` (e.g. Fashion-MNIST): a 1-channel first conv, logits at the smallest input, a backward pass.

    In eval mode: batch norm over two 1x1 maps in training mode blows gradients up to inf (ResNet-50 at 1-8 px),
    a property of batch statistics, not of the stem; the RGB test above covers training mode at 32 px.
    """
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES, in_chans=1).eval()
    assert model.in_chans == 1
    size = min_input_size(name)
    x = torch.randn(BATCH, 1, size, size, generator=torch.Generator().manual_seed(5))
    stem, out = first_conv_called(model, x)
    assert stem.in_channels == 1 and stem.weight.shape[1] == 1
    assert type(out) is Tensor and out.shape == (BATCH, NUM_CLASSES)
    # backward from the logits to the stem only: no 130M-element parameter gradients for the VGGs
    (grad,) = torch.autograd.grad(out.logsumexp(1).sum(), stem.weight)
    norm = torch.linalg.vector_norm(grad).item()
    assert math.isfinite(norm) and norm > 0


@pytest.mark.parametrize("name", NAMES)
def test_greyscale_changes_only_the_first_conv(name):
    """Same state-dict keys as the RGB model; only the first conv's weight differs, in its input channels."""
    grey, rgb = meta_model(name, in_chans=1).state_dict(), meta_model(name).state_dict()
    assert list(grey) == list(rgb)
    changed = {k: (tuple(rgb[k].shape), tuple(grey[k].shape)) for k in rgb if grey[k].shape != rgb[k].shape}
    assert len(changed) == 1, changed
    (before, after) = next(iter(changed.values()))
    assert before[1] == 3 and after == (before[0], 1, *before[2:])


@pytest.mark.parametrize("built", sorted(TORCHVISION_TWINS), indirect=True)
def test_torchvision_parity(built):
    """Our model's state dict loads strictly into torchvision's builder and gives the same logits."""
    name, model = built
    builder, kwargs = TORCHVISION_TWINS[name]
    with torch.device("meta"):
        twin = builder(weights=None, num_classes=NUM_CLASSES, **kwargs)
    twin.load_state_dict(model.state_dict(), strict=True, assign=True)  # shares our tensors, no copy
    model.eval()
    twin.eval()
    x = _input(name, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), twin(x), rtol=0, atol=1e-5)


@cache
def module_classes(name: str) -> frozenset[type]:
    return frozenset(type(m) for m in meta_model(name).modules())


def test_every_torchvision_class_model_has_a_parity_test():
    tv_classes = (tvm.AlexNet, tvm.VGG, tvm.ResNet, tvm.DenseNet)
    tv_based = {n for n in NAMES if any(issubclass(c, tv_classes) for c in module_classes(n))}
    paper_only = tv_based - set(TORCHVISION_TWINS)
    assert paper_only == {"vgg11_lrn", "vgg11_lrn_bn", "vgg16_c", "vgg16_c_bn"}  # configs torchvision lacks
    assert set(TORCHVISION_TWINS) <= set(NAMES)


@pytest.mark.parametrize("built", SCRIPTED, indirect=True)
def test_torchscript_matches_eager(built):
    name, model = built
    model.eval()
    scripted = torch.jit.script(model)
    x = _input(name, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x), rtol=0, atol=1e-6)


def test_scripted_models_cover_every_module_class():
    covered = frozenset().union(*(module_classes(n) for n in SCRIPTED))
    for name in NAMES:
        if name not in NOT_SCRIPTABLE:
            assert module_classes(name) <= covered, f"{name} has module classes no scripted model has"


def test_reset_classifier(built):
    """Runs last for each model: it replaces the classifier of the shared instance."""
    name, model = built
    model.reset_classifier(3)
    assert model.num_classes == 3
    assert model.get_classifier().out_features == 3
    model.eval()
    with torch.no_grad():
        assert model(_input(name)).shape == (BATCH, 3)
        if accepts_return_aux(model):
            _, aux = model(_input(name), return_aux=True)
            assert all(a.shape == (BATCH, 3) for a in aux)
