"""torchvision's published weights by name, through torchvision's own weights API and its download cache.

The network is closed here (and may not be elsewhere), so downloads are made to fail; the cache ($TORCH_HOME,
pointed at a temporary folder) holds state dicts saved from random-init torchvision models under the exact file
names torchvision expects. References are torchvision's: its models, ``weights.transforms()`` and ``weights.meta``.
"""

from __future__ import annotations

import os
import urllib.error
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from torch import nn
from torchvision import models as tvm

from googlenet.cli import main
from googlenet.factory import model_info
from googlenet.weights import PretrainedError, load, load_checkpoint
from googlenet.weights.torchvision import with_torchvision_weights
from test_models_registry import TORCHVISION_TWINS as REGISTRY_TEST_TWINS


@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache in ``tmp_path`` and no network: a download attempt fails as it does offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(url, *args, **kwargs):
        raise urllib.error.URLError("offline (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    return tmp_path / "torch" / "hub" / "checkpoints"


def cache_file(cache: Path, weights: tvm.WeightsEnum, model: nn.Module) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / os.path.basename(urlparse(weights.url).path)
    torch.save(model.state_dict(), path)
    return path


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def test_every_torchvision_twin_of_the_registry_has_weights():
    twins = {name: model_info(name).published("torchvision").ref for name in with_torchvision_weights()}
    assert set(twins) == set(REGISTRY_TEST_TWINS)
    for name, twin in twins.items():
        assert tvm.get_model_weights(twin).DEFAULT.meta["categories"], name


def test_load_takes_the_cached_file_offline(offline_cache):
    torch.manual_seed(0)
    tv = tvm.resnet18(weights=None)
    cache_file(offline_cache, tvm.ResNet18_Weights.DEFAULT, tv)
    model = load("torchvision", "resnet18")[0]
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(logits(model, x), logits(tv, x))
    # another class count: everything but the classifier is the file's, the classifier is fresh
    five = load("torchvision", "resnet18", num_classes=5)[0]
    assert five.fc.out_features == 5 and torch.equal(five.conv1.weight, tv.conv1.weight)
    assert torch.equal(five.layer4[1].bn2.running_var, tv.layer4[1].bn2.running_var)


def test_import_weights_by_name_records_torchvisions_transforms(offline_cache, tmp_path, capsys):
    torch.manual_seed(1)
    tv = tvm.googlenet(weights=None, aux_logits=True, init_weights=False)  # torchvision's file has the aux heads
    with torch.no_grad():
        for m in tv.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    weights = tvm.GoogLeNet_Weights.DEFAULT
    cache_file(offline_cache, weights, tv)
    out = tmp_path / "googlenet_bn-tv.safetensors"
    assert main(["import-weights", "--torchvision", "googlenet_bn", "-o", str(out)]) == 0
    assert "GoogLeNet_Weights.IMAGENET1K_V1" in capsys.readouterr().out
    model, c, _ = load_checkpoint(out)
    t = weights.transforms()
    assert (c.input_size, c.resize_size, c.resize) == (t.crop_size[0], t.resize_size[0], "shorter")
    assert (list(c.mean), list(c.std), c.interpolation) == (t.mean, t.std, t.interpolation.value)
    assert list(c.class_names) == weights.meta["categories"] and c.class_ids[0] == "n01440764"
    assert c.weights == {"source": "torchvision", "name": str(weights), "url": weights.url}
    assert c.model_kwargs == {"transform_input": True}
    twin = tvm.googlenet(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    twin.load_state_dict(tv.state_dict())
    x = torch.randn(1, 3, 96, 96)
    expected = logits(twin, x)
    assert ((logits(model, x) - expected).abs().max() / expected.abs().max()).item() <= 1e-5


def test_missing_file_offline_names_the_url_and_the_cache_path(offline_cache, tmp_path, capsys):
    url = tvm.ResNet50_Weights.DEFAULT.url
    assert main(["import-weights", "--torchvision", "resnet50", "-o", str(tmp_path / "r50.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert url in err and str(offline_cache / os.path.basename(urlparse(url).path)) in err
    assert not (tmp_path / "r50.safetensors").exists()


def test_a_model_without_twin_is_one_line(offline_cache):
    with pytest.raises(PretrainedError, match=r"'googlenet' has no torchvision twin.*googlenet_bn"):
        load("torchvision", "googlenet")
