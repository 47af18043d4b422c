"""Fine-tuning (``init_weights=PATH|torchvision``, ``freeze``, ``classifier_lr_mult``) and the Caffe input scale of a
training run, on the generated dataset with tiny models, in process."""

from __future__ import annotations

import os
import shutil
import urllib.error
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import models as tvm

from _runs import TINY
from googlenet.config import ConfigError, TrainConfig, load_recipe, parse_overrides
from googlenet.train.loop import Trainer, train
from googlenet.weights import CheckpointError, load_checkpoint, read_checkpoint

CLASSIFIERS = ("fc.", "aux1.fc2.", "aux2.fc2.")  # googlenet_small's main and auxiliary classifiers


def tiny(data: Path, out: Path, *extra: str) -> TrainConfig:
    over = parse_overrides(
        [*TINY, f"data.dataset={data}", f"checkpoint.out={out}", "data.workers=0", "schedule.epochs=1", *extra]
    )
    return TrainConfig.from_dict(over)


@pytest.fixture(scope="module")
def source(synthetic_root, tmp_path_factory) -> Path:
    """A 10-class googlenet_small (with aux heads) trained for 3 steps."""
    out = tmp_path_factory.mktemp("source")
    train(tiny(synthetic_root, out, "schedule.max_steps=3"))
    return out / "last.safetensors"


