"""One loader for every model file the project writes: ``predict``, ``eval``, ``bench``, ``card`` and ``serve`` read
an exported ONNX (static batch, or dynamic with the normalisation baked in) or TorchScript file as they read the
``.safetensors`` checkpoint it came from, and refuse a file of no known format in one line.

The exports are written by ``googlenet export`` from a tiny random-weight checkpoint, on images the suite makes;
every file is compared with an independent float64 recomputation of the checkpoint (torchvision transforms, the
model in double precision), never with the exported file's own output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from _eval_kit import reference_probs
from _synthetic import CLASSES
from googlenet.cli import main
from googlenet.contract import ModelContract
from googlenet.factory import create_model
from googlenet.weights import ModelFileError, model_format, open_model, save

EXPORTS = {  # name -> (file name, export options)
    "onnx": ("model.onnx", []),  # static batch 1: the loader feeds larger batches in chunks
    "onnx-baked": ("baked.onnx", ["--dynamic-batch", "--bake-normalization"]),
    "torchscript": ("model.pt", ["-f", "torchscript"]),
}


@pytest.fixture(scope="module")
def files(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10-class ``googlenet_small`` (width 0.125, 32 px) named by the synthetic classes, and its exports."""
    folder = tmp_path_factory.mktemp("model_files")
    torch.manual_seed(3)
    model = create_model("googlenet_small", num_classes=10, width=0.125)
    contract = ModelContract(
        "googlenet_small", 10, {"width": 0.125}, CLASSES, input_size=32, crop_fraction=0.875
    )  # fmt: skip
    out = {"safetensors": save(folder / "best.safetensors", model, contract)}
    for name, (file, options) in EXPORTS.items():
        args = ["export", "--checkpoint", str(out["safetensors"]), "-o", str(folder / file), *options]
        assert main([*args, "--data", str(synthetic_root / "test"), "--parity-images", "4"]) == 0
        out[name] = folder / file
    return out


def _test_images(root: Path, per_class: int = 1) -> list[Path]:
    return [sorted((root / "test" / c).glob("*.jpg"))[i] for c in CLASSES for i in range(per_class)]


def test_the_format_is_read_from_the_content(files: dict[str, Path], tmp_path: Path) -> None:
    assert {n: model_format(p) for n, p in files.items()} == {
        "safetensors": "safetensors",
        "onnx": "onnx",
        "onnx-baked": "onnx",
        "torchscript": "torchscript",
    }
    renamed = tmp_path / "exported.bin"  # no telling suffix: the magic bytes decide
    shutil.copy(files["torchscript"], renamed)
    assert model_format(renamed) == "torchscript"
    shutil.copy(files["onnx"], renamed)
    assert model_format(renamed) == "onnx"
    assert model_format(files["safetensors"].parent) == "safetensors"  # a run folder
    baked = open_model(files["onnx-baked"])
    assert baked.contract.mean == (0.485, 0.456, 0.406)  # the model's contract travels in the file
    assert baked.feed_contract.mean == (0.0, 0.0, 0.0) and baked.feed_contract.std == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("fmt", list(EXPORTS))
def test_predict_reads_exported_files(fmt, files, synthetic_root, capsys) -> None:
    images = _test_images(synthetic_root)
    expected = reference_probs(files["safetensors"], images)  # float64, torchvision transforms
    rc = main(["predict", "--checkpoint", str(files[fmt]), "--json", "--topk", "10", *map(str, images)])
    out = capsys.readouterr().out
    assert rc == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in images]
    for record, ref in zip(records, expected, strict=True):
        assert record["top"][0]["index"] == int(ref.argmax())
        for t in record["top"]:
            assert t["class"] == CLASSES[t["index"]]
            assert abs(t["prob"] - ref[t["index"]].item()) < 1e-4, (fmt, t)


