"""Grad-CAM: hand-computed maps on tiny hand-built networks, the default layer of every registered model, the
overlay's geometry, and ``googlenet predict --cam``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import Tensor, nn

from _eval_kit import make_checkpoint
from googlenet.cam import CamLayerError, GradCam, crop_box, default_layer, overlay, upsample
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.factory import default_contract, list_models, model_info
from googlenet.probe import meta_model, shapes_only_batchnorm

X = torch.tensor([[[[1.0, -2.0], [3.0, -4.0]]]], dtype=torch.float64)  # 1 x 1 x 2 x 2


class Tiny(nn.Module):
    """``features``: a 1x1 conv giving A_0 = x and A_1 = 2x; head: global average pool, then ``fc``."""

    def __init__(self, fc: list[list[float]]) -> None:
        super().__init__()
        self.features = nn.Conv2d(1, 2, 1, bias=False).double()
        self.fc = nn.Linear(2, len(fc), bias=False).double()
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([1.0, 2.0]).view(2, 1, 1, 1))
            self.fc.weight.copy_(torch.tensor(fc))

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, a: Tensor) -> Tensor:
        return self.fc(a.mean(dim=(2, 3)))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


class Squares(Tiny):
    """A head that is not linear in A: y_0 = mean(A_0^2) - mean(A_1), y_1 = 0."""

    def forward_head(self, a: Tensor) -> Tensor:
        y0 = (a[:, 0] ** 2).mean(dim=(1, 2)) - a[:, 1].mean(dim=(1, 2))
        return torch.stack([y0, torch.zeros_like(y0)], dim=1)


TINY_CONTRACT = ModelContract("tiny", 2, input_size=2, in_chans=1, mean=(0.0,), std=(1.0,))


def test_grad_cam_of_a_linear_head_by_hand() -> None:
    # W = [[1, -1], [0.5, 0.25]]; dy_c/dA_k[i,j] = W[c,k] / 4, so alpha_k = W[c,k] / 4 and
    # cam_0 = relu((1 * x - 1 * 2x) / 4) = relu(-x / 4) = [[0, 0.5], [0, 1]]
    # cam_1 = relu((0.5 * x + 0.25 * 2x) / 4) = relu(x / 4) = [[0.25, 0], [0.75, 0]]
    # logits: mean(A_0) = -0.5, mean(A_1) = -1 -> y = (1 * -0.5 - 1 * -1, 0.5 * -0.5 + 0.25 * -1) = (0.5, -0.5)
    cam = GradCam(Tiny([[1.0, -1.0], [0.5, 0.25]]), TINY_CONTRACT)
    assert cam.layer == "features"
    top = cam(X)
    assert top.indices == [0] and top.layer == "features"
    assert top.maps.tolist() == [[[0.0, 0.5], [0.0, 1.0]]]
    assert cam(X, [1]).maps.tolist() == [[[0.25, 0.0], [0.75, 0.0]]]
    # a batch: each image its own class, the same maps as one at a time
    both = cam(torch.cat([X, -X]), [1, 1])
    assert both.maps.tolist() == [[[0.25, 0.0], [0.75, 0.0]], [[0.0, 0.5], [0.0, 1.0]]]


def test_grad_cam_uses_the_gradient_not_the_weights() -> None:
    # y_0 = mean(A_0^2) - mean(A_1): dy/dA_0 = 2 A_0 / 4 = x / 2, so alpha_0 = mean(x) / 2 = -0.25;
    # dy/dA_1 = -1/4, so alpha_1 = -0.25. cam = relu(-0.25 x - 0.25 * 2x) = relu(-0.75 x) = [[0, 1.5], [0, 3]]
    cam = GradCam(Squares([[1.0, 0.0], [0.0, 1.0]]), TINY_CONTRACT)
    assert cam(X, [0]).maps.tolist() == [[[0.0, 1.5], [0.0, 3.0]]]


def test_upsample_scales_by_the_maximum() -> None:
    # bilinear, align_corners=False: the corners of the 4x4 keep the 2x2 corners exactly
    heat = upsample(torch.tensor([[[0.0, 0.5], [0.0, 1.0]]]), (4, 4))[0]
    assert heat.max().item() == 1.0 and heat[0, 0].item() == 0.0
    assert heat[0, 3].item() == 0.5 and heat[3, 3].item() == 1.0 and heat[3, 0].item() == 0.0
    assert upsample(torch.zeros(1, 2, 2), (3, 3)).abs().sum().item() == 0.0  # no evidence: no NaN


def test_hook_records_only_in_the_asking_thread() -> None:
    model = Tiny([[1.0, -1.0], [0.5, 0.25]])
    cam = GradCam(model, TINY_CONTRACT)
    other: list[object] = []
    t = threading.Thread(target=lambda: other.append(model(X)))  # inference elsewhere meanwhile
    t.start()
    t.join()
    assert getattr(cam._local, "output", None) is None
    assert cam(X).maps.tolist() == [[[0.0, 0.5], [0.0, 1.0]]]
    cam.close()
    assert not model.features._forward_hooks


EXPECTED_LAYER = {"googlenet": "inception5b", "resnet": "layer4", "vgg": "features", "alexnet": "features"}


@pytest.mark.parametrize("name", list_models())
def test_default_layer_of_every_registered_model(name: str) -> None:
    """The module forward_features ends in (built on the meta device: shapes only)."""
    model = meta_model(name, num_classes=10)
    with shapes_only_batchnorm(model):
        layer = default_layer(model, default_contract(name, 10))
    family = model_info(name).family
    assert layer == EXPECTED_LAYER.get(family, "features"), family
    assert isinstance(model.get_submodule(layer), nn.Module)


def test_unknown_layer_is_one_line() -> None:
    with pytest.raises(CamLayerError, match="has no layer 'nope'; its top-level layers: features, fc"):
        GradCam(Tiny([[1.0, 0.0]]), TINY_CONTRACT, "nope")


@pytest.mark.parametrize(
    ("size", "resize", "box"),
    [
        ((200, 100), "shorter", (50, 0, 150, 100)),  # shorter side 100 -> the centre 100 x 100
        ((100, 300), "shorter", (0, 100, 100, 200)),
        ((200, 100), "warp", (0, 0, 200, 100)),  # both sides warped: the whole image
    ],
)
def test_crop_box_is_what_the_centre_crop_shows(size: tuple[int, int], resize: str, box: tuple) -> None:
    contract = ModelContract("googlenet", 10, input_size=32, resize=resize)  # crop fraction 1
    assert crop_box(*size, contract) == box


def test_overlay_covers_the_crop_with_the_colour_map() -> None:
    contract = ModelContract("googlenet", 10, input_size=32)
    grey = Image.new("RGB", (200, 100), (128, 128, 128))
    cam_map = torch.tensor([[0.0, 0.0], [0.0, 1.0]])  # evidence in the bottom-right quarter
    out = overlay(grey, cam_map, contract)
    assert out.size == (100, 100)
    cold, hot = out.getpixel((2, 2)), out.getpixel((97, 97))
    assert cold[2] > cold[0] and hot[0] > hot[2]  # jet: blue where 0, red where 1


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("cam") / "best.safetensors", width=0.25, input_size=96)


def test_predict_cam_writes_an_overlay_per_readable_image(checkpoint: Path, tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    Image.new("RGB", (160, 120), (200, 60, 40)).save(a / "photo.jpg")
    Image.new("RGB", (90, 140), (40, 60, 200)).save(b / "photo.jpg")  # the same stem in another folder
    (a / "bad.jpg").write_text("not an image")
    out = tmp_path / "cams"
    rc = main(["predict", "--checkpoint", str(checkpoint), str(a), str(b), "--json", "--cam", str(out)])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1  # bad.jpg
    cams = {Path(r["path"]).parent.name: r.get("cam") for r in records if "top" in r}
    assert sorted(Path(c).name for c in cams.values()) == ["photo-cam-2.png", "photo-cam.png"]
    assert not [r for r in records if "error" in r and "cam" in r]
    contract = ModelContract("googlenet", 10, input_size=96, crop_fraction=0.875)  # the checkpoint's
    for folder, size in (("a", (160, 120)), ("b", (90, 140))):
        left, top, right, bottom = crop_box(*size, contract)
        with Image.open(cams[folder]) as img:
            assert img.format == "PNG" and img.size == (right - left, bottom - top)
    assert sorted(p.name for p in out.iterdir()) == ["photo-cam-2.png", "photo-cam.png"]


def test_predict_cam_table_and_one_line_errors(checkpoint: Path, tmp_path: Path, capsys) -> None:
    photo = tmp_path / "p.png"
    Image.new("RGB", (64, 64), (10, 200, 10)).save(photo)
    assert main(["predict", "--checkpoint", str(checkpoint), str(photo), "--cam", str(tmp_path / "c")]) == 0
    assert f"Grad-CAM (inception5b): {tmp_path / 'c' / 'p-cam.png'}" in capsys.readouterr().out
    assert main(["predict", "--checkpoint", str(checkpoint), str(photo), "--cam", str(photo)]) == 2
    assert capsys.readouterr().err.strip() == f"googlenet predict: error: --cam {photo}: not a folder"
    argv = ["predict", "--checkpoint", str(checkpoint), str(photo), "--cam", str(tmp_path / "c"), "--cam-layer", "x"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("googlenet predict: error: googlenet has no layer 'x'") and "\n" not in err
