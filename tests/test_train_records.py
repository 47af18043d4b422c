"""What a run writes besides its weights, without training: the curves figure, the run logger's records (resumed
too) and the checkpoint's input contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _runs import read_csv
from googlenet.config import TrainConfig, load_recipe
from googlenet.contract import ModelContract
from googlenet.data.datasets import DataSpec
from googlenet.train.curves import plot_curves, step_curve
from googlenet.train.logger import RunLogger
from googlenet.train.provenance import model_kwargs, run_contract

HISTORY = [
    {"epoch": 1, "train_loss": 2.0, "train_acc": 0.2, "val_loss": 2.1, "val_acc": 0.25},
    {"epoch": 2, "train_loss": 1.5, "train_acc": 0.4, "val_loss": 1.7, "val_acc": 0.35, "ema_val_acc": 0.3},
]


def test_curves_draw_every_step_under_the_epochs_on_integer_ticks(tmp_path: Path) -> None:
    steps = [(s, 2.5 - 0.1 * s) for s in range(1, 13)]  # a two-epoch run of 6 steps an epoch
    fig = plot_curves(tmp_path / "curves.png", HISTORY, "t", steps, steps_per_epoch=6)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loss_ax, acc_ax = fig.axes
    per_step, train, val = loss_ax.lines  # drawn in this order: the per-step line lies under the epoch points
    assert list(per_step.get_xdata()) == [s / 6 for s in range(1, 13)]  # fractional epochs, step 6 at epoch 1
    assert list(per_step.get_ydata()) == [loss for _, loss in steps]
    assert per_step.get_alpha() < 1 and per_step.get_marker() == "None"
    assert list(train.get_xdata()) == [1, 2] and list(val.get_ydata()) == [2.1, 1.7]
    assert [line.get_label() for line in acc_ax.lines] == ["train", "val", "val (EMA)"]
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert lo == 0 and 2 <= hi < 3 and ticks == [0, 1, 2]  # whole epochs, not 1.0, 1.2, 1.4...


def test_curves_without_steps_and_long_step_logs_binned(tmp_path: Path) -> None:
    fig = plot_curves(tmp_path / "c.png", HISTORY[:1])  # no step log: the epoch points alone
    assert len(fig.axes[0].lines) == 2 and (tmp_path / "c.png").stat().st_size > 1000
    xs, ys = step_curve([(s, float(s)) for s in range(1, 1001)], steps_per_epoch=10, limit=100)
    assert len(xs) == 100 and (xs[0], ys[0]) == (0.55, 5.5) and (xs[-1], ys[-1]) == (99.55, 995.5)  # bin means


def test_curves_join_the_epochs_evaluated_when_eval_every_skips_some(tmp_path: Path) -> None:
    """``schedule.eval_every=2``: epochs 1 and 3 carry no val figures (absent, blank after a CSV resume, NaN); the
    val line must run through epochs 2 and 4 as one line, not as lone dots between gaps."""
    history = [
        {"epoch": 1, "train_loss": 2.0, "train_acc": 0.2},
        {"epoch": 2, "train_loss": 1.5, "train_acc": 0.4, "val_loss": 1.7, "val_acc": 0.35},
        {"epoch": 3, "train_loss": 1.2, "train_acc": 0.5, "val_loss": "", "val_acc": float("nan")},
        {"epoch": 4, "train_loss": 1.0, "train_acc": 0.6, "val_loss": 1.1, "val_acc": 0.55},
    ]
    fig = plot_curves(tmp_path / "c.png", history)
    (_, val_loss), (train_acc, val_acc) = fig.axes[0].lines, fig.axes[1].lines
    assert list(val_loss.get_xdata()) == [2, 4] and list(val_loss.get_ydata()) == [1.7, 1.1]
    assert list(val_acc.get_xdata()) == [2, 4] and list(val_acc.get_ydata()) == pytest.approx([35.0, 55.0])
    assert list(train_acc.get_xdata()) == [1, 2, 3, 4]


def test_run_logger_writes_records_and_resumes_them(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = TrainConfig(model={"name": "googlenet_small"}, data={"dataset": "cifar10"}, schedule={"epochs": 2})
    row = {**HISTORY[0], "step": 2, "lr": 0.1, "val_top5": 0.9, "val_count": 8, "img_per_s": 10.0, "epoch_s": 1.6,
           "bad_images": 0}  # fmt: skip
    log = RunLogger(tmp_path, cfg, steps_per_epoch=2)
    log.step(1, 1, 0.75, 0.1)
    log.step(2, 1, 0.5, 0.05)
    log.epoch(row)
    log.close()
    assert (tmp_path / "steps.csv").read_text() == "step,epoch,loss,lr\n1,1,0.75,0.1\n2,1,0.5,0.05\n"
    assert read_csv(tmp_path / "metrics.csv")[0]["val_count"] == "8"
    assert (tmp_path / "curves.png").is_file()
    assert load_recipe(str(tmp_path / "config.yaml")) == cfg
    assert capsys.readouterr().out == (
        "epoch 1/2: train loss 2.0000 acc 20.00% | val loss 2.1000 acc 25.00% | 10.0 img/s, 1.6 s\n"
    )
    log = RunLogger(tmp_path, cfg, steps_per_epoch=2, history=[row], resume_step=1)  # resumed from step 1's state
    assert log.steps.points == [(1, 0.75)] and log.history == [row]
    log.close()
    assert (tmp_path / "steps.csv").read_text() == "step,epoch,loss,lr\n1,1,0.75,0.1\n"


def test_checkpoint_contract_of_a_greyscale_run_round_trips() -> None:
    cfg = TrainConfig(model={"name": "googlenet_small"}, data={"dataset": "fashion-mnist", "crop_fraction": 0.875})
    classes = [f"c{i}" for i in range(10)]
    spec = DataSpec("fashion-mnist", [], [], classes, (0.286,), (0.353,), in_chans=1, native_size=28)
    kwargs = model_kwargs(cfg, spec)
    contract = run_contract(cfg, spec, kwargs, eval_size=32, epoch=3, kind="ema")
    assert kwargs == {"in_chans": 1} and contract.model_kwargs == {"in_chans": 1} and contract.in_chans == 1
    assert (contract.input_size, contract.resize_size, contract.image_mode) == (32, 37, "L")
    assert contract.weights == {"source": "trained", "dataset": "fashion-mnist", "epoch": 3, "kind": "ema"}
    meta = json.loads(json.dumps({**contract.to_meta(), "epoch": 3, "metrics": {}, "config": cfg.to_dict()}))
    assert ModelContract.from_meta(meta) == contract
    # a checkpoint written before the contract (weights "ema", no in_chans/crop_fraction) reads the same way
    old = {k: meta[k] for k in ("model", "num_classes", "model_kwargs", "class_names", "mean", "std", "input_size")}
    flat = {"model": "googlenet_small", "dataset": "fashion-mnist", "crop_fraction": 0.875}  # configs were flat then
    old_contract = ModelContract.from_meta({**old, "weights": "ema", "config": flat})
    assert (old_contract.in_chans, old_contract.crop_fraction, old_contract.weights["kind"]) == (1, 0.875, "ema")
