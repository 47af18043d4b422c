"""Datasets, augmentations and the resumable loader on real files, including broken ones."""

from __future__ import annotations

import functools
import gzip
import operator
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, v2

from googlenet.contract import ModelContract
from googlenet.data.datasets import (
    DatasetError,
    ImageFolder,
    build_data,
    load_fashion_mnist,
    read_idx,
)
from googlenet.data.decode import ImageDecodeError
from googlenet.data.loader import ResumableSampler, build_loader, collate_skip_bad, loader_throughput
from googlenet.data.transforms import (
    PAPER_INTERPOLATIONS,
    BatchAugment,
    paper_crop,
    train_transform,
)
from googlenet.preprocess import CentreCrop

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def make_folder(src: Path, dst: Path, per_class: int = 3, classes: int = 2, splits=("train", "val")) -> Path:
    """A small image folder copied from another one (the generated dataset, or real CIFAR-10 JPEGs)."""
    for split in splits:
        for c in sorted(p.name for p in (src / "train").iterdir())[:classes]:
            (dst / split / c).mkdir(parents=True)
            for f in sorted((src / "train" / c).iterdir())[:per_class]:
                shutil.copy(f, dst / split / c / f.name)
    return dst


def test_paper_crop_parameters() -> None:
    choice = paper_crop(32)
    assert choice.p == pytest.approx([0.25] * 4)
    crops = choice.transforms
    assert {c.interpolation for c in crops} == {
        InterpolationMode.BILINEAR, InterpolationMode.BOX, InterpolationMode.NEAREST, InterpolationMode.BICUBIC
    }  # fmt: skip
    assert set(PAPER_INTERPOLATIONS) == {c.interpolation for c in crops}
    img = torch.zeros(3, 200, 300, dtype=torch.uint8)
    torch.manual_seed(0)
    areas, ratios = [], []
    for crop in crops:
        assert crop.scale == (0.08, 1.0)
        assert crop.ratio == pytest.approx((3 / 4, 4 / 3))
        for _ in range(300):
            p = crop.make_params([img])
            areas.append(p["height"] * p["width"] / (200 * 300))
            ratios.append(p["width"] / p["height"])
    assert min(areas) >= 0.08 * 0.97 and max(areas) <= 1.0  # integer rounding of the sides
    assert min(areas) < 0.15 and max(areas) > 0.7  # the whole range is used
    assert min(ratios) >= 0.75 * 0.95 and max(ratios) <= 4 / 3 / 0.95


