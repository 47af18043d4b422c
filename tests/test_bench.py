"""``googlenet bench`` at tiny sizes: it runs every path, prints ratios and agrees with eager (no speed asserts)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from googlenet.cli import main
from googlenet.deploy.bench import (
    BenchReport,
    BenchRow,
    count_macs,
    format_report,
    relative_diff,
    torchvision_reference,
)
from googlenet.factory import create_model, default_contract
from googlenet.runtime.backends import make_backend
from googlenet.runtime.images import sample_batch


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
        "--reference-paths",
        "eager,onnxruntime",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--threads",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)  # stdout holds the JSON alone
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
        assert r["precision"] == "fp32" and 0 < r["peak_share"] < 1
    # the best peer of a float row: torchvision's graph on ONNX Runtime, the only non-eager peer here
    peer = rows[("torchvision googlenet", "onnxruntime")]["images_per_s"]
    ours = rows[("googlenet_bn", "onnxruntime")]
    assert ours["peer_ratio"] == pytest.approx(ours["images_per_s"] / peer)


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
    assert "| googlenet_small | onnxruntime | fp32 | 2 |" in out and "torchvision" not in out.split("\n\n", 1)[1]


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
    contract = default_contract("googlenet", 10, width=0.25, aux_logits=False).replace(input_size=64)
    calib = sample_batch(imagenette128_root, 16, contract, split="train")
    x = sample_batch(imagenette128_root, 8, contract)
    q = make_backend("onnxruntime_int8", model, contract, threads=1, calibration=calib)
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
        "batch 16: fastest float path onnxruntime, 2.50x torchvision googlenet eager, 1.25x torchvision "
        "googlenet onnxruntime" in lines
    )


def test_torchvision_twin_only_for_the_same_network():
    assert torchvision_reference("googlenet_bn", {"aux_logits": False, "dropout": 0.5})[0] == "torchvision googlenet"
    assert torchvision_reference("googlenet_bn", {"batch_norm": True})[0] == "torchvision googlenet"  # its default
    tv_form = {"batch_norm": True, "lrn": False, "ch5x5_kernel": 3, "pool4_kernel": 2}
    for name, kwargs in [
        ("googlenet_bn", {"width": 0.5}),  # half the channels is not torchvision's network
        ("googlenet_bn", {"in_chans": 1}),
        ("googlenet", {**tv_form, "small_input": True}),
    ]:
        with pytest.raises(KeyError):
            torchvision_reference(name, kwargs)


@pytest.mark.parametrize("option", [["--repeats", "0"], ["--threads", "0"], ["--reference", "selff"]])
def test_bench_rejects_bad_numbers_and_reference_names(option, capsys):
    assert main(["bench", "googlenet_small", *option]) == 2
    assert option[0] in capsys.readouterr().err


def test_missing_optional_package_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if googlenet[deploy] were not installed
    argv = ["bench", "googlenet_small", "--paths", "onnxruntime", "--batch", "1", "--input-size", "32"]
    assert main([*argv, "--repeats", "1", "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "onnxruntime" in err and "pip install 'googlenet[deploy]'" in err and "\n" not in err


def test_int8_calibrates_a_greyscale_model_on_real_images(imagenette128_root):
    torch.manual_seed(0)
    model = create_model("googlenet_small", num_classes=10, width=0.125, in_chans=1).eval()
    contract = default_contract("googlenet_small", 10, width=0.125, in_chans=1)
    assert (contract.input_size, contract.mean, contract.std) == (32, (0.5,), (0.5,))
    q = make_backend("onnxruntime_int8", model, contract, threads=1)  # default calibration: 1 channel
    x = sample_batch(imagenette128_root, 4, contract)
    assert x.shape == (4, 1, 32, 32)
    with torch.no_grad():
        ref = model(x)
    assert np.linalg.norm(q(x).numpy() - ref.numpy()) < 0.05 * np.linalg.norm(ref.numpy())


def test_train_throughput_times_each_variant_of_a_recipe_against_torchvision() -> None:
    import subprocess
    from pathlib import Path

    from _runs import env

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"
    args = ["--recipe", "imagenette-compare", "--batch", "2", "--steps", "1", "--warmup", "0", "--threads", "1"]
    variants = ["--variant", "alexnet_tv", "--variant", "googlenet_bn model_kwargs.aux_logits=false"]
    r = subprocess.run([sys.executable, str(script), *args, *variants], env=env(), capture_output=True, text=True,
                       timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    rates = [line for line in r.stdout.splitlines() if "images/s" in line]
    assert len(rates) == 3 and rates[0].strip().startswith("alexnet_tv:")
    assert "googlenet_bn model_kwargs.aux_logits=false:" in rates[1] and "torchvision googlenet" in rates[2]
    assert "1.00x the first" in rates[0] and "1.00x torchvision eager" in rates[2]
    # a field one timed step cannot show is refused, never silently timed as the plain recipe
    r = subprocess.run([sys.executable, str(script), *args, "--variant", "recipe batch_size=32 mixup=0.2"],
                       env=env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 1 and "batch_size, mixup" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_bench_of_a_checkpoint_times_its_own_input_size(tmp_path, capsys):
    """A checkpoint trained at 16 px is timed at 16 px (it was timed at 224), unless --input-size says otherwise."""
    from googlenet.analysis.profile import profile_model
    from googlenet.weights import save as save_weights

    kwargs = {"width": 0.125, "aux_logits": False}
    model = create_model("googlenet_small", num_classes=3, **kwargs)
    contract = default_contract("googlenet_small", 3, **kwargs).replace(input_size=16)
    ckpt = save_weights(tmp_path / "c16.safetensors", model, contract.to_meta())
    common = ["--paths", "eager", "--reference", "none", "--repeats", "1", "--warmup", "0", "--batch", "1", "--json"]
    for extra, size in (([], 16), (["--input-size", "24"], 24)):
        assert main(["bench", "--checkpoint", str(ckpt), *common, *extra]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["input_size"] == size
        assert report["macs"] == profile_model(model.eval(), size).total_macs  # counted at that size too


def test_peer_rows_are_built_at_their_engine_defaults(monkeypatch):
    """Our rows get the project's graph rewrites (OpenVINO's pools without indices); the peer rows do not."""
    import googlenet.deploy.bench as bench

    calls: list[tuple[str, str, bool]] = []

    def spy(path, model, contract, **options):
        calls.append((type(model).__module__.split(".")[0], path, bool(options.get("engine_defaults"))))
        return make_backend(path, model, contract, **options)

    monkeypatch.setattr(bench, "make_backend", spy)
    model = create_model("googlenet_bn", num_classes=10)
    contract = default_contract("googlenet_bn", num_classes=10).replace(input_size=32)
    reference = torchvision_reference("googlenet_bn", {}, 10)
    bench.run_bench(
        model, "googlenet_bn", contract, batches=(1,), paths=["eager"], reference=reference,
        reference_paths=["eager"], threads=1, warmup=0, repeats=1,
    )  # fmt: skip
    assert sorted(calls) == [("googlenet", "eager", False), ("torchvision", "eager", True)]


BENCHMARK_MISTAKES = [
    ("allocation.py", ["--repeats", "0"]),
    ("bn_statistics.py", ["--recipe", "cifar10", "--batches", "0"]),
    ("lrn_forms.py", ["--batch", "-2"]),
    ("onnx_files.py", ["model.onnx", "--threads", "0"]),
    ("openvino_pools.py", ["--rounds", "zero"]),
    ("serve_load.py", ["--max-wait-ms", "nan"]),
    ("train_throughput.py", ["--warmup", "-1"]),
]


@pytest.mark.parametrize(("script", "argv"), BENCHMARK_MISTAKES, ids=[s for s, _ in BENCHMARK_MISTAKES])
def test_a_benchmark_refuses_a_bad_number_in_one_line(
    script: str, argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import runpy
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / script
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    with pytest.raises(SystemExit) as stop:  # argparse's usage error, before any model is built or timed
        runpy.run_path(str(path), run_name="__main__")
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err, err
    message = err.strip().splitlines()[-1]
    assert message.startswith(f"{script}: error: argument {argv[-2]}"), message
    assert "expected" in message, message


def test_train_throughput_projects_a_recipe_in_its_own_precision() -> None:
    """The projection's arithmetic by hand; ``amp=auto`` timed as training resolves it, never as plain fp32."""
    import importlib.util
    from pathlib import Path

    from googlenet.config import load_recipe
    from test_amp_auto import this_machines_choice

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "train_throughput.py"
    spec = importlib.util.spec_from_file_location("train_throughput_p", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    # a worker feeds the step: the slower of 40 (step) and 400 (loader) images/s bounds; 5 x 9,469 / 40 s = 19.7 min
    assert "5 epoch(s) x 9,469 images at 40.0 images/s = 19.7 min" in script.projection(5, 9469, 40.0, 400.0, 1)
    # no worker: the main process decodes, then steps: 1/40 + 1/400 s per image = 36.4 images/s, 21.7 min
    assert "at 36.4 images/s = 21.7 min" in script.projection(5, 9469, 40.0, 400.0, 0)
    cpu = torch.device("cpu")
    assert script.step_amp(load_recipe("imagenette-128-w1"), cpu) == this_machines_choice()  # the recipe says auto
    assert script.step_amp(load_recipe("imagenette-128-w1", {"precision": {"amp": "bf16"}}), cpu) == "bf16"
