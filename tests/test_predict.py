"""``googlenet predict``: every common format and mode is classified; bad files are reported, not fatal."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

import googlenet
from _eval_kit import IMAGENETTE, make_checkpoint, reference_probs
from googlenet.cli import main

GOOD = ["photo.jpg", "cmyk.jpg", "grey.png", "rgba.png", "photo.webp", "photo.bmp"]
BAD = {"not_image.jpg": "not an image", "truncated.jpg": "truncated", "empty.jpg": "empty file"}


@pytest.fixture(scope="module")
def images(imagenette128_root: Path, tmp_path_factory) -> Path:
    """Real photos in every common format and mode, plus three broken files."""
    d = tmp_path_factory.mktemp("imgs")
    src = sorted((imagenette128_root / "val" / IMAGENETTE[0]).iterdir())[0]
    photo = Image.open(src).convert("RGB")
    photo.save(d / "photo.jpg", quality=95)
    photo.convert("CMYK").save(d / "cmyk.jpg")
    photo.convert("L").resize((90, 140)).save(d / "grey.png")  # portrait, greyscale
    rgba = photo.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(d / "rgba.png")
    photo.resize((200, 120)).save(d / "photo.webp")
    photo.save(d / "photo.bmp")
    (d / "not_image.jpg").write_text("this is text, not a JPEG\n")
    data = (d / "photo.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (d / "empty.jpg").write_bytes(b"")
    return d


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.safetensors", seed=3)


def test_predict_json_every_format_and_bad_files(images: Path, checkpoint: Path, capsys) -> None:
    rc = main(["predict", "--checkpoint", str(checkpoint), str(images), "--json", "--topk", "3"])
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rc == 1  # some files failed
    by_name = {Path(r["path"]).name: r for r in out}
    assert sorted(by_name) == sorted(GOOD + list(BAD))
    for name in GOOD:
        top = by_name[name]["top"]
        probs = [t["prob"] for t in top]
        assert len(top) == 3 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert {t["class"] for t in top} <= set(IMAGENETTE)
    for name, reason in BAD.items():
        assert "top" not in by_name[name] and reason in by_name[name]["error"]
    # the JPEG's probabilities agree with an independent torchvision pipeline in float64
    ref = reference_probs(checkpoint, [images / "photo.jpg"])[0]
    for t in by_name["photo.jpg"]["top"]:
        assert abs(t["prob"] - ref[IMAGENETTE.index(t["class"])].item()) < 1e-4
    assert by_name["photo.jpg"]["top"][0]["index"] == ref.argmax().item()


def test_predict_ensemble_and_crops(images: Path, checkpoint: Path, tmp_path, capsys) -> None:
    other = make_checkpoint(tmp_path / "other.safetensors", seed=4, input_size=40)
    files = [str(images / "photo.jpg")]

    def probs(argv: list[str]) -> torch.Tensor:
        assert main(["predict", *argv, *files, "--json", "--topk", "10"]) == 0
        top = json.loads(capsys.readouterr().out)["top"]
        p = torch.zeros(10, dtype=torch.float64)
        for t in top:
            p[t["index"]] = t["prob"]
        return p

    a = probs(["--checkpoint", str(checkpoint)])
    b = probs(["--checkpoint", str(other)])
    both = probs(["--checkpoint", str(checkpoint), "--checkpoint", str(other)])
    torch.testing.assert_close(both, (a + b) / 2, rtol=0, atol=2e-6)
    ten = probs(["--checkpoint", str(checkpoint), "--crops", "10"])
    assert abs(ten.sum().item() - 1) < 1e-5 and not torch.allclose(ten, a, atol=1e-4)


def test_predict_cli_table_exit_status(images: Path, checkpoint: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(googlenet.__file__).parents[1])}
    args = ["--checkpoint", str(checkpoint), str(images / "photo.*"), str(images / "empty.jpg"), "missing.png"]
    proc = subprocess.run(
        [sys.executable, "-m", "googlenet", "predict", *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    for name in ("photo.bmp", "photo.jpg", "photo.webp"):
        assert str(images / name) in proc.stdout
    assert proc.stdout.count("  1. ") == 3 and proc.stdout.count("  5. ") == 3
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "empty file" in errors[0] and "missing.png: no such file" in errors[1]
    assert "2 of 5 file(s) could not be read" in proc.stderr
    assert "Traceback" not in proc.stderr


def bomb_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` zeros: tiny on disk, huge once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """A good PNG, a symbolic link ``x.jpg`` to a file that does not exist, and a 20000x20000 PNG bomb."""
    d = tmp_path / "odd"
    d.mkdir()
    Image.new("RGB", (48, 40), (200, 30, 60)).save(d / "good.png")
    os.symlink(tmp_path / "gone.jpg", d / "x.jpg")
    bomb = bomb_png(d / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 200_000 and 2 * Image.MAX_IMAGE_PIXELS < 20000 * 20000
    return d


def test_predict_reports_broken_link_and_bomb_with_their_reasons(odd_folder: Path, checkpoint: Path, capsys) -> None:
    rc = main(["predict", "--checkpoint", str(checkpoint), str(odd_folder), "--json"])
    by_name = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rc == 1
    assert sorted(by_name) == ["bomb.png", "good.png", "x.jpg"]
    assert len(by_name["good.png"]["top"]) == 5
    assert by_name["x.jpg"]["error"].endswith(f"broken symbolic link (points to {odd_folder.parent / 'gone.jpg'})")
    assert "too large: 400000000 pixels" in by_name["bomb.png"]["error"]
    assert "corrupt" not in by_name["bomb.png"]["error"]


def test_predict_table_names_each_file_and_reason(odd_folder: Path, checkpoint: Path, capsys) -> None:
    link = str(odd_folder / "x.jpg")
    rc = main(["predict", "--checkpoint", str(checkpoint), link, str(odd_folder / "*.png")])
    out, err = capsys.readouterr()
    assert rc == 1 and out.startswith(str(odd_folder / "good.png"))
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: {link}: broken symbolic link (points to {odd_folder.parent / 'gone.jpg'})",
        f"error: {odd_folder / 'bomb.png'}: too large: 400000000 pixels (PIL's decompression-bomb limit is "
        f"{Image.MAX_IMAGE_PIXELS} pixels; raise PIL.Image.MAX_IMAGE_PIXELS to read a file you trust)",
    ]
    assert "2 of 3 file(s) could not be read" in err


def test_image_over_a_lowered_pixel_limit_is_too_large(tmp_path: Path, checkpoint: Path, monkeypatch, capsys) -> None:
    Image.new("RGB", (64, 48)).save(tmp_path / "small.png")
    Image.new("RGB", (40, 30)).save(tmp_path / "tiny.png")
    # 64*48 = 3072 pixels: over 2000 (PIL warns) but under 2 * 2000 (where PIL raises); 40*30 = 1200 is fine
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
    rc = main(["predict", "--checkpoint", str(checkpoint), str(tmp_path), "--json"])
    by_name = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rc == 1 and "top" in by_name["tiny.png"]
    assert "too large: 3072 pixels (PIL's decompression-bomb limit is 2000 pixels" in by_name["small.png"]["error"]
