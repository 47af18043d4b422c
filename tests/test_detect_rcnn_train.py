"""R-CNN's fine-tuning windows and loop, and its checkpoint run as a detector by ``googlenet detect predict``."""

from __future__ import annotations

import json

import torch

from _synthetic_det import make_scenes, one_thread, write_pennfudan
from googlenet import create_model
from googlenet.cli import main
from googlenet.detect.datasets import PennFudan
from googlenet.detect.rcnn import RCNN, SelectiveSearch
from googlenet.detect.rcnn_train import RegionCrops, context_pad_for, finetune_region_classifier, save_rcnn
from googlenet.detect.store import load_detector

_ = one_thread  # autouse


def _crops(tmp_path, size=32):
    ds = PennFudan(write_pennfudan(tmp_path / "pf", make_scenes(4, size=64, seed=9, shapes=("rect",))))
    return ds, RegionCrops(ds, SelectiveSearch(max_side=64), size=size)


def test_windows_are_the_proposals_and_the_ground_truth_labelled_by_iou(tmp_path):
    ds, crops = _crops(tmp_path)
    n_gt = sum(len(r.boxes) for r in ds.records)
    assert len(crops) > n_gt and int((crops.labels > 0).sum()) >= n_gt  # every ground-truth box is a positive
    crop, label = crops[0]
    assert crop.shape == (3, 32, 32) and label == 1  # the first window of image 0 is its first ground-truth box
    assert crops.context_pad == context_pad_for(32) == 2  # R-CNN's 16 px at 227, scaled
    drawn = torch.stack([crops.labels[i] for i in crops.sampler(0.25, num_samples=2000)])
    assert 0.2 < float((drawn > 0).float().mean()) < 0.3  # a quarter positives, as R-CNN's batches


def test_finetuning_lowers_the_loss_and_the_checkpoint_runs_as_a_detector(tmp_path, capsys):
    ds, crops = _crops(tmp_path, size=64)
    torch.manual_seed(0)
    kwargs = {"width": 0.125, "aux_logits": False}
    net = create_model("googlenet", num_classes=2, **kwargs)
    idx = list(crops.sampler(num_samples=64, seed=123))  # a fixed batch drawn like the training batches
    x, y = torch.stack([crops[i][0] for i in idx]), crops.labels[idx]

    def loss() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(net.eval()(x), y))

    before = loss()
    finetune_region_classifier(net, crops, steps=20, batch_size=16, lr=0.05)
    assert loss() < 0.95 * before  # 20 steps: mostly the class prior (a quarter positives) is learnt
    path = save_rcnn(tmp_path / "rcnn.safetensors", net, "googlenet", kwargs, ds.class_names, crops)
    model, _ = load_detector(path)
    assert isinstance(model, RCNN) and model.input_size == 64 and model.proposals.max_side == 64
    image = sorted((tmp_path / "pf" / "PNGImages").iterdir())[0]
    assert main(["detect", "predict", str(image), "--checkpoint", str(path), "--json", "--score-threshold", "0"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["boxes"] and set(r["names"]) == {"person"}
