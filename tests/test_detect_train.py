"""Detection training: the step lowers the loss on generated data, the loop trains and evaluates."""

from __future__ import annotations

import pytest
import torch

from _synthetic_det import SMALL_DETECTOR, make_scenes, one_thread, write_pennfudan
from googlenet import create_model
from googlenet.detect.datasets import PennFudan
from googlenet.detect.loop import train_detector
from googlenet.detect.train import collate, detection_loss, make_optimizer, train_step
from googlenet.errors import UserError

SMALL = SMALL_DETECTOR
_ = one_thread  # autouse


@pytest.fixture(scope="module")
def pennfudan(tmp_path_factory):
    return PennFudan(write_pennfudan(tmp_path_factory.mktemp("pf"), make_scenes(4, size=64, seed=7)))


def _loss(model, images, targets, seed=0):
    torch.manual_seed(seed)  # the RPN and RoI samplers draw at random: the same draw before and after
    model.train()
    with torch.no_grad():
        return float(detection_loss(model, images, targets))


def test_steps_lower_the_loss_on_one_batch(pennfudan):
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL)
    images, targets = collate([pennfudan[i] for i in range(2)])
    before = _loss(model, images, targets)
    opt = make_optimizer(model, lr=0.01)
    for _ in range(12):
        train_step(model, opt, images, targets)
    after = _loss(model, images, targets)
    assert after < 0.7 * before, (before, after)
    assert set(model.last_losses) == {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"}


def test_the_loop_trains_and_reports_coco_metrics(pennfudan):
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL)
    lines = []
    run = train_detector(
        model, pennfudan, epochs=2, batch_size=2, lr=0.01, warmup_steps=1, val_data=pennfudan, log=lines.append
    )
    assert len(run.losses) == 4 and len(run.epochs) == 2
    assert {"ap", "ap50", "ar100"} <= set(run.epochs[-1]) and 0.0 <= run.epochs[-1]["ap50"] <= 1.0
    assert any("AP50" in line for line in lines)


def test_a_non_finite_loss_stops_in_one_line(pennfudan):
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL)
    images, targets = collate([pennfudan[0]])
    with pytest.raises(UserError, match="loss is nan"):
        train_step(model, make_optimizer(model), images, targets, loss_fn=lambda *_: torch.tensor(float("nan")))
