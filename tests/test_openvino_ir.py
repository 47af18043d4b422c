"""OpenVINO IR (issue 26): ``googlenet export --format openvino`` writes ``.xml`` + ``.bin`` with the contract in the
IR's ``rt_info``, and ``predict``, ``eval`` and ``serve`` read the ``.xml`` as they read an ``.onnx``; a damaged pair,
an IR from elsewhere and a missing ``openvino`` package are one line each and exit 2.

Everything that loads OpenVINO runs in its own process (tests/_openvino_ir_check.py, one run for the module); the
figures it prints are compared here with an independent float64 recomputation of the checkpoint (torchvision
transforms, the model in double precision), never with the IR's own output. The IR runs at f32 as exported:
logits within 1e-4 of the largest float64 logit, probabilities within 1e-4.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from _eval_kit import reference_probs
from _runs import env, run_cli
from _synthetic import CLASSES
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.deploy.parity import relative_diff
from googlenet.factory import create_model
from googlenet.weights import load_checkpoint, save

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("openvino") is None, reason="needs the openvino extra: pip install 'googlenet[openvino]'"
)

F32_REL_TOLERANCE = 1e-4  # max |IR - float64| over the largest float64 logit (measured ~1e-7)
PROB_TOLERANCE = 1e-4


def _test_images(root: Path, per_class: int = 1) -> list[Path]:
    return [sorted((root / "test" / c).glob("*.jpg"))[i] for c in CLASSES for i in range(per_class)]


@pytest.fixture(scope="module")
def ir(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 10-class ``googlenet_small`` (width 0.125, 32 px, LRN as the paper has it) exported to IR, and what the
    commands printed reading it (tests/_openvino_ir_check.py)."""
    folder = tmp_path_factory.mktemp("openvino_ir")
    torch.manual_seed(3)
    model = create_model("googlenet_small", num_classes=10, width=0.125)
    contract = ModelContract("googlenet_small", 10, {"width": 0.125}, CLASSES, input_size=32, crop_fraction=0.875)
    checkpoint = save(folder / "best.safetensors", model, contract)
    work = folder / "work"
    work.mkdir()
    script = Path(__file__).with_name("_openvino_ir_check.py")
    images = [str(p) for p in _test_images(synthetic_root)]
    argv = [sys.executable, str(script), str(work), str(checkpoint), str(synthetic_root), *images]
    r = subprocess.run(argv, env=env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "checkpoint": checkpoint, "images": images}


def test_export_writes_the_pair_with_the_contract_inside(ir: dict[str, Any]) -> None:
    export = ir["export"]
    assert export["rc"] == 0, export["err"]
    assert "model.xml + model.bin (openvino" in export["out"] and "parity on 4 real images" in export["out"]
    assert ir["files"] == ["model.bin", "model.xml"]  # nothing staged is left behind
    meta = ir["meta"]
    _, _, original = load_checkpoint(ir["checkpoint"])
    keys = ("model", "model_kwargs", "num_classes", "class_names", "input_size", "in_chans", "pixel_range")
    for key in (*keys, "channel_order", "mean", "std", "resize", "crop_fraction", "interpolation"):
        assert meta[key] == original[key], key
    assert meta["format"] == "openvino" and meta["normalization"] == "external"
    assert ir["baked_export"]["rc"] == 0 and "normalisation baked" in ir["baked_export"]["out"], ir["baked_export"]


def test_an_ir_over_the_tolerance_is_not_written(ir: dict[str, Any]) -> None:
    line = _one_line(ir["strict_export"], "export")
    assert "max abs difference to the eager model is" in line and "> tolerance 0" in line, line
    assert ir["strict_files"] == []  # neither half of the pair, nor the staging folder


def test_the_ir_logits_match_float64(ir: dict[str, Any]) -> None:
    model, _, _ = load_checkpoint(ir["checkpoint"])
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5))  # as the check script draws it
    with torch.no_grad():
        expected = model.double().eval()(x.double())
    got = torch.tensor(ir["logits"])
    assert got.shape == (3, 10) and ir["precision"] == "f32"
    assert relative_diff(got, expected) < F32_REL_TOLERANCE


@pytest.mark.parametrize("variant", ["predict", "baked_predict"])
def test_predict_on_the_xml_gives_the_eager_classes(ir: dict[str, Any], variant: str) -> None:
    """The IR as exported, and one with the normalisation baked in (it takes 0..1 RGB; predict feeds it so)."""
    predict = ir[variant]
    assert predict["rc"] == 0, predict["err"]
    expected = reference_probs(ir["checkpoint"], [Path(p) for p in ir["images"]])  # float64, torchvision
    records = [json.loads(line) for line in predict["out"].splitlines()]
    assert [r["path"] for r in records] == ir["images"]
    for record, ref in zip(records, expected, strict=True):
        assert record["top"][0]["index"] == int(ref.argmax())
        for t in record["top"]:
            assert t["class"] == CLASSES[t["index"]]
            assert abs(t["prob"] - ref[t["index"]].item()) < PROB_TOLERANCE, t


