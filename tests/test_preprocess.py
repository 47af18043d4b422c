"""One preprocessing rule per contract: torchvision's own pipeline, Caffe arithmetic by hand, the image folder and its
round-robin sample."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from googlenet.contract import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, ModelContract
from googlenet.preprocess import Normalize, decode, normalizer, preprocess, views
from googlenet.runtime.images import EvalFolder, round_robin, sample_batch

IMAGENET = ModelContract("googlenet", crop_fraction=0.875)  # 224 px crops of the shorter side resized to 256
CAFFE = ModelContract(
    "googlenet",
    pixel_range=255.0,
    channel_order="BGR",
    mean=CAFFE_MEAN_BGR,
    std=(1.0, 1.0, 1.0),
    resize="warp",
    crop_fraction=0.875,
)


def random_image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("shape", [(300, 400), (400, 300), (256, 256), (180, 200)])
def test_imagenet_contract_is_torchvisions_pipeline(shape: tuple[int, int]) -> None:
    assert IMAGENET.resize_size == 256
    torchvision_pipeline = v2.Compose(
        [
            v2.Resize(256),
            v2.CenterCrop(224),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(IMAGENET_MEAN), list(IMAGENET_STD)),
        ]
    )
    img = random_image(*shape)
    crop = views(IMAGENET)(img)
    assert crop.shape == (1, 3, 224, 224) and crop.dtype == torch.uint8
    ours = normalizer(IMAGENET)(crop)[0]
    assert torch.equal(ours, torchvision_pipeline(img))  # bit for bit
    assert torch.equal(preprocess(img, IMAGENET), ours)
    assert torch.equal(views(IMAGENET, crops=10)(img)[4], crop[0])  # the 10 crops' centre is the one crop


def two_colour_image() -> torch.Tensor:
    """256 x 300 (H x W): columns 0-99 RGB (200, 10, 50), columns 100-299 RGB (30, 240, 90)."""
    img = torch.empty(3, 256, 300, dtype=torch.uint8)
    img[:, :, :100] = torch.tensor([200, 10, 50], dtype=torch.uint8).view(3, 1, 1)
    img[:, :, 100:] = torch.tensor([30, 240, 90], dtype=torch.uint8).view(3, 1, 1)
    return img


def test_caffe_contract_by_hand() -> None:
    assert CAFFE.resize_size == 256 and CAFFE.input_size == 224
    x = normalizer(CAFFE)(views(CAFFE)(two_colour_image()))[0]
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    # BGR on 0..255 minus (104, 117, 123), std 1: left (50-104, 10-117, 200-123), right (90-104, 240-117, 30-123)
    left, right = torch.tensor([-54.0, -107.0, 77.0]), torch.tensor([-14.0, 123.0, -93.0])
    # warp: the width 300 -> 256 puts the edge at 100 * 256 / 300 = 85.3, 69.3 after the centre crop's 16 px
    # (the shorter-side rule would not resize and crop 38 px off the left: the edge at column 62)
    assert torch.equal(x[:, :, :67], left.view(3, 1, 1).expand(3, 224, 67))
    assert torch.equal(x[:, :, 72:], right.view(3, 1, 1).expand(3, 224, 152))
    edge = x[:, 0, 67:72]  # the antialiasing filter blends the two colours here, monotonically
    low, high = torch.minimum(left, right).view(3, 1), torch.maximum(left, right).view(3, 1)
    assert ((edge >= low) & (edge <= high)).all() and (edge.diff(dim=1) * (right - left).sign().view(3, 1) >= 0).all()


def test_caffe_views_warp_before_the_crops() -> None:
    img = random_image(200, 300)
    assert views(CAFFE, crops=10)(img).shape == (10, 3, 224, 224)
    assert len(views(CAFFE, crops=144)(img)) == 48  # warped to a square: each distinct crop once
    assert len(views(IMAGENET, crops=144)(img)) == 144  # a landscape image keeps its three squares
    assert views(CAFFE, resize_to=300)(img).shape == (1, 3, 224, 224)  # --resize: the warp side


def test_normalize_takes_uint8_or_unit_floats() -> None:
    img = random_image(8, 8).unsqueeze(0)
    for contract in (IMAGENET, CAFFE):
        norm = Normalize(contract)
        torch.testing.assert_close(norm(img.float() / 255), norm(img), rtol=0, atol=1e-4)
    by_hand = img.float()[:, [2, 1, 0]] - torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    assert torch.equal(Normalize(CAFFE)(img), by_hand)


def test_greyscale_contract_decodes_one_channel(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30), (200, 100, 50)).save(tmp_path / "x.png")
    grey = ModelContract("googlenet_small", in_chans=1, input_size=16, mean=(0.5,), std=(0.5,))
    img = decode(tmp_path / "x.png", grey)
    assert img.shape == (1, 30, 40)
    assert preprocess(img, grey).shape == (1, 16, 16)


def test_round_robin_spreads_over_classes() -> None:
    targets = [0, 0, 0, 1, 1, 2]
    assert round_robin(targets, 4) == [0, 1, 3, 5]  # one of each class, then the next of each
    assert round_robin(targets, 2) == [0, 3]
    assert round_robin(targets, None) == round_robin(targets, 99) == list(range(6))


def test_eval_folder_reports_unreadable_files(tmp_path: Path) -> None:
    for cls, colour in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (20, 24), colour).save(tmp_path / cls / "1.png")
    (tmp_path / "a" / "2.jpg").write_text("not a picture")
    contract = ModelContract("googlenet", input_size=16)
    folder = EvalFolder(tmp_path, mode=contract.image_mode)
    assert folder.classes == ["a", "b"] and folder.targets == [0, 0, 1]
    x, target, path, error = folder[1]
    assert x is None and target == 0 and path.endswith("2.jpg") and "not an image" in error
    batch = sample_batch(tmp_path, 3, contract, normalized=False)  # the unreadable file is left out
    assert batch.shape == (2, 3, 16, 16) and batch[0, 0].min() == 1.0 and batch[1, 2].min() == 1.0
