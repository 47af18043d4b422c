"""Each learning-rate schedule against its formula, computed by hand here."""

from __future__ import annotations

import math

import pytest
import torch

from googlenet.config import ConfigError, TrainConfig
from googlenet.train.schedules import build_scheduler

LR = 0.1


def lrs(cfg: TrainConfig, steps_per_epoch: int, total: int) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.optim.lr, momentum=0.9)
    sched = build_scheduler(opt, cfg, steps_per_epoch, total)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_paper_schedule_drops_4_percent_every_8_epochs() -> None:
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "paper", "step_gamma": 0.96, "step_epochs": 8})
    got = lrs(cfg, steps_per_epoch=3, total=3 * 30)
    for t, lr in enumerate(got):
        epoch = t // 3
        assert lr == pytest.approx(LR * 0.96 ** (epoch // 8), rel=1e-12)
    assert got[23] == pytest.approx(LR) and got[24] == pytest.approx(LR * 0.96)  # epoch 8 starts at step 24


def test_poly_schedule_is_caffe_quick_solver() -> None:
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "poly", "poly_power": 0.5})
    total = 50
    for t, lr in enumerate(lrs(cfg, 10, total)):
        assert lr == pytest.approx(LR * math.sqrt(1 - t / total), rel=1e-12)


def test_cosine_with_warmup() -> None:
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "cosine", "warmup_epochs": 1, "min_lr_ratio": 0.1})
    spe, total, warm = 4, 40, 4
    for t, lr in enumerate(lrs(cfg, spe, total)):
        if t < warm:
            expected = LR * (t + 1) / warm
        else:
            progress = (t - warm) / (total - warm)
            expected = LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        assert lr == pytest.approx(expected, rel=1e-12)


def test_flat_then_cosine() -> None:
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "flat_cosine", "warmup_epochs": 0.5, "flat_fraction": 0.6})
    spe, total = 4, 40  # warm-up 2 steps, flat to step 24, then a cosine over 16 steps to 0
    for t, lr in enumerate(lrs(cfg, spe, total)):
        if t < 2:
            expected = LR * (t + 1) / 2
        elif t < 24:
            expected = LR
        else:
            expected = LR * 0.5 * (1 + math.cos(math.pi * (t - 24) / 16))
        assert lr == pytest.approx(expected, rel=1e-12)


def test_onecycle_matches_its_two_cosine_phases() -> None:
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "onecycle", "onecycle_pct": 0.3})
    total = 20
    start, low = LR / 25, LR / 25 / 1e4  # torch defaults: div_factor 25, final_div_factor 1e4
    up_end = 0.3 * total - 1
    for t, lr in enumerate(lrs(cfg, 5, total)):
        if t <= up_end:
            a, b, pct = start, LR, t / up_end
        else:
            a, b, pct = LR, low, (t - up_end) / (total - 1 - up_end)
        expected = b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
        assert lr == pytest.approx(expected, rel=1e-9)


def test_constant_with_linear_warmup() -> None:
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "constant", "warmup_epochs": 0.5})
    got = lrs(cfg, 8, 12)
    assert got[:4] == pytest.approx([LR / 4, LR / 2, 3 * LR / 4, LR])
    assert got[4:] == pytest.approx([LR] * 8)


def test_unknown_schedule_is_a_user_error() -> None:
    with pytest.raises(ConfigError, match=r"'schedule.name' must be one of constant, paper, poly, cosine, flat_cosine"):
        TrainConfig.from_dict({"schedule": {"name": "exponential"}})


@pytest.mark.parametrize("schedule", ["constant", "paper", "poly", "cosine", "flat_cosine", "onecycle"])
@pytest.mark.parametrize("total", range(1, 31))
def test_every_schedule_runs_any_number_of_steps(schedule: str, total: int) -> None:
    """4 steps at onecycle_pct 0.25 was a ZeroDivisionError inside OneCycleLR; 1 step past the end raised too."""
    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": schedule, "warmup_epochs": 0.5, "onecycle_pct": 0.25})
    got = lrs(cfg, steps_per_epoch=max(1, total // 2), total=total + 3)  # 3 steps past the end (epochs raised)
    assert all(math.isfinite(v) and 0 <= v <= LR * (1 + 1e-12) for v in got)


@pytest.mark.parametrize("pct", [0.1, 0.25, 0.3, 0.5])
@pytest.mark.parametrize("total", [*range(1, 31), 468])
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_onecycle_equals_torch_onecycle_wherever_torch_is_defined(pct: float, total: int, optimizer: str) -> None:
    """The lr and the momentum (SGD's, or AdamW's beta1) at every step, against torch's OneCycleLR."""
    from torch.optim.lr_scheduler import OneCycleLR

    def momentum(group: dict) -> float:
        return group["betas"][0] if optimizer == "adamw" else group["momentum"]

    def run(make) -> list[tuple[float, float]] | None:
        p = [torch.zeros(1, requires_grad=True)]
        opt = torch.optim.AdamW(p, lr=LR) if optimizer == "adamw" else torch.optim.SGD(p, lr=LR, momentum=0.9)
        try:
            sched = make(opt)
            out = []
            for _ in range(total):
                out.append((opt.param_groups[0]["lr"], momentum(opt.param_groups[0])))
                opt.step()
                sched.step()
        except ZeroDivisionError:
            return None
        return out

    cfg = TrainConfig(optim={"lr": LR}, schedule={"name": "onecycle", "onecycle_pct": pct})
    ours = run(lambda opt: build_scheduler(opt, cfg, total, total))
    ref = run(lambda opt: OneCycleLR(opt, max_lr=LR, total_steps=total, pct_start=pct))
    assert ours is not None
    if ref is not None:  # torch divides by zero when pct * total == 1
        assert [v for pair in ours for v in pair] == pytest.approx([v for pair in ref for v in pair], rel=1e-9)
    else:
        assert ours[0][0] == pytest.approx(LR) and ours[-1][0] == pytest.approx(LR / 25 / 1e4)
