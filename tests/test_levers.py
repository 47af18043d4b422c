"""The training levers (``train/levers.py``), each against arithmetic done here or torch's own modules."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

from googlenet.config import ConfigError, TrainConfig
from googlenet.data.transforms import train_transform
from googlenet.errors import UserError
from googlenet.factory import create_model
from googlenet.train.levers import (
    batch_mix,
    build_optimizer,
    hard_labels,
    precise_bn,
    progressive_size,
    resize_batch,
    zero_init_last_bn,
)


def test_adamw_first_step_is_sign_of_gradient_after_decoupled_decay() -> None:
    p = nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    cfg = TrainConfig(optim={"name": "adamw", "lr": 0.01, "momentum": 0.9})
    opt = build_optimizer([{"params": [p], "weight_decay": 0.1}], cfg)
    assert isinstance(opt, torch.optim.AdamW)
    g = torch.tensor([0.5, -4.0, 1e-3], dtype=torch.float64)
    p.grad = g.clone()
    opt.step()
    # Adam's first bias-corrected step is lr * g / (|g| + eps), about lr * sign(g); decay multiplies by 1 - lr * wd
    want = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64) * (1 - 0.01 * 0.1) - 0.01 * g / (g.abs() + 1e-8)
    torch.testing.assert_close(p.detach(), want, rtol=0, atol=1e-12)


def test_lion_first_step_is_lr_times_sign_after_decoupled_decay() -> None:
    p = nn.Parameter(torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64))
    opt = build_optimizer([{"params": [p], "weight_decay": 0.5}], TrainConfig(optim={"name": "lion", "lr": 1e-3}))
    p.grad = torch.tensor([0.5, -4.0, 1e-3], dtype=torch.float64)
    opt.step()
    # Lion (Chen et al. 2023, Alg. 2): c = b1 m + (1 - b1) g with m = 0, so the step is lr * sign(g); decay first
    want = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64) * (1 - 1e-3 * 0.5) - 1e-3 * torch.tensor([1, -1, 1])
    torch.testing.assert_close(p.detach(), want, rtol=0, atol=1e-9)  # timm rounds lr * decay in float32


def test_lamb_first_step_scales_by_the_trust_ratio_where_decay_applies() -> None:
    w0, b0 = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64), torch.tensor([0.5, 0.25], dtype=torch.float64)
    w, b = nn.Parameter(w0.clone()), nn.Parameter(b0.clone())
    groups = [{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}]
    opt = build_optimizer(groups, TrainConfig(optim={"name": "lamb", "lr": 0.01, "momentum": 0.9}))
    gw, gb = torch.tensor([0.5, -4.0, 1e-3], dtype=torch.float64), torch.tensor([2.0, -1e-4], dtype=torch.float64)
    w.grad, b.grad = gw.clone(), gb.clone()
    opt.step()
    # LAMB (You et al. 2020): Adam's bias-corrected first step g / (|g| + eps) plus wd * w, times ||w|| / ||update||
    # on decayed weights; undecayed ones (biases, norms) take the plain step. No clipping of the gradients first
    # (the 1e-3 and 1e-4 entries would show it through eps): optim.grad_clip does that.
    update = gw / (gw.abs() + 1e-6) + 0.1 * w0
    torch.testing.assert_close(w.detach(), w0 - 0.01 * w0.norm() / update.norm() * update, rtol=0, atol=1e-12)
    torch.testing.assert_close(b.detach(), b0 - 0.01 * gb / (gb.abs() + 1e-6), rtol=0, atol=1e-12)


def test_sgd_is_the_default_and_an_unknown_optimizer_is_refused() -> None:
    p = nn.Parameter(torch.zeros(2))
    assert isinstance(build_optimizer([{"params": [p]}], TrainConfig()), torch.optim.SGD)
    with pytest.raises(ConfigError, match=r"'optim.name' must be one of sgd, adamw, lamb, lion, got 'adam'"):
        TrainConfig.from_dict({"optim": {"name": "adam"}})


def test_timm_optimisers_without_timm_are_one_line(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "timm.optim", None)  # as if timm were not installed
    p = nn.Parameter(torch.zeros(2))
    with pytest.raises(ConfigError, match=r"optim.name=lion is timm's optimiser: pip install 'googlenet\[optim\]'"):
        build_optimizer([{"params": [p]}], TrainConfig(optim={"name": "lion"}))


def test_mixup_mixes_images_and_labels_with_the_same_weight() -> None:
    torch.manual_seed(0)
    mix = batch_mix(TrainConfig(data={"mixup": 0.4}), num_classes=5)
    x, y = torch.rand(6, 3, 8, 8), torch.tensor([0, 1, 2, 3, 4, 0])
    xm, ym = mix(x, y)
    # find lambda from the images alone: xm = lam * x + (1 - lam) * x.roll(1)
    a, b = (x - x.roll(1, 0)).flatten(), (xm - x.roll(1, 0)).flatten()
    lam = float(a @ b / (a @ a))
    torch.testing.assert_close(xm, lam * x + (1 - lam) * x.roll(1, 0), rtol=0, atol=1e-5)
    eye = torch.eye(5)
    torch.testing.assert_close(ym, lam * eye[y] + (1 - lam) * eye[y.roll(1, 0)], rtol=0, atol=1e-5)
    assert hard_labels(ym).shape == (6,) and torch.equal(hard_labels(y), y)


def test_no_mix_unless_asked() -> None:
    assert batch_mix(TrainConfig(), 10) is None
    assert batch_mix(TrainConfig(data={"mixup": 0.2, "cutmix": 1.0}), 10) is not None


@pytest.mark.parametrize(("name", "count"), [("resnet18", 8), ("resnet50", 16)])
def test_zero_init_reaches_every_residual_block(name: str, count: int) -> None:
    model = create_model(name, num_classes=10)
    assert zero_init_last_bn(model) == count  # 2-2-2-2 basic blocks; 3-4-6-3 bottlenecks
    model.eval()
    block = model.layer1[1]  # the first block without a projection shortcut
    x = torch.rand(1, block.conv1.in_channels, 8, 8)
    torch.testing.assert_close(block(x), torch.relu(x))  # a zeroed block is relu(identity)
    assert model.bn1.weight.abs().min().item() > 0  # the stem is untouched


def test_zeroing_every_inception_branch_stops_all_learning_so_it_is_refused() -> None:
    model = create_model("googlenet_bn", num_classes=10)
    for m in model.modules():  # what zero_init_bn would do to an Inception network, by hand
        if hasattr(m, "branch4"):
            for branch in (m.branch1, m.branch2, m.branch3, m.branch4):
                nn.init.zeros_([b for b in branch.modules() if isinstance(b, nn.BatchNorm2d)][-1].weight)
    logits = model(torch.rand(4, 3, 64, 64))
    torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2, 3])).backward()
    assert model.conv1.conv.weight.grad.abs().max().item() == 0.0  # no gradient reaches the stem
    with pytest.raises(ConfigError, match="no identity path"):
        zero_init_last_bn(create_model("googlenet_bn", num_classes=10))
    with pytest.raises(ConfigError, match="zero_init_bn"):
        zero_init_last_bn(create_model("vgg11", num_classes=10))
    # refused from the config alone, before any data is read (and allowed for a residual network)
    with pytest.raises(ConfigError, match=r"model.zero_init_bn: googlenet_bn's Inception modules .* no identity path"):
        TrainConfig.from_dict({"model": {"name": "googlenet_bn", "zero_init_bn": True}})
    assert TrainConfig.from_dict({"model": {"name": "resnet18", "zero_init_bn": True}}).model.zero_init_bn


def test_progressive_sizes_by_hand() -> None:
    cfg = TrainConfig(schedule={"epochs": 5}, data={"progressive_min_size": 64})
    assert [progressive_size(cfg, e, 96) for e in range(5)] == [64, 72, 80, 88, 96]
    assert [progressive_size(TrainConfig(schedule={"epochs": 5}), e, 96) for e in range(5)] == [96] * 5
    odd = TrainConfig(schedule={"epochs": 3}, data={"progressive_min_size": 60})
    assert [progressive_size(odd, e, 100) for e in range(3)] == [60, 80, 100]  # the start, 80, then the full size
    odd = TrainConfig(schedule={"epochs": 4}, data={"progressive_min_size": 60})  # 60, 73.3 (to 72), 86.7 (to 88), 100
    assert [progressive_size(odd, e, 100) for e in range(4)] == [60, 72, 88, 100]
    assert progressive_size(TrainConfig(schedule={"epochs": 1}, data={"progressive_min_size": 64}), 0, 96) == 96
    x = torch.rand(2, 3, 96, 96)
    assert resize_batch(x, 96) is x and resize_batch(x, 64).shape == (2, 3, 64, 64)


class _Net(nn.Module):
    """conv-bn-relu, a second bn, and a head whose bn the forward pass never runs (like an auxiliary head)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn1, self.bn2, self.unused = nn.BatchNorm2d(4), nn.BatchNorm2d(4), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn2(torch.relu(self.bn1(self.conv(x))))