@pytest.fixture(scope="module")
def two_classes(synthetic_root, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("two")
    for split in ("train", "test"):
        for name in ("cat", "ship"):
            shutil.copytree(synthetic_root / split / name, root / split / name)
    return root


def test_step_0_is_the_source_but_its_classifiers(source, two_classes, tmp_path):
    trainer = Trainer(tiny(two_classes, tmp_path, f"model.init_weights={source}"))
    tensors, _ = read_checkpoint(source)
    state = trainer.parts.module.state_dict()
    assert set(state) == set(tensors)
    for k, v in state.items():
        if k.startswith(CLASSIFIERS):
            assert v.shape[0] == 2 and tensors[k].shape[0] == 10, k
        else:
            assert torch.equal(v, tensors[k]), k
    assert trainer.parts.module.get_classifier().out_features == 2
    assert sorted(trainer.init.reset) == sorted(k for k in state if k.startswith(CLASSIFIERS))


def test_freeze_features_trains_the_classifiers_only_and_records_the_source(
    source, two_classes, synthetic_root, tmp_path
):
    trainer = Trainer(tiny(two_classes, tmp_path, f"model.init_weights={source}", "model.freeze=features"))
    fc0 = trainer.parts.module.fc.weight.detach().clone()
    assert trainer.fit()["steps"] == 2
    tensors, _ = read_checkpoint(source)
    tuned, meta = read_checkpoint(tmp_path / "last.safetensors")
    moved = [k for k in tuned if not k.startswith(CLASSIFIERS) and not torch.equal(tuned[k], tensors[k])]
    assert moved == []  # weights and batch-norm statistics of the features, as loaded
    assert not torch.equal(tuned["fc.weight"], fc0)  # the classifier trained
    init = meta["weights"]["init"]
    assert init["from"] == init["file"] == str(source)
    assert (init["source"], init["dataset"], init["epoch"]) == ("trained", str(synthetic_root), 1)
    assert "fc.weight" in init["reset"] and meta["weights"]["source"] == "trained"
    assert meta["num_classes"] == 2 and meta["class_names"] == ["cat", "ship"]
    model, contract, _ = load_checkpoint(tmp_path / "last.safetensors")
    assert contract.num_classes == 2 and model.get_classifier().out_features == 2


def test_classifier_lr_mult_scales_the_classifiers_rate(source, two_classes, tmp_path):
    trainer = Trainer(
        tiny(two_classes, tmp_path, f"model.init_weights={source}", "optim.classifier_lr_mult=10", "optim.lr=0.05")
    )
    classifier = {id(p) for n, p in trainer.parts.module.named_parameters() if n.startswith(CLASSIFIERS)}
    for group in trainer.parts.optimizer.param_groups:
        is_classifier = {id(p) in classifier for p in group["params"]}
        assert len(is_classifier) == 1
        assert group["initial_lr"] == pytest.approx(0.5 if is_classifier.pop() else 0.05)


def test_resumed_fine_tuning_equals_an_uninterrupted_one(source, two_classes, tmp_path, monkeypatch):
    """Stopped (Ctrl-C) after epoch 1 of 2 and resumed: the same weights as a run straight through. The init weights
    are read on the fresh start only: the resume needs neither the source file (deleted here) nor its record."""
    copy = shutil.copy(source, tmp_path / "source.safetensors")
    init = f"model.init_weights={copy}"
    train(tiny(two_classes, tmp_path / "straight", init, "schedule.epochs=2"))
    run_epoch, calls = Trainer.run_epoch, []

    def ctrl_c_at_epoch_2(self):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_epoch(self)

    monkeypatch.setattr(Trainer, "run_epoch", ctrl_c_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(two_classes, tmp_path / "resumed", init, "schedule.epochs=2"))
    monkeypatch.undo()
    Path(copy).unlink()
    train(tiny(two_classes, tmp_path / "resumed", init, "schedule.epochs=2"), resume=tmp_path / "resumed")
    a, _ = read_checkpoint(tmp_path / "straight" / "last.safetensors")
    b, meta = read_checkpoint(tmp_path / "resumed" / "last.safetensors")
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert meta["weights"]["init"]["from"] == str(copy) and meta["epoch"] == 2


def test_torchvision_init_takes_its_input_scale(two_classes, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    weights = tvm.ResNet18_Weights.DEFAULT
    cache = tmp_path / "torch" / "hub" / "checkpoints" / os.path.basename(urlparse(weights.url).path)
    cache.parent.mkdir(parents=True)
    torch.manual_seed(0)
    tv = tvm.resnet18(weights=None)
    torch.save(tv.state_dict(), cache)
    cfg = tiny(
        two_classes,
        tmp_path / "run",
        "model.name=resnet18",
        "model.kwargs={}",
        "model.init_weights=torchvision",
        "data.input_size=32",
        "schedule.max_steps=1",
    )
    trainer = Trainer(cfg)
    assert torch.equal(trainer.parts.module.conv1.weight, tv.conv1.weight) and trainer.parts.module.fc.out_features == 2
    trainer.fit()
    _, c, meta = load_checkpoint(tmp_path / "run" / "last.safetensors")
    t = weights.transforms()
    assert (list(c.mean), list(c.std), c.channel_order) == (t.mean, t.std, "RGB")
    init = meta["weights"]["init"]
    assert (init["from"], init["url"], init["name"]) == ("torchvision", weights.url, str(weights))


def test_caffe_input_contract_in_training_and_checkpoints(synthetic_root, tmp_path):
    cfg = tiny(synthetic_root, tmp_path, "model.input_contract=caffe", "data.augment=none", "schedule.max_steps=1")
    trainer = Trainer(cfg)
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    x = trainer.data.spec.train.transform(Image.fromarray(rgb))  # 16 px already: resize and crop keep every pixel
    by_hand = rgb[:, :, ::-1].astype(np.float32) - np.array([104.0, 117.0, 123.0], dtype=np.float32)
    np.testing.assert_allclose(x.numpy(), by_hand.transpose(2, 0, 1), rtol=0, atol=1e-3)
    val = trainer.data.spec.val.transform(Image.fromarray(rgb))  # the contract's own preprocessing: exact
    np.testing.assert_array_equal(val.numpy(), by_hand.transpose(2, 0, 1))
    trainer.fit()
    _, c, _ = load_checkpoint(tmp_path / "last.safetensors")
    assert (c.channel_order, c.pixel_range, c.mean, c.std) == ("BGR", 255.0, (104.0, 117.0, 123.0), (1.0, 1.0, 1.0))
    assert load_recipe("imagenet-paper").model.input_contract == "caffe"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"model": {"freeze": "features"}}, "give model.init_weights"),
        ({"model": {"freeze": "all"}}, "'model.freeze' must be one of none, features, got 'all'"),
        ({"model": {"input_contract": "bgr"}}, "'model.input_contract' must be one of auto, default, caffe"),
        ({"optim": {"classifier_lr_mult": 0}}, r"'optim.classifier_lr_mult' must be > 0, got 0.0"),
        ({"model": {"init_weights": " "}}, "'model.init_weights' must be a checkpoint path or 'torchvision'"),
    ],
)
def test_fine_tuning_options_are_checked(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(fields)  # when the config is read: before any data, by --print-config too


def test_init_weights_of_another_model_is_one_line(source, two_classes, tmp_path):
    with pytest.raises(ConfigError, match="holds a googlenet_small, this run trains resnet18"):
        Trainer(tiny(two_classes, tmp_path, f"model.init_weights={source}", "model.name=resnet18", "model.kwargs={}"))


def test_init_weights_of_another_width_names_both_widths(source, two_classes, tmp_path):
    """The source is width 0.125; a run asking width 0.25 once failed on a tensor shape with no hint."""
    with pytest.raises(CheckpointError, match=r"width=0\.125 vs 0\.25.*leave model.kwargs to the init weights"):
        Trainer(tiny(two_classes, tmp_path, f"model.init_weights={source}", "model.kwargs.width=0.25"))
