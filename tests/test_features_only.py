"""``num_classes=0`` (timm's convention): a model that returns pooled features, built, summarised and saved; the
commands that need class scores refuse it in one line. Every registered model is covered by
``test_models_registry.test_num_classes_0_returns_the_pooled_features``."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from googlenet import create_model
from googlenet.cli import main
from googlenet.factory import default_contract
from googlenet.weights import load_checkpoint, save


def test_paper_googlenet_with_no_classes_has_no_heads():
    model = create_model("googlenet", num_classes=0).eval()
    assert model.aux1 is None and model.aux2 is None and isinstance(model.get_classifier(), torch.nn.Identity)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 1024)
    model.reset_classifier(4)  # a classifier again (the aux heads stay gone)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 96, 96)).shape == (1, 4)


def test_summary_of_a_features_only_model(capsys):
    assert main(["summary", "googlenet", "--num-classes", "0"]) == 0
    assert "total params: 5,973,552" in capsys.readouterr().out  # 6,998,552 less the 1024 x 1000 + 1000 classifier


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_eval_and_predict_refuse_it_in_one_line(command, tmp_path, capsys):
    model = create_model("googlenet_small", num_classes=0, width=0.125)
    ckpt = save(tmp_path / "f.safetensors", model, default_contract("googlenet_small", 0, width=0.125).to_meta())
    assert load_checkpoint(ckpt)[1].num_classes == 0  # it loads: a backbone for other code
    (tmp_path / "val" / "a").mkdir(parents=True)
    Image.new("RGB", (40, 40)).save(tmp_path / "val" / "a" / "x.png")
    argv = ["eval", "--checkpoint", str(ckpt), "--data", str(tmp_path)]
    if command == "predict":
        argv = ["predict", str(tmp_path / "val" / "a" / "x.png"), "--checkpoint", str(ckpt)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "features-only googlenet_small (num_classes 0)" in err