def test_precise_bn_is_the_plain_average_of_per_batch_statistics() -> None:
    torch.manual_seed(0)
    net = _Net()
    for bn in (net.bn1, net.bn2, net.unused):
        bn.running_mean.fill_(7.0)
        bn.running_var.fill_(9.0)
    batches = [torch.randn(5, 3, 6, 6) * 2 + 1 for _ in range(3)]
    assert precise_bn(net, iter(batches)) == 3
    # float64 by hand: the mean of the batch means; the mean of the unbiased batch variances
    w = net.conv.weight.detach().double()
    outs = [torch.nn.functional.conv2d(b.double(), w) for b in batches]
    means = torch.stack([o.mean((0, 2, 3)) for o in outs]).mean(0)
    vars_ = torch.stack([o.transpose(0, 1).reshape(4, -1).var(1, unbiased=True) for o in outs]).mean(0)
    torch.testing.assert_close(net.bn1.running_mean.double(), means, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(net.bn1.running_var.double(), vars_, rtol=1e-5, atol=1e-6)
    assert net.unused.running_mean.eq(7.0).all() and net.unused.running_var.eq(9.0).all()  # never ran: kept
    assert net.training  # mode restored


def test_precise_bn_keeps_frozen_norms() -> None:
    net = _Net()
    net.bn1.running_mean.fill_(3.0)
    precise_bn(net, iter([torch.randn(4, 3, 6, 6)]), keep=[net.bn1])
    assert net.bn1.running_mean.eq(3.0).all() and not net.bn2.running_mean.eq(0.0).all()


@pytest.mark.parametrize("policy", ["randaugment", "trivialaugment"])
def test_auto_augment_policies_keep_shape_and_normalise(policy: str) -> None:
    torch.manual_seed(0)
    t = train_transform("cifar", 16, (0.5,) * 3, (0.25,) * 3, auto=policy)
    out = t(torch.randint(0, 256, (3, 20, 20), dtype=torch.uint8))
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32
    assert out.min() >= -2.0 - 1e-6 and out.max() <= 2.0 + 1e-6  # (0..1 - 0.5) / 0.25
    assert any("Augment" in type(op).__name__ for op in t.transforms)


def test_standard_crops_keep_at_least_min_scale_of_the_image() -> None:
    # left half 0, right half 255: a crop of the whole image keeps both halves (a mean near the middle); torchvision's
    # 8 % crops often fall inside one half
    image = torch.zeros(3, 64, 64, dtype=torch.uint8)
    image[:, :, 32:] = 255

    def means(min_scale: float) -> list[float]:
        torch.manual_seed(0)
        t = train_transform("standard", 16, (0.0,) * 3, (1.0,) * 3, min_scale=min_scale)
        return [float(t(image).mean()) for _ in range(40)]

    assert all(0.4 < m < 0.6 for m in means(1.0))
    assert any(m < 0.05 or m > 0.95 for m in means(0.08))


def test_unknown_auto_augment_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="auto_augment"):
        train_transform("cifar", 16, (0.5,) * 3, (0.25,) * 3, auto="autoaugment")


