"""``data.in_memory``: an image folder decoded once into one uint8 tensor. Checked against PIL decoding each file,
unreadable and mixed-size files, and a run whose recorded accuracy ``googlenet eval`` reproduces from the files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _runs import TINY, read_csv, run_cli
from googlenet.data.datasets import DatasetError, ImageFolder
from googlenet.data.decode import ImageDecodeError
from googlenet.data.memory import decode_folder


def _copy(src: Path, dst: Path, per_class: int, classes: int = 3) -> Path:
    for split in ("train", "test"):
        for c in sorted(p.name for p in (src / split).iterdir())[:classes]:
            (dst / split / c).mkdir(parents=True)
            for f in sorted((src / split / c).iterdir())[:per_class]:
                shutil.copy(f, dst / split / c / f.name)
    return dst


def test_every_image_equals_pil_decoding_its_file_in_folder_order(synthetic_root: Path) -> None:
    folder = ImageFolder(synthetic_root / "test")
    held = decode_folder(folder)
    assert held.images.shape == (len(folder), 3, 32, 32) and held.images.dtype.is_floating_point is False
    for i, (path, target) in enumerate(folder.samples):
        want = np.asarray(Image.open(path).convert("RGB")).transpose(2, 0, 1)  # C x H x W
        assert np.array_equal(held.images[i].numpy(), want), path
        assert held.targets[i] == target


def test_unreadable_files_are_reported_and_left_out_or_stop_a_strict_folder(synthetic_root: Path, tmp_path: Path):
    root = _copy(synthetic_root, tmp_path / "data", per_class=2)
    (root / "train" / "airplane" / "empty.jpg").write_bytes(b"")
    reasons: list[str] = []
    held = decode_folder(ImageFolder(root / "train"), reasons.extend)
    assert len(held) == 6 and len(reasons) == 1 and "empty.jpg" in reasons[0]
    with pytest.raises(ImageDecodeError, match=r"empty\.jpg"):
        decode_folder(ImageFolder(root / "train", strict=True))


def test_images_of_another_size_are_refused_naming_the_file(synthetic_root: Path, tmp_path: Path) -> None:
    root = _copy(synthetic_root, tmp_path / "data", per_class=2)
    Image.new("RGB", (40, 32)).save(root / "train" / "bird" / "wide.png")
    with pytest.raises(DatasetError, match=r"wide.png: 40x32 px, but .* is 32x32 px: data.in_memory needs"):
        decode_folder(ImageFolder(root / "train"))


def test_an_in_memory_run_records_what_eval_measures_on_the_files(synthetic_root: Path, tmp_path: Path) -> None:
    root = _copy(synthetic_root, tmp_path / "data", per_class=4)
    (root / "train" / "bird" / "junk.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    out = tmp_path / "run"
    r = run_cli("train", "--recipe", "cifar10", "--out", str(out), *TINY, f"data.dataset={root}",
                "data.input_size=32", "data.in_memory=true", "data.workers=0", "schedule.epochs=2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("skipping unreadable image:") == 1 and "junk.jpg" in r.stderr
    row = read_csv(out / "metrics.csv")[-1]
    assert row["val_count"] == "12" and row["step"] == "2"  # 12 readable training images, batch 8: 1 step an epoch
    r = run_cli("eval", "--checkpoint", str(out / "last.safetensors"), "--data", str(root), "--split", "test",
                "--json", "-", "--no-progress", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    (measured,) = json.loads(r.stdout)["rows"]  # '-': only JSON on stdout, and no file named '-'
    assert "top-1" in r.stderr and not list(tmp_path.glob("-*"))
    assert measured["n"] == 12 and measured["top1"] == pytest.approx(float(row["val_acc"]), abs=1e-9)
    assert measured["loss"] == pytest.approx(float(row["val_loss"]), rel=1e-4)  # the same pixels, not just classes
