"""The weights package's API: ``resolve`` locates weights, ``load`` builds the model they fit (strictly, or all but
the classifier for another class count), ``save`` writes a checkpoint with its contract, and published weights are
data on the registry entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from googlenet.contract import ModelContract
from googlenet.factory import create_model, model_info
from googlenet.weights import CheckpointError, PretrainedError, load, load_checkpoint, resolve, save

# googlenet_small's keys whose shape is the class count, listed by hand from the paper's network: the main classifier
# and each auxiliary head's last layer
CLASSIFIER = {"fc.weight", "fc.bias", "aux1.fc2.weight", "aux1.fc2.bias", "aux2.fc2.weight", "aux2.fc2.bias"}


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(5)
    model = create_model("googlenet_small", num_classes=10, width=0.125)
    return save(tmp_path / "best.safetensors", model, ModelContract("googlenet_small", 10, {"width": 0.125}))


def test_resolve_tells_sources_apart(checkpoint: Path, tmp_path: Path) -> None:
    assert resolve(checkpoint).kind == "checkpoint" and resolve(checkpoint.parent).kind == "checkpoint"
    assert resolve("torchvision", "resnet18").kind == "torchvision"  # nothing downloaded
    pth = tmp_path / "r.pth"
    torch.save({"w": torch.zeros(1)}, pth)
    assert resolve(pth, "resnet18").kind == "pth"
    with pytest.raises(CheckpointError, match="name the model"):
        resolve(pth)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        resolve(tmp_path / "absent.safetensors")


def test_bvlc_weights_are_registry_data_and_name_their_file() -> None:
    bvlc = model_info("googlenet").published("bvlc")
    assert (bvlc.top1, bvlc.top5) == (68.7, 88.9)  # BVLC's readme, models/bvlc_googlenet
    with pytest.raises(PretrainedError, match=r"download http://dl\.caffe\.berkeleyvision\.org/bvlc_googlenet"):
        resolve("bvlc", "googlenet")
    assert model_info("googlenet").published("torchvision") is None
    assert model_info("googlenet_bn").published("torchvision").model_kwargs == {"transform_input": True}


def test_load_for_another_class_count_keeps_all_but_the_classifier(checkpoint: Path) -> None:
    original, _, _ = load_checkpoint(checkpoint)
    torch.manual_seed(6)
    model, contract = load(checkpoint, num_classes=3)
    assert contract.num_classes == 3 and set(contract.weights["reset"]) == CLASSIFIER
    mine, theirs = model.state_dict(), original.state_dict()
    for key, value in mine.items():
        if key in CLASSIFIER:
            assert value.shape[0] == 3
        else:
            assert torch.equal(value, theirs[key]), key
    same, _ = load(checkpoint)  # the class count it has: strict, nothing reset
    assert all(torch.equal(v, theirs[k]) for k, v in same.state_dict().items())
    with pytest.raises(CheckpointError, match="holds a googlenet_small, not a googlenet"):
        load(checkpoint, "googlenet")