def test_the_trainer_applies_each_lever(synthetic_root, tmp_path) -> None:
    from googlenet.train.loop import Trainer

    cfg = TrainConfig(
        data={
            "dataset": str(synthetic_root),
            "input_size": 16,
            "batch_size": 8,
            "workers": 0,
            "mixup": 0.4,
            "progressive_min_size": 8,
        },
        model={"name": "googlenet_small", "kwargs": {"width": 0.125, "batch_norm": True}},
        schedule={"epochs": 3},
        checkpoint={"out": str(tmp_path)},
        log={"progress": False},
        optim={"name": "adamw", "lr": 1e-3, "precise_bn_batches": 2},
    )
    t = Trainer(cfg)
    assert isinstance(t.parts.optimizer, torch.optim.AdamW) and t.parts.mix is not None
    sizes = []
    t.parts.module.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[-1]))
    x, y, _ = next(iter(t.data.train_loader))
    t.train_step(x, y)  # epoch 0 of 3: 8 px, growing to 16
    assert sizes == [8] and x.shape[-1] == 16
    t.progress.epoch = 2
    t.train_step(x, y)
    assert sizes[-1] == 16
    before = t.parts.module.conv1.bn.running_mean.clone()
    t.recompute_bn()
    assert not torch.equal(before, t.parts.module.conv1.bn.running_mean) and t.parts.module.training


def test_precise_bn_changes_what_evaluation_sees_never_the_training(synthetic_root, tmp_path) -> None:
    from _runs import TINY, read_csv, run_cli

    run = [
        *TINY,
        f"data.dataset={synthetic_root}",
        "schedule.epochs=2",
        "data.train_subset=48",
        "data.workers=0",
        "model.kwargs.dropout=0.5",
    ]
    for name, extra in (("plain", []), ("precise", ["optim.precise_bn_batches=3"])):
        r = run_cli("train", "--recipe", "cifar10", "--out", str(tmp_path / name), *run, *extra)
        assert r.returncode == 0, r.stderr
    plain, precise = (read_csv(tmp_path / n / "steps.csv") for n in ("plain", "precise"))
    assert [row["loss"] for row in plain] == [row["loss"] for row in precise]  # bit for bit, dropout included
    a, b = (read_csv(tmp_path / n / "metrics.csv")[0] for n in ("plain", "precise"))
    assert a["train_loss"] == b["train_loss"] and a["val_loss"] != b["val_loss"]  # only evaluation differs