@pytest.mark.parametrize("fmt", list(EXPORTS))
def test_eval_reads_exported_files(fmt, files, synthetic_root, tmp_path, capsys) -> None:
    rows = {}
    for name in ("safetensors", fmt):
        report = tmp_path / f"{name}.json"
        args = ["eval", "--checkpoint", str(files[name]), "--data", str(synthetic_root), "--split", "test"]
        assert main([*args, "--crops", "1", "10", "--json", str(report), "--no-progress"]) == 0
        rows[name] = json.loads(report.read_text())["rows"]
    capsys.readouterr()
    # the top-1 of one crop, recomputed independently: the float64 reference's argmax against the folders
    images = _test_images(synthetic_root, per_class=4)
    expected = reference_probs(files["safetensors"], images).argmax(1)
    truth = torch.tensor([CLASSES.index(p.parent.name) for p in images])
    assert rows[fmt][0]["n"] == len(images) == 40
    assert rows[fmt][0]["top1"] == pytest.approx((expected == truth).double().mean().item(), abs=1e-9)
    for ours, theirs in zip(rows[fmt], rows["safetensors"], strict=True):  # 1 crop, then 10 (batches of 10 views)
        assert ours["crops"] == theirs["crops"] and ours["top1"] == theirs["top1"] and ours["top5"] == theirs["top5"]
        assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-4)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_bench_times_an_exported_file(fmt, files, capsys) -> None:
    args = ["bench", "--checkpoint", str(files[fmt]), "--batch", "1,3", "--repeats", "1", "--warmup", "1"]
    assert main([*args, "--reference", "none", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input_size"] == 32  # the file's own size, not 224
    assert [(r["path"], r["batch"]) for r in report["rows"]] == [(f"{fmt} file", 1), (f"{fmt} file", 3)]
    assert all(r["images_per_s"] > 0 and r["ratio"] == 1.0 for r in report["rows"])


@pytest.mark.parametrize("fmt", list(EXPORTS))
def test_card_reads_exported_files(fmt, files, capsys) -> None:
    assert main(["card", str(files["safetensors"]), "--json"]) == 0
    original = json.loads(capsys.readouterr().out)
    assert main(["card", str(files[fmt]), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    model = create_model("googlenet_small", num_classes=10, width=0.125)
    assert card["params"]["total"] == sum(p.numel() for p in model.parameters())
    assert card["checkpoint"] == files[fmt].name
    for key in ("architecture", "model_kwargs", "num_classes", "classes", "input", "weights", "params"):
        assert card[key] == original[key], key


def test_serve_answers_with_an_onnx_file(files, synthetic_root) -> None:
    pytest.importorskip("httpx2", reason="needs the serve extra: pip install 'googlenet[serve]'")
    from starlette.testclient import TestClient

    from googlenet.serve.app import create_app
    from googlenet.serve.service import Service

    image = _test_images(synthetic_root)[2]
    expected = reference_probs(files["safetensors"], [image])[0]
    service = Service(files["onnx-baked"])
    try:
        with TestClient(create_app(service), raise_server_exceptions=False) as client:
            r = client.post("/v1/predict?topk=10", content=image.read_bytes(), headers={"content-type": "image/jpeg"})
            assert r.status_code == 200, r.text
            for t in r.json()["top"]:
                assert t["class"] == CLASSES[t["index"]] and abs(t["prob"] - expected[t["index"]].item()) < 1e-4
            card = client.get("/v1/model").json()
            assert card["checkpoint"] == "baked.onnx" and card["input"]["mean"] == [0.485, 0.456, 0.406]
            cam = client.post("/v1/cam", content=image.read_bytes())
            assert cam.status_code == 501 and "exported graph" in cam.json()["error"]
    finally:
        service.close()


def _bad_files(files: dict[str, Path], root: Path, folder: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, what the one-line error says)."""
    unknown = folder / "weights.bin"
    unknown.write_bytes(bytes(range(256)) * 4)
    truncated = folder / "truncated.onnx"
    data = files["onnx"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    jpeg = folder / "photo.onnx"
    shutil.copy(_test_images(root)[0], jpeg)
    return {
        "unknown format": (unknown, "is not a model file this project reads"),
        "truncated ONNX": (truncated, "is not a readable ONNX file"),
        "renamed JPEG": (jpeg, "is not a readable ONNX file"),
    }


@pytest.mark.parametrize("command", ["predict", "eval", "serve", "bench", "card"])
def test_a_file_of_no_known_format_is_one_line_and_exit_2(command, files, synthetic_root, tmp_path, capsys) -> None:
    image = str(_test_images(synthetic_root)[0])
    for name, (path, message) in _bad_files(files, synthetic_root, tmp_path).items():
        args = {
            "predict": ["predict", "--checkpoint", str(path), image],
            "eval": ["eval", "--checkpoint", str(path), "--data", str(synthetic_root), "--split", "test"],
            "serve": ["serve", "--checkpoint", str(path), "--port", "0"],
            "bench": ["bench", "--checkpoint", str(path), "--repeats", "1"],
            "card": ["card", str(path)],
        }[command]
        assert main(args) == 2, (command, name)
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert captured.out == "" and len(err.splitlines()) == 1, (command, name, err)
        assert err.startswith(f"googlenet {command}: error:") and message in err and path.name in err, (name, err)


def test_exported_graphs_refuse_what_needs_pytorch(files, synthetic_root, tmp_path, capsys) -> None:
    image = str(_test_images(synthetic_root)[0])
    assert main(["predict", "--checkpoint", str(files["onnx"]), "--backend", "channels_last", image]) == 2
    assert "needs a .safetensors checkpoint" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(files["onnx"]), "--cam", str(tmp_path / "cams"), image]) == 2
    assert "--cam needs the PyTorch model" in capsys.readouterr().err
    with pytest.raises(ModelFileError, match="runs on the CPU"):
        open_model(files["onnx"]).forward(device="cuda")
