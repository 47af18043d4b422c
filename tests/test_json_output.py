"""Every ``--json`` prints JSON alone on stdout (strict JSON: no NaN); notes and chatter go to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torchvision
from PIL import Image

import googlenet
from _eval_kit import IMAGENETTE, make_checkpoint
from googlenet import create_model
from googlenet.cli import main
from googlenet.cli._common import print_json


def _reject(constant: str):
    raise ValueError(f"not JSON: {constant}")


def loads(text: str):
    """``json.loads`` that refuses NaN and Infinity, which Python's own reader lets through."""
    return json.loads(text, parse_constant=_reject)


def test_print_json_writes_strict_json(capsys) -> None:
    print_json({"ratio": float("nan"), "rows": [float("inf"), 1.5]})
    assert loads(capsys.readouterr().out) == {"ratio": None, "rows": [None, 1.5]}


def test_bench_json_is_the_whole_stdout() -> None:
    # a subprocess: output written below Python (ONNX export, the profiler) must stay off stdout too
    env = {**os.environ, "PYTHONPATH": str(Path(googlenet.__file__).parents[1])}
    argv = ["bench", "googlenet", "--set", "width=0.125", "--set", "aux_logits=false", "--batch", "1"]
    argv += ["--input-size", "32", "--paths", "eager,onnxruntime", "--repeats", "1", "--warmup", "0"]
    argv += ["--threads", "1", "--json", "--profile"]
    proc = subprocess.run(
        [sys.executable, "-m", "googlenet", *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    report = loads(proc.stdout)
    assert {(r["model"], r["path"]) for r in report["rows"]} == {("googlenet*", "eager"), ("googlenet*", "onnxruntime")}
    assert report["threads"] == 1 and report["input_size"] == 32
    # the notes still reach the user, on stderr
    assert "threads: torch.set_num_threads(1)" in proc.stderr
    assert "googlenet*: googlenet with width=0.125, aux_logits=False" in proc.stderr


def test_compare_json(capsys) -> None:
    argv = ["compare", "googlenet_small", "--input-size", "32", "--measure", "--batch-size", "1", "--repeats", "1"]
    assert main([*argv, "--threads", "1", "--json"]) == 0
    out = loads(capsys.readouterr().out)
    (row,) = out["models"]
    model = create_model("googlenet_small")
    main_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("aux1.", "aux2.")))
    assert row["model"] == "googlenet_small" and row["params"] == main_params and out["plot"] is None
    assert row["latency_ms"] > 0 and row["images_per_s"] > 0


def test_explain_json(capsys) -> None:
    assert main(["explain", "receptive-field", "--channels", "8", "--max-stack", "3", "--json"]) == 0
    rows = loads(capsys.readouterr().out)
    # n stacked 3x3 convs see 2n+1 pixels, with 9n C² weights against (2n+1)² C² for the single conv
    assert [(r["stack_rf"], r["stack_params"], r["single_params"]) for r in rows] == [
        (2 * n + 1, 9 * n * 64, (2 * n + 1) ** 2 * 64) for n in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("resnet*", ["resnet101", "resnet152", "resnet18", "resnet34", "resnet50"]),  # He et al.'s five depths
        ("resnet[13][48]", ["resnet18", "resnet34"]),
        ("no-such-model*", []),
    ],
)
def test_models_json(pattern: str, names: list[str], capsys) -> None:
    main(["models", pattern, "--json", *(["--no-macs"] if len(names) > 2 else [])])
    rows = loads(capsys.readouterr().out)
    assert sorted(r["name"] for r in rows) == names
    if len(names) > 2:
        return
    # the parameter counts torchvision's own builders give (the same architectures)
    for r in rows:
        expected = sum(p.numel() for p in getattr(torchvision.models, r["name"])().parameters())
        assert r["params"] == expected, r["name"]


def test_summary_json(capsys) -> None:
    assert main(["summary", "googlenet_small", "--input-size", "32", "--json"]) == 0
    out = loads(capsys.readouterr().out)
    model = create_model("googlenet_small")
    assert out["total_params"] == sum(p.numel() for p in model.parameters())
    assert out["input_size"] == 32
    assert main(["summary", "googlenet", "--naive-vs-reduced", "--json"]) == 0
    out = loads(capsys.readouterr().out)
    assert [m["module"] for m in out["modules"]] == ["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "best.safetensors", seed=5)


def test_predict_json_lines(checkpoint: Path, tmp_path: Path, capsys) -> None:
    for i, colour in enumerate([(250, 0, 0), (0, 250, 0), (0, 0, 250)]):
        Image.new("RGB", (50 + 10 * i, 40), colour).save(tmp_path / f"img{i}.png")
    (tmp_path / "notes.jpg").write_text("not a picture")
    assert main(["predict", "--checkpoint", str(checkpoint), str(tmp_path), "--json", "--topk", "3"]) == 1
    out, err = capsys.readouterr()
    records = [loads(line) for line in out.splitlines()]
    assert [Path(r["path"]).name for r in records] == ["img0.png", "img1.png", "img2.png", "notes.jpg"]
    for r in records[:3]:
        probs = [t["prob"] for t in r["top"]]
        assert len(probs) == 3 and 0 < sum(probs) <= 1 + 1e-6 and {t["class"] for t in r["top"]} <= set(IMAGENETTE)
    assert "not an image" in records[3]["error"]
    assert "1 of 4 file(s) could not be read" in err


def test_eval_json_goes_to_its_file(checkpoint: Path, tmp_path: Path, capsys) -> None:
    for i, name in enumerate(IMAGENETTE):
        (tmp_path / "data" / "val" / name).mkdir(parents=True)
        Image.new("RGB", (40, 40), (25 * i, 100, 200 - 20 * i)).save(tmp_path / "data" / "val" / name / "a.png")
    report = tmp_path / "report.json"
    argv = ["eval", "--checkpoint", str(checkpoint), "--data", str(tmp_path / "data"), "--json", str(report)]
    assert main([*argv, "--no-progress"]) == 0
    out = capsys.readouterr().out
    (row,) = loads(report.read_text())["rows"]
    assert row["n"] == len(IMAGENETTE)
    # stdout stays the human summary, naming the file; the JSON is not printed there
    assert out.splitlines()[-1] == f"json: {report}" and '"rows"' not in out
    assert 0 <= row["top1"] <= 1
