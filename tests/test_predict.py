"""``googlenet predict``: every common format and mode is classified; bad files are reported, not fatal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
