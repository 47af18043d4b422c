"""Fashion-MNIST's IDX path (in-memory tensors, batch augmentation, greyscale models) on files the test writes,
so it runs on every clone; the real files are tested in test_data.py where Debian's package is installed."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from _runs import read_csv, run_cli
from googlenet.data.datasets import FASHION_MNIST_FILES, DatasetError, load_fashion_mnist, read_idx


def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format by hand: 0x0000, type 0x08 (uint8), ndim, big-endian dims, then the bytes."""
    header = b"\x00\x00\x08" + bytes([array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture(scope="module")
def fmnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """60 train and 20 test 28 x 28 images of 10 classes: class k is a bright bar at row 2k + 4, plus noise."""
    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("test", 20)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 60, size=(n, 28, 28))
        for i, k in enumerate(labels):
            images[i, 2 * k + 4 : 2 * k + 6, 4:24] = 250
        img_name, lbl_name = FASHION_MNIST_FILES[split]
        write_idx(root / img_name, images)
        write_idx(root / lbl_name, labels)
    return root


def test_idx_files_read_back_exactly(fmnist_dir: Path) -> None:
    test = load_fashion_mnist("test", fmnist_dir)
    assert test.images.shape == (20, 1, 28, 28)
    assert test.targets == [i % 10 for i in range(20)]
    assert int(test.images[3, 0, 2 * 3 + 4, 10]) == 250  # the bar of class 3
    raw = gzip.decompress((fmnist_dir / FASHION_MNIST_FILES["test"][0]).read_bytes())
    assert raw[:4] == b"\x00\x00\x08\x03" and struct.unpack(">III", raw[4:16]) == (20, 28, 28)


def test_truncated_idx_is_a_clear_error(fmnist_dir: Path, tmp_path: Path) -> None:
    src = gzip.decompress((fmnist_dir / FASHION_MNIST_FILES["test"][0]).read_bytes())
    broken = tmp_path / "x.gz"
    broken.write_bytes(gzip.compress(src[:1000]))
    with pytest.raises(DatasetError, match="truncated IDX"):
        read_idx(broken)


def test_demo_recipe_trains_on_written_idx_files(fmnist_dir: Path, tmp_path: Path) -> None:
    """The `make demo` recipe, shortened, on the written files: greyscale in_chans=1, every test image counted."""
    out = tmp_path / "demo"
    r = run_cli(
        "train",
        "--recipe",
        "fashion-mnist-demo",
        "--data",
        str(fmnist_dir),
        "--out",
        str(out),
        "data.batch_size=20",
        "schedule.epochs=2",
        "model.kwargs.width=0.125",
        "log.progress=false",
    )
    assert r.returncode == 0, r.stderr
    rows = read_csv(out / "metrics.csv")
    assert [row["val_count"] for row in rows] == ["20", "20"] and rows[-1]["step"] == "6"
    meta = __import__("json").loads((out / "last.json").read_text())
    assert meta["model_kwargs"]["in_chans"] == 1 and len(meta["mean"]) == 1


def test_data_folder_without_idx_files_is_refused(tmp_path: Path) -> None:
    r = run_cli("train", "--recipe", "fashion-mnist-demo", "--data", str(tmp_path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "Fashion-MNIST not found" in r.stderr and "Traceback" not in r.stderr


def test_a_crop_too_small_for_the_network_is_one_line_before_training(fmnist_dir: Path, tmp_path: Path) -> None:
    """The demo's GoogLeNet at 28 px (its recipe upsamples to 56) once died in a pooling layer with a traceback."""
    r = run_cli("train", "--recipe", "fashion-mnist-demo", "--data", str(fmnist_dir), "--out", str(tmp_path / "o"),
                "data.input_size=28", "data.batch_size=20", "model.kwargs.width=0.125")  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "input size 28 px is too small for googlenet" in r.stderr and r.stderr.strip().count("\n") == 0
    assert not (tmp_path / "o" / "steps.csv").exists()
