"""``googlenet bench`` at tiny sizes: it runs every path, prints ratios and agrees with eager (no speed asserts)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from googlenet.cli import main
from googlenet.deploy.backends import make_backend
from googlenet.deploy.bench import (
    BenchReport,
    BenchRow,
    count_macs,
    format_report,
    relative_diff,
    torchvision_reference,
)
from googlenet.deploy.images import image_files, preprocess
from googlenet.registry import create_model


def test_bench_json_has_ratios_against_torchvision(capsys):
    argv = [
        "bench",
        "googlenet_bn",
        "--batch",
        "1",
        "--input-size",
        "64",
        "--paths",
        "eager,channels_last,onnxruntime",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    rows = {(r["model"], r["path"]): r for r in report["rows"]}
    assert set(rows) == {
        ("googlenet_bn", "eager"),
        ("googlenet_bn", "channels_last"),
        ("googlenet_bn", "onnxruntime"),
        ("torchvision googlenet", "eager"),
        ("torchvision googlenet", "onnxruntime"),
    }
    assert report["threads"] == 1 and report["reference"] == "torchvision googlenet eager"
    assert rows[("torchvision googlenet", "eager")]["ratio"] == 1.0
    for r in report["rows"]:
        # every fp32 path computes the same logits; relative, since this random-init model's logits are ~1e-11
        assert r["images_per_s"] > 0 and r["max_rel_diff"] < 1e-4
        # ratio is images/s over the reference's eager images/s at the same batch size
        base = rows[("torchvision googlenet", "eager")]["images_per_s"]
        assert r["ratio"] == pytest.approx(r["images_per_s"] / base)


def test_bench_table_for_paper_model_uses_its_own_eager(capsys):
    argv = [
        "bench",
        "googlenet_small",
        "--batch",
        "2",
        "--input-size",
        "32",
        "--paths",
        "eager,onnxruntime",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "threads: torch.set_num_threads(1)" in out and "x googlenet_small eager" in out
    assert "| googlenet_small | onnxruntime | 2 |" in out and "torchvision" not in out.split("\n\n", 1)[1]


def test_macs_match_hand_count():
    # conv 3->8, 3x3, pad 1 on 10x10: 10*10*8*3*3*3 = 21600 MACs; linear 800->4: 3200 MACs
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(800, 4))
    assert count_macs(model, 10) == 21600 + 3200


def test_unknown_path_and_reference_lookup(capsys):
    assert main(["bench", "googlenet", "--paths", "eager,warp_drive", "--input-size", "32", "--batch", "1"]) == 2
    assert "warp_drive" in capsys.readouterr().err
    tv_form = {"batch_norm": True, "lrn": False, "ch5x5_kernel": 3, "pool4_kernel": 2}
    assert torchvision_reference("googlenet", tv_form)[0] == "torchvision googlenet"
    with pytest.raises(KeyError):
        torchvision_reference("googlenet", {})  # the paper model has no torchvision twin


def test_int8_backend_close_to_fp32_on_real_images(imagenette128_root):
    torch.manual_seed(0)
    model = create_model("googlenet", num_classes=10, width=0.25, aux_logits=False).eval()
    calib = preprocess(image_files(imagenette128_root, 16, split="train"), 64)
    x = preprocess(image_files(imagenette128_root, 8), 64)
    q = make_backend("onnxruntime_int8", model, input_size=64, threads=1, calibration=calib)
    with torch.no_grad():
        ref = model(x).numpy()
    got = q(x).numpy()
    assert not np.allclose(got, ref, atol=1e-6)  # it really is a different (quantised) computation
    # random weights give near-identical logits for every image, so only closeness is testable here;
    # accuracy on a trained checkpoint is measured by the int8 evaluation in the deploy notes
    assert np.linalg.norm(got - ref) < 0.05 * np.linalg.norm(ref)


def test_relative_diff_by_hand():
    ref = torch.tensor([[2e-11, -4e-11]])
    # |diff| max 1e-12 over |ref| max 4e-11 = 0.025: an absolute bound of 1e-3 would call this equal
    assert relative_diff(ref + torch.tensor([[1e-12, -5e-13]]), ref) == pytest.approx(0.025)
    assert relative_diff(torch.ones(3), torch.zeros(3)) == 1.0  # zero reference: the absolute difference


def test_report_names_the_fastest_float32_path_beside_int8():
    def row(model: str, path: str, ips: float, ratio: float) -> BenchRow:
        return BenchRow(model, path, 16, 1.0, 1.0, 1.0, ips, 1.0, 0.0, 0.0, ratio)

    rows = [
        row("googlenet_bn", "eager", 20.0, 1.0),
        row("googlenet_bn", "onnxruntime", 50.0, 2.5),
        row("googlenet_bn", "onnxruntime_int8", 80.0, 4.0),
        row("torchvision googlenet", "eager", 20.0, 1.0),
        row("torchvision googlenet", "onnxruntime", 40.0, 2.0),
    ]
    report = BenchReport(rows, 2, 224, 3, 10**9, "torchvision googlenet eager")
    lines = format_report(report).splitlines()
    # 80 / 40 = 2.00 and 50 / 40 = 1.25 times torchvision's graph on ONNX Runtime
    assert (
        "batch 16: fastest path onnxruntime_int8, 4.00x torchvision googlenet eager, 2.00x torchvision "
        "googlenet onnxruntime" in lines
    )
    assert (
        "batch 16: fastest float32 path onnxruntime, 2.50x torchvision googlenet eager, 1.25x torchvision "
        "googlenet onnxruntime" in lines
    )
