"""`googlenet import-weights`: torchvision checkpoints (random weights, saved here) in, identical logits out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from googlenet.cli import main
from googlenet.weights import CheckpointError, convert, load, load_checkpoint


def save_pth(model: nn.Module, path: Path, wrap=None) -> Path:
    state = model.state_dict()
    torch.save(wrap(state) if wrap else state, path)
    return path


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


@pytest.fixture(scope="module")
def resnet18_pth(tmp_path_factory) -> tuple[nn.Module, Path]:
    torch.manual_seed(0)
    tv = tvm.resnet18(weights=None, num_classes=10)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in tv.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return tv.eval(), save_pth(tv, tmp_path_factory.mktemp("tv") / "resnet18.pth")


def test_import_resnet18_gives_identical_logits(resnet18_pth, tmp_path):
    tv, src = resnet18_pth
    out, meta = convert(src, tmp_path / "r18.safetensors", "resnet18")
    assert meta["num_classes"] == 10  # read from fc.weight
    x = torch.randn(2, 3, 64, 64)
    expected = logits(tv, x)
    assert torch.equal(logits(load(out, "resnet18")[0], x), expected)
    model, _, loaded_meta = load_checkpoint(out)
    assert torch.equal(logits(model, x), expected)
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["model"] == loaded_meta["model"] == "resnet18"
    assert sidecar["mean"] == [0.485, 0.456, 0.406] and sidecar["std"] == [0.229, 0.224, 0.225]
    assert sidecar["class_names"] is None  # 10 classes: names unknown
    assert sidecar["crop_fraction"] == 224 / 256 and sidecar["weights"] == {"source": "torchvision", "file": src.name}


def test_cli_import_googlenet_bn_with_imagenet_metadata(tmp_path, capsys):
    torch.manual_seed(0)
    tv = tvm.googlenet(weights=None, aux_logits=True, init_weights=True)
    src = save_pth(tv, tmp_path / "googlenet.pth")
    out = tmp_path / "gbn.safetensors"
    assert main(["import-weights", str(src), "--model", "googlenet_bn", "-o", str(out)]) == 0
    assert "googlenet_bn" in capsys.readouterr().out
    model, _, meta = load_checkpoint(out)
    assert meta["num_classes"] == 1000 and len(meta["class_names"]) == 1000
    assert meta["class_names"][0] == "tench" and meta["class_names"][999] == "toilet tissue"
    # torchvision switches transform_input on for its published GoogLeNet weights; so does the import
    assert meta["model_kwargs"] == {"transform_input": True}
    tv_t = tvm.googlenet(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    tv_t.load_state_dict(tv.state_dict())
    x = torch.randn(1, 3, 96, 96)
    assert (logits(model, x) - logits(tv_t, x)).abs().max() <= 1e-5


def test_training_checkpoint_and_ddp_prefix_are_unwrapped(resnet18_pth, tmp_path):
    tv, _ = resnet18_pth
    src = save_pth(
        tv, tmp_path / "ckpt.pth", wrap=lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}
    )
    out, _ = convert(src, tmp_path / "r18.safetensors", "resnet18")
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(logits(load_checkpoint(out)[0], x), logits(tv, x))


def test_old_densenet_keys_are_renamed(tmp_path):
    torch.manual_seed(0)
    tv = tvm.densenet121(weights=None, num_classes=10)
    # torchvision's published files use "denselayer1.norm.1.weight" for today's "denselayer1.norm1.weight" and,
    # saved before PyTorch 0.4.1, have no batch-norm "num_batches_tracked" counters
    old = {
        k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v
        for k, v in tv.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    assert any(".norm.1." in k for k in old) and any(".conv.2." in k for k in old)
    torch.save(old, tmp_path / "densenet121.pth")
    out, _ = convert(tmp_path / "densenet121.pth", tmp_path / "d.safetensors", "densenet121")
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(logits(load_checkpoint(out)[0], x), logits(tv, x))


def test_wrong_model_names_the_first_missing_key(resnet18_pth, tmp_path):
    _, src = resnet18_pth
    out = tmp_path / "r34.safetensors"
    with pytest.raises(CheckpointError, match=r"missing key 'layer1\.2\.conv1\.weight'"):
        convert(src, out, "resnet34")
    assert not out.exists()


def test_wrong_shape_names_the_key(tmp_path):
    state = tvm.resnet18(weights=None).state_dict()
    state["conv1.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"'conv1\.weight' has shape \(64, 3, 5, 5\)"):
        convert(tmp_path / "bad.pth", tmp_path / "bad.safetensors", "resnet18")


class NotATensor:
    """A pickled object of this class could run code on load; weights_only loading must refuse it."""


def test_pickled_objects_are_refused(tmp_path, capsys):
    torch.save({"model": tvm.alexnet(weights=None).state_dict(), "extra": NotATensor()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match=r"weights_only loading refuses.*NotATensor"):
        convert(tmp_path / "evil.pth", tmp_path / "a.safetensors", "alexnet_tv")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    code = main(["import-weights", str(tmp_path / "junk.pth"), "--model", "alexnet_tv", "-o", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert code == 2 and "not a readable PyTorch checkpoint" in err and len(err.strip().splitlines()) == 1


def test_missing_file_and_unknown_model_are_one_line_errors(tmp_path, capsys):
    assert main(["import-weights", str(tmp_path / "none.pth"), "--model", "resnet18", "-o", str(tmp_path / "x")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    torch.save({}, tmp_path / "empty.pth")
    assert main(["import-weights", str(tmp_path / "empty.pth"), "--model", "resnet19", "-o", str(tmp_path / "x")]) == 2
    assert "Did you mean" in capsys.readouterr().err


def rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (random-weight logits can be tiny, where an absolute bound says nothing)."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max()).item()


@pytest.mark.parametrize("aux", [True, False])
def test_googlenet_bn_with_or_without_aux_heads(aux, tmp_path, capsys):
    # torchvision's googlenet() has aux_logits=False whenever it loads weights; users save it as it is
    torch.manual_seed(1)
    tv = tvm.googlenet(weights=None, aux_logits=aux, init_weights=False, transform_input=True)
    with torch.no_grad():
        for m in tv.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    src = save_pth(tv, tmp_path / "googlenet.pth")
    assert any(k.startswith("aux1.") for k in torch.load(src)) == aux
    out = tmp_path / "gbn.safetensors"
    assert main(["import-weights", str(src), "--model", "googlenet_bn", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    model, _, meta = load_checkpoint(out)
    expected_kwargs = {"transform_input": True} if aux else {"transform_input": True, "aux_logits": False}
    assert meta["model_kwargs"] == expected_kwargs
    assert (model.aux1 is not None) == aux and (model.aux2 is not None) == aux
    x = torch.randn(2, 3, 96, 96)
    expected = logits(tv, x)
    assert expected.abs().max() > 1e-3  # logits of a size where a relative bound means something
    assert rel_diff(logits(model, x), expected) <= 1e-5


def test_explicit_aux_logits_true_stays_strict(tmp_path, capsys):
    src = save_pth(tvm.googlenet(weights=None, aux_logits=False, init_weights=False), tmp_path / "g.pth")
    out = tmp_path / "g.safetensors"
    argv = ["import-weights", str(src), "--model", "googlenet_bn", "-o", str(out), "--set", "aux_logits=true"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "missing key 'aux1." in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
