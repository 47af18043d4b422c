"""``googlenet visualize``, ``dream`` and ``attribute`` end to end on a tiny checkpoint: the PNGs they write, their
``--json`` (JSON alone on stdout), and one-line errors (exit 2) for bad layers, channels, checkpoints, files and
sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _eval_kit import make_checkpoint
from _synthetic import class_image
from googlenet.cli import main

TINY = ["--model", "googlenet", "--num-classes", "10", "--set", "width=0.125"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.safetensors", width=0.125, input_size=48)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("photo") / "stripes.png"
    img = class_image(2, np.random.default_rng(0), 64).crop((0, 0, 64, 52))  # 64 x 52, not square
    img.save(path)
    return path


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0
    out = capsys.readouterr().out
    return json.loads(out)  # stdout holds the JSON alone


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_visualize_a_grid_json(capsys, tmp_path: Path, checkpoint: Path) -> None:
    out = tmp_path / "grid.png"
    argv = ["visualize", "--checkpoint", str(checkpoint), "--layer", "inception_4a", "--channels", "1", "2", "3"]
    record = _json(capsys, [*argv, "--size", "32", "--steps", "3", "-o", str(out), "--json"])
    assert record["module"] == "inception4a" and record["pre_relu"] is True and record["channels"] == [1, 2, 3]
    assert len(record["history"]) == 3 and all(len(step) == 3 for step in record["history"])
    assert len(record["final"]) == 3
    with Image.open(out) as img:
        assert img.size == (2 * 32 + 4, 2 * 32 + 4) and img.mode == "RGB"  # 2 x 2 grid, 4 px gaps


def test_visualize_text(capsys, tmp_path: Path) -> None:
    out = tmp_path / "one.png"
    argv = ["visualize", *TINY, "--layer", "inception_3a/3x3", "--neuron", "4", "--size", "24", "--steps", "2"]
    assert main([*argv, "--post-relu", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "inception_3a/3x3 (inception3a.branch2.1)" in text and str(out) in text
    with Image.open(out) as img:
        assert img.size == (24, 24)


def test_visualize_direction_and_layer_norm(capsys, tmp_path: Path) -> None:
    out = str(tmp_path / "d.png")
    base = ["visualize", *TINY, "--layer", "conv2/3x3_reduce", "--size", "16", "--steps", "2", "-o", out, "--json"]
    record = _json(capsys, [*base, "--direction", ",".join(["1"] * 8)])  # conv2 has 64 * 0.125 = 8 channels
    assert record["objective"].endswith(":direction") and record["channels"] is None
    assert _json(capsys, [*base, "--layer-norm"])["objective"] == "L2"
    err = _error(capsys, [*base, "--direction", "1,x"])
    assert "--direction must be comma-separated numbers" in err
    err = _error(capsys, [*base, "--direction", "1,2"])
    assert "needs 8 values, got 2" in err


def test_dream_json_keeps_the_photo_size(capsys, tmp_path: Path, checkpoint: Path, photo: Path) -> None:
    out = tmp_path / "dream.png"
    argv = ["dream", str(photo), "--checkpoint", str(checkpoint), "--layer", "inception_3b", "--octaves", "2"]
    record = _json(capsys, [*argv, "--steps", "3", "--step-size", "4", "--jitter", "4", "-o", str(out), "--json"])
    assert record["size"] == [64, 52] and record["octaves"][-1] == [64, 52]
    assert record["objective_after"] > record["objective_before"]
    with Image.open(out) as img:
        assert img.size == (64, 52) and img.mode == "RGB"


def test_attribute_json(capsys, tmp_path: Path, checkpoint: Path, photo: Path) -> None:
    out = tmp_path / "attr.png"
    argv = ["attribute", str(photo), "--checkpoint", str(checkpoint), "--layer", "inception_5b", "--class", "n03000684"]
    record = _json(capsys, [*argv, "--top", "3", "--thumb-size", "32", "--thumb-steps", "2", "-o", str(out), "--json"])
    assert record["class"] == 3 and record["class_name"] == "n03000684"  # the checkpoint's 4th class
    assert len(record["top"]) == 3
    scores = [t["attribution"] for t in record["top"]]
    assert scores == sorted(scores, reverse=True)
    everything = record["attributions"]  # inception_5b: 1024 * 0.125 = 128 channels
    assert len(everything) == 128 and sorted(everything, reverse=True)[:3] == pytest.approx(scores)
    assert [everything[t["channel"]] for t in record["top"]] == pytest.approx(scores)
    assert out.stat().st_size > 0


def test_attribute_unknown_class(capsys, checkpoint: Path, photo: Path) -> None:
    err = _error(capsys, ["attribute", str(photo), "--checkpoint", str(checkpoint), "--class", "zebra"])
    assert "unknown class 'zebra'" in err and "0..9" in err


def test_unknown_layer_lists_names(capsys) -> None:
    err = _error(capsys, ["visualize", *TINY, "--layer", "inception_4z", "--steps", "1"])
    assert err.startswith("googlenet visualize: error: unknown layer 'inception_4z'")
    assert "inception_4c/5x5_reduce" in err


def test_channel_out_of_range(capsys) -> None:
    # inception_4c/5x5_reduce has round(24 * 0.125) = 3 channels
    err = _error(capsys, ["visualize", *TINY, "--layer", "inception_4c/5x5_reduce", "--channel", "3"])
    assert "channel 3 does not exist" in err and "channels 0..2" in err


def test_checkpoint_without_the_layer(capsys, tmp_path: Path, photo: Path) -> None:
    ckpt = make_checkpoint(tmp_path / "noaux.safetensors", width=0.125, aux_logits=False)
    err = _error(capsys, ["dream", str(photo), "--checkpoint", str(ckpt), "--layer", "loss1/conv"])
    assert "has no layer 'loss1/conv'" in err


def test_not_an_image(capsys, tmp_path: Path, checkpoint: Path) -> None:
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a picture")
    err = _error(capsys, ["dream", str(bad), "--checkpoint", str(checkpoint)])
    assert "notes.jpg: not an image file" in err


def test_size_too_small_for_the_layer(capsys) -> None:
    err = _error(capsys, ["visualize", *TINY, "--layer", "inception_5b", "--size", "8"])
    assert "image size 8 px is too small for layer 'inception_5b'" in err and "at least" in err


def test_photo_too_small_for_the_octaves(capsys, checkpoint: Path, photo: Path) -> None:
    err = _error(capsys, ["dream", str(photo), "--checkpoint", str(checkpoint), "--layer", "inception_5b"])
    assert "too small for layer 'inception_5b'" in err and "--octaves" in err


def test_unwritable_output(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    err = _error(
        capsys, ["visualize", *TINY, "--layer", "conv2/3x3", "--size", "16", "--steps", "1", "-o", f"{blocker}/x.png"]
    )
    assert "cannot write" in err


def test_missing_model_source_is_a_usage_error(capsys) -> None:
    assert main(["visualize", "--layer", "inception_4c"]) == 2
    err = capsys.readouterr().err
    assert "--checkpoint" in err and "--model" in err and err.strip().count("\n") == 0