def test_eval_on_the_xml(ir: dict[str, Any], synthetic_root: Path) -> None:
    assert ir["eval"]["rc"] == 0, ir["eval"]["err"]
    rows = ir["eval_rows"]
    images = _test_images(synthetic_root, per_class=4)
    probs = reference_probs(ir["checkpoint"], images)
    expected = probs.argmax(1)
    truth = torch.tensor([CLASSES.index(p.parent.name) for p in images])
    assert [r["crops"] for r in rows] == [1, 10] and rows[0]["n"] == len(images) == 40
    assert rows[0]["top1"] == pytest.approx((expected == truth).double().mean().item(), abs=1e-9)
    loss = -probs[torch.arange(len(images)), truth].log().mean().item()  # cross-entropy, from float64
    assert rows[0]["loss"] == pytest.approx(loss, abs=1e-4)


def test_serve_answers_with_the_xml(ir: dict[str, Any]) -> None:
    if ir["serve"] is None:
        pytest.skip("needs the serve extra: pip install 'googlenet[serve]'")
    expected = reference_probs(ir["checkpoint"], [Path(ir["images"][2])])[0]
    assert len(ir["serve"]) == 10, ir["serve"]
    for t in ir["serve"]:
        assert t["class"] == CLASSES[t["index"]] and abs(t["prob"] - expected[t["index"]].item()) < PROB_TOLERANCE


def _one_line(result: dict[str, Any], command: str) -> str:
    err = result["err"].strip()
    assert result["rc"] == 2 and result["out"] == "" and len(err.splitlines()) == 1, result
    assert err.startswith(f"googlenet {command}: error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("corrupt xml", ("corrupt_xml.xml is not a readable OpenVINO IR",)),
        ("missing bin", ("missing_bin.xml", "missing_bin.bin are missing")),
        ("truncated bin", ("truncated_bin.xml is not a readable OpenVINO IR", "Incorrect weights")),
        ("longer bin", ("longer_bin.bin is not the weights file exported with it", "379860 bytes, 379844 expected")),
        ("mismatched bin", ("mismatched_bin.bin is not the weights file exported with it", "SHA-256 differs")),
        ("no contract", ("foreign.xml carries no googlenet contract",)),
    ],
)
def test_a_damaged_ir_is_one_line_and_exit_2(ir: dict[str, Any], case: str, words: tuple[str, ...]) -> None:
    for command, result in ir["errors"][case].items():
        line = _one_line(result, command)
        for word in words:
            assert word in line, (command, word, line)


def test_an_ir_refuses_a_pytorch_back_end(ir: dict[str, Any]) -> None:
    assert "needs a .safetensors checkpoint" in _one_line(ir["backend"], "predict")


def test_a_missing_openvino_names_the_extra(
    ir: dict[str, Any], synthetic_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """``import openvino`` fails as it does where the package is not installed (None in sys.modules)."""
    monkeypatch.setitem(sys.modules, "openvino", None)
    xml = next(Path(ir["checkpoint"]).parent.glob("work/model.xml"))
    argvs = {
        "predict": ["predict", "--checkpoint", str(xml), ir["images"][0]],
        "export": ["export", "-c", str(ir["checkpoint"]), "-f", "openvino", "-o", str(xml.with_name("new.xml"))],
    }
    for command, argv in argvs.items():
        assert main(argv) == 2, command
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
        assert "needs the openvino package: pip install 'googlenet[openvino]'" in captured.err, captured.err
    assert not xml.with_name("new.xml").exists()


def test_the_paper_googlenet_exports_to_ir_on_real_images(imagenette128_root: Path, tmp_path: Path) -> None:
    """The paper's network (LRN, 10 classes, width 1/4, 64 px) exported to IR, its parity checked on Imagenette val:
    in a subprocess (the CLI), as everything that loads OpenVINO."""
    out = tmp_path / "googlenet.xml"
    args = ["export", "--model", "googlenet", "--num-classes", "10", "--set", "width=0.25", "--input-size", "64"]
    r = run_cli(*args, "-f", "openvino", "-o", str(out), "--data", str(imagenette128_root / "val"), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "parity on 8 real images" in r.stdout and out.is_file() and out.with_suffix(".bin").is_file(), r.stdout