def test_bad_lever_values_are_one_line_errors_before_training(synthetic_root, tmp_path, capsys) -> None:
    """Each refused in one line by ``googlenet train`` (in this process: a traceback would fail the test), before
    any step; the first also through a real ``googlenet`` process (its exit status and empty stdout)."""
    from _runs import TINY, run_cli
    from googlenet.cli import main

    run = [*TINY, f"data.dataset={synthetic_root}", "schedule.epochs=2", "data.workers=0"]
    cases = {
        "optim.name=adam": "'optim.name' must be one of sgd, adamw, lamb, lion",
        "data.auto_augment=autoaugment": "'data.auto_augment' must be one of none, randaugment, trivialaugment",
        "model.zero_init_bn=true": "no identity path",
        "data.progressive_min_size=2": "data.progressive_min_size=2",
        "data.mixup=-1": "'data.mixup' must be >= 0, got -1.0",
    }
    threads = torch.get_num_threads()  # a run sets precision.threads in this process
    try:
        for override, message in cases.items():
            code = main(["train", "--recipe", "cifar10", "--out", str(tmp_path / "run"), *run, override])
            err = capsys.readouterr().err
            assert code != 0 and message in err and "Traceback" not in err, (override, err)
            assert not (tmp_path / "run" / "steps.csv").exists()
        code = main(["train", "--recipe", "cifar10", "--out", str(tmp_path / "p"), "optim.name=lion",
                     "optim.nesterov=true", "--print-config"])  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 2 and "nesterov" in err and out == ""
    finally:
        torch.set_num_threads(threads)
    r = run_cli("train", "--recipe", "cifar10", "--out", str(tmp_path / "p"), "optim.name=adam", "--print-config")
    assert r.returncode == 2 and "'optim.name'" in r.stderr and r.stdout == "" and "Traceback" not in r.stderr


def test_the_epochs_end_is_timed_apart_from_its_training(synthetic_root, tmp_path, monkeypatch) -> None:
    """``eval_s`` holds precise BN and evaluation; ``epoch_s`` (and so images/s) holds only the training steps."""
    import time

    from googlenet.train import loop
    from googlenet.train.loop import Trainer

    slow = loop.precise_bn

    def precise_bn_taking_a_second(*args, **kwargs) -> None:
        time.sleep(1.0)
        slow(*args, **kwargs)

    monkeypatch.setattr(loop, "precise_bn", precise_bn_taking_a_second)
    cfg = TrainConfig(
        data={"dataset": str(synthetic_root), "input_size": 16, "batch_size": 8, "train_subset": 16, "workers": 0},
        model={"name": "googlenet_small", "kwargs": {"width": 0.125, "batch_norm": True}},
        schedule={"epochs": 1},
        checkpoint={"out": str(tmp_path)},
        log={"progress": False},
        optim={"precise_bn_batches": 1},
    )
    t = Trainer(cfg)
    start = time.perf_counter()
    row = t.fit()["final"]
    total = time.perf_counter() - start
    assert row["eval_s"] >= 1.0 and row["epoch_s"] < total - 1.0
    assert row["epoch_s"] + row["eval_s"] <= total + 0.1


def test_eval_every_skips_the_val_pass_but_never_the_last_epoch(synthetic_root, tmp_path, capsys) -> None:
    from googlenet.train.loop import train
    from googlenet.weights import read_checkpoint

    cfg = TrainConfig(
        data={"dataset": str(synthetic_root), "input_size": 16, "batch_size": 8, "workers": 0, "augment": "cifar"},
        model={"name": "googlenet_small", "kwargs": {"width": 0.125, "batch_norm": True}},
        schedule={"epochs": 3, "eval_every": 2},
        checkpoint={"out": str(tmp_path)},
        log={"progress": False},
        optim={"precise_bn_batches": 1},
    )
    summary = train(cfg)
    with open(tmp_path / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [bool(r["val_acc"]) for r in rows] == [False, True, True]  # epoch 2 (every 2nd) and 3 (the last)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch ")]
    assert "| not evaluated |" in lines[0] and "val loss" in lines[1] and "val loss" in lines[2], lines
    assert summary["final"]["epoch"] == 3 and "val_acc" in summary["final"]
    assert read_checkpoint(tmp_path / "best.safetensors")[1]["epoch"] in (2, 3)