def test_paper_crop_draws_each_interpolation_equally_often(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[InterpolationMode] = []
    original = v2.RandomResizedCrop.transform

    def spy(self, inpt, params):  # type: ignore[no-untyped-def]
        used.append(self.interpolation)
        return original(self, inpt, params)

    monkeypatch.setattr(v2.RandomResizedCrop, "transform", spy)
    t = train_transform("paper", 16, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    torch.manual_seed(1)
    img = Image.new("RGB", (40, 30), (120, 60, 30))
    for _ in range(800):
        out = t(img)
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32
    counts = [used.count(m) for m in PAPER_INTERPOLATIONS]
    assert sum(counts) == 800
    assert all(150 <= c <= 250 for c in counts), counts  # 200 expected each; 5 sigma is about 61


def test_validation_transform_resizes_crops_and_normalises() -> None:
    img = Image.new("RGB", (64, 48), (255, 0, 51))
    contract = ModelContract("googlenet", input_size=32, mean=(0.5,) * 3, std=(0.5, 0.25, 0.2), crop_fraction=0.875)
    out = CentreCrop(contract)(img)
    assert out.shape == (3, 32, 32)
    expected = torch.tensor([(1 - 0.5) / 0.5, (0 - 0.5) / 0.25, (0.2 - 0.5) / 0.2])
    assert torch.allclose(out.mean(dim=(1, 2)), expected, atol=1e-5)


def test_batch_cifar_augment_is_a_padded_crop_or_its_mirror() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8)
    aug = BatchAugment("cifar", 8, mean=(0.0,), std=(1.0,), padding=2)
    out = aug(images, seed=123)
    assert torch.equal(out, aug(images, seed=123))  # same seed, same batch
    padded = torch.nn.functional.pad(images.double() / 255, (2, 2, 2, 2))
    for i in range(16):
        candidates = [
            view
            for dy in range(5)
            for dx in range(5)
            for view in (padded[i, :, dy : dy + 8, dx : dx + 8], padded[i, :, dy : dy + 8, dx : dx + 8].flip(-1))
        ]
        assert any(torch.allclose(out[i].double(), c, atol=1e-6) for c in candidates)


def test_sampler_shards_cover_each_sample_once_and_restart_mid_epoch() -> None:
    n = 23
    evals = [ResumableSampler(n, shuffle=False, rank=r, world=3, with_seeds=False) for r in range(3)]
    seen = sorted(i for s in evals for i in s)
    assert seen == list(range(n))  # no padding, no duplicates
    trains = [ResumableSampler(n, seed=5, rank=r, world=3) for r in range(3)]
    shards = [[k[0] for k in s] for s in trains]
    assert [len(s) for s in shards] == [7, 7, 7]  # equal steps on every rank
    assert len(set(functools.reduce(operator.iadd, shards, []))) == 21
    full = list(ResumableSampler(n, seed=5))
    part = ResumableSampler(n, seed=5)
    part.set_epoch(0, start=10)
    assert list(part) == full[10:]
    part.set_epoch(1)
    assert [k[0] for k in part] != [k[0] for k in full]  # a new order each epoch
    assert sorted(k[0] for k in part) == list(range(n))


def test_seeded_samples_do_not_touch_the_global_rng(synthetic_root: Path) -> None:
    ds = ImageFolder(synthetic_root / "test", transform=train_transform("paper", 24, (0.5,) * 3, (0.25,) * 3))
    ds = ds.subset(range(3))
    torch.manual_seed(7)
    before = torch.get_rng_state()
    a, _ = ds[(1, 99)]
    assert torch.equal(torch.get_rng_state(), before)
    b, _ = ds[(1, 99)]
    c, _ = ds[(1, 100)]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_broken_files_are_skipped_and_counted(synthetic_root: Path, tmp_path: Path) -> None:
    root = make_folder(synthetic_root, tmp_path / "data", per_class=4)
    cls = root / "train" / sorted(p.name for p in (root / "train").iterdir())[0]
    good = next(cls.iterdir()).read_bytes()
    (cls / "empty.jpg").write_bytes(b"")
    (cls / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (cls / "garbage.png").write_bytes(b"this is not an image at all" * 10)
    contract = ModelContract("googlenet", input_size=16, mean=(0.5,) * 3, std=(0.25,) * 3)
    ds = ImageFolder(root / "train", transform=CentreCrop(contract))
    assert len(ds) == 11
    loader = build_loader(ds, 4, ResumableSampler(len(ds), shuffle=False, with_seeds=False), workers=0, train=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning per file out of the workers any more
        batches = list(loader)
    reasons = sorted(r for _, _, bad in batches for r in bad)
    assert sum(len(x) for x, _, _ in batches) == 8
    assert len(reasons) == 3 and all("\n" not in r for r in reasons)
    assert "empty.jpg: empty file" in reasons[0] and "garbage.png: not an image" in reasons[1]
    assert "truncated.jpg: corrupt or truncated" in reasons[2]
    strict = ImageFolder(root / "train", strict=True)
    bad_index = next(i for i, (p, _) in enumerate(strict.samples) if p.endswith("empty.jpg"))
    with pytest.raises(ImageDecodeError, match="empty file"):
        strict[bad_index]


def test_collate_of_an_all_bad_batch() -> None:
    from googlenet.data.datasets import Unreadable

    x, y, bad = collate_skip_bad([Unreadable("a.jpg: empty file"), Unreadable("b.jpg: empty file")])
    assert len(x) == 0 and len(y) == 0 and bad == ["a.jpg: empty file", "b.jpg: empty file"]


def test_missing_or_empty_split_is_a_clear_error(synthetic_root: Path, tmp_path: Path) -> None:
    only_train = make_folder(synthetic_root, tmp_path / "a", splits=("train",))
    with pytest.raises(DatasetError, match="no val/ or test/ split"):
        build_data(str(only_train))
    empty_val = make_folder(synthetic_root, tmp_path / "b", splits=("train",))
    (empty_val / "val" / "airplane").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images in"):
        build_data(str(empty_val))
    with pytest.raises(DatasetError, match="unknown dataset"):
        build_data(str(tmp_path / "nowhere"))


def test_cifar10_folders_and_stats(cifar10_root: Path) -> None:
    spec = build_data("cifar10")
    assert len(spec.train) == 50_000 and len(spec.val) == 10_000  # the val split is CIFAR's test/
    assert spec.classes[:3] == ["airplane", "automobile", "bird"]
    assert spec.mean == pytest.approx((125.3 / 255, 122.9 / 255, 113.9 / 255), abs=2e-3)  # data README figures


@pytest.mark.skipif(not FMNIST.is_dir(), reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_idx_files(tmp_path: Path) -> None:
    test = load_fashion_mnist("test")
    assert test.images.shape == (10_000, 1, 28, 28) and test.images.dtype == torch.uint8
    assert torch.bincount(test.targets_t).tolist() == [1000] * 10  # the published split is balanced
    raw = gzip.decompress((FMNIST / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert test.targets[:5] == list(raw[8:13])  # labels start after the 8-byte IDX header
    broken = tmp_path / "t10k-images-idx3-ubyte.gz"
    broken.write_bytes(gzip.compress(gzip.decompress((FMNIST / broken.name).read_bytes())[:5000]))
    with pytest.raises(DatasetError, match="truncated IDX"):
        read_idx(broken)


def test_loader_throughput_is_reported(synthetic_root: Path) -> None:
    ds = ImageFolder(synthetic_root / "train", transform=train_transform("cifar", 32, (0.5,) * 3, (0.25,) * 3))
    ds = ds.subset(range(96))
    loader = build_loader(ds, 16, ResumableSampler(len(ds)), workers=1)
    assert loader_throughput(loader, 4) > 0


def test_explicit_missing_data_path_is_an_error_not_a_fallback(tmp_path):
    from googlenet.data.sources import DataNotFoundError, locate

    with pytest.raises(DataNotFoundError, match="no such file or folder"):
        locate("cifar10", data=tmp_path / "nowhere")


def test_bad_archive_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tarfile

    from googlenet.data.sources import DataNotFoundError, extract_once

    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))
    junk = tmp_path / "cifar10-jpg.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really gzip" * 10)
    with pytest.raises(DataNotFoundError, match="not a readable tar archive"):
        extract_once(junk, "cifar10")
    wrong = tmp_path / "wrong.tar"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.txt").write_text("x")
    with tarfile.open(wrong, "w") as tar:
        tar.add(tmp_path / "other", arcname="other")
    with pytest.raises(DataNotFoundError, match="no top folder 'cifar10'"):
        extract_once(wrong, "cifar10")
    assert not (tmp_path / "cache" / "cifar10").exists()  # nothing half-extracted is taken for the dataset


@pytest.mark.parametrize(
    "mode, values, expected",
    [
        ("F", [0.0, 0.5, 1.0], [0, 128, 255]),  # floats in [0, 1]: x 255 (was all black)
        ("I", [0, 100, 255], [0, 100, 255]),  # 32-bit ints holding 8-bit values: kept
        ("I;16", [0, 257 * 100, 65535], [0, 100, 255]),  # 16-bit: / 257
        ("F", [-1.0, 0.0, 1.0], [0, 128, 255]),  # anything else: stretched min..max
    ],
)
def test_high_bit_depth_greyscale_is_scaled_by_its_range(tmp_path: Path, mode: str, values, expected) -> None:
    import numpy as np

    from googlenet.data.decode import open_image

    dtype = {"F": np.float32, "I": np.int32, "I;16": np.uint16}[mode]
    img = Image.fromarray(np.array([values], dtype=dtype))  # float32 -> F, int32 -> I, uint16 -> I;16
    path = tmp_path / "x.tiff"
    img.save(path)
    assert Image.open(path).mode == mode  # the file really holds that mode
    got = np.asarray(open_image(path, "L"))[0].tolist()
    assert got == expected


def test_explicit_data_folder_is_used_never_the_cache(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--data DIR with train/ and val/ class folders is the dataset, whatever the recipe's dataset name, even
    when the cache holds an extracted Imagenette (it once trained on the cached copy instead)."""
    from googlenet.data.sources import DataNotFoundError, locate

    cache = tmp_path / "cache"
    monkeypatch.setenv("GOOGLENET_CACHE", str(cache))
    for stale in (cache / "imagenette2-128", cache / "imagenette2-128-0123456789ab"):
        (stale / "val" / "n01440764").mkdir(parents=True)
        (stale / ".complete").touch()
    mine = make_folder(synthetic_root, tmp_path / "mine", per_class=3, classes=2)
    assert locate("imagenette2-128", mine) == mine
    spec = build_data("imagenette2-128", mine)
    assert Path(spec.root) == mine and len(spec.val) == 6 and spec.classes == ["airplane", "automobile"]
    with pytest.raises(DataNotFoundError, match="not a dataset folder"):
        locate("imagenette2-128", tmp_path)  # an existing folder that holds no dataset is refused, not searched past
    monkeypatch.setenv("GOOGLENET_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr("googlenet.data.sources.search_dirs", lambda: [tmp_path / "empty"])
    with pytest.raises(DataNotFoundError, match="not found"):
        locate("imagenette2-128")  # no archive anywhere: the cached copies do not stand in for it


def test_an_archive_named_by_data_is_extracted_for_itself(
    synthetic_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tarfile

    from googlenet.data.sources import locate

    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))
    roots = []
    for n, per_class in ((1, 2), (2, 3)):
        src = make_folder(
            synthetic_root, tmp_path / f"src{n}" / "cifar10", per_class=per_class, splits=("train", "test")
        )
        archive = tmp_path / f"a{n}" / "cifar10-jpg.tar.gz"
        archive.parent.mkdir()
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(src, arcname="cifar10")
        roots.append(locate("cifar10", archive))
    assert roots[0] != roots[1]  # same top folder name, different archives: two extracted copies
    assert [len(list((r / "test").rglob("*.jpg"))) for r in roots] == [4, 6]
    assert locate("cifar10", tmp_path / "a2") == roots[1]  # the folder holding the archive
