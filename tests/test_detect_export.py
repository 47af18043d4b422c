"""A Faster R-CNN exported by ``googlenet export`` to ONNX: the file matches the eager detector under ONNX Runtime
on images of sizes it was not traced at, carries its metadata, fails parity over the tolerance (and never lands),
and what a detector cannot be exported as is refused in one line; on generated images with a tiny random detector."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from _det_deploy import KWARGS, NAMES, SCENES, reference, tensor, tiny_detector
from _synthetic_det import make_scenes, one_thread, write_pennfudan
from googlenet import create_model
from googlenet.cli import main
from googlenet.deploy.parity import ParityError
from googlenet.detect import export as det_export

pytest.importorskip("onnxruntime", reason="needs onnxruntime (the export extra)")
_ = one_thread  # autouse


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_detector(tmp_path_factory.mktemp("detexport") / "det.safetensors")


@pytest.fixture(scope="module")
def exported(checkpoint: Path, tmp_path_factory) -> tuple[Path, Path, str]:
    root = tmp_path_factory.mktemp("detexport")
    data = write_pennfudan(root / "PennFudanPed", SCENES)
    out = root / "det.onnx"
    argv = ["export", "--checkpoint", str(checkpoint), "--data", str(data), "-o", str(out), "--parity-images", "2"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return out, data, buf.getvalue()


def test_export_writes_an_onnx_file_that_matches_the_eager_detector(exported, checkpoint: Path) -> None:
    import onnx
    import onnxruntime as ort

    out, _, printed = exported
    assert printed.startswith(f"wrote {out} (onnx, opset 18") and "parity on 2 images" in printed
    meta = json.loads({p.key: p.value for p in onnx.load(str(out)).metadata_props}["googlenet"])
    assert meta["task"] == "detect" and meta["class_names"] == NAMES and meta["model"] == "fasterrcnn_googlenet"
    assert meta["model_kwargs"]["min_size"] == 64 and meta["score_threshold"] == 0.0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    model = reference(checkpoint)
    for scene in (SCENES[2], make_scenes(1, size=72, seed=9)[0]):  # a size the parity check did not see
        x = tensor(scene.image)
        boxes, labels, scores = session.run(["boxes", "labels", "scores"], {"image": x.numpy()})
        with torch.no_grad():
            o = model([x])[0]
        assert len(boxes) == len(o["boxes"]) > 0 and labels.tolist() == o["labels"].tolist()
        np.testing.assert_allclose(boxes, o["boxes"].numpy(), atol=1e-3)
        np.testing.assert_allclose(scores, o["scores"].numpy(), atol=1e-5)


def test_the_exported_detector_is_refused_by_classification_commands(exported, capsys) -> None:
    out, data, _ = exported
    image = str(data / "PNGImages" / "img000.png")
    assert main(["predict", "--checkpoint", str(out), image]) == 2
    err = capsys.readouterr().err
    assert "is an exported fasterrcnn_googlenet detector, not a classifier" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "torchscript"], "a detector exports to ONNX only"),
        (["--int8", "{tmp}/q.onnx"], "--int8 is a classifier's export option"),
        (["--bake-normalization"], "--bake-normalization is a classifier's export option"),
        (["--opset", "9"], "needs --opset >= 11"),
        (["--data", "{tmp}"], "--data takes a folder of images (or Penn-Fudan) for the parity check"),
    ],
)
def test_export_refuses_what_a_detector_cannot_take(exported, checkpoint, tmp_path, capsys, extra, message) -> None:
    _, data, _ = exported
    argv = ["export", "--checkpoint", str(checkpoint), "--data", str(data), "-o", str(tmp_path / "d.onnx")]
    (tmp_path / "empty").mkdir()
    assert main([*argv, *(a.format(tmp=tmp_path / "empty") for a in extra)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "d.onnx").exists()


def test_parity_fails_over_the_tolerance_and_the_file_never_lands(checkpoint, tmp_path, monkeypatch) -> None:
    # the exporter hands back another detector's graph (other weights): ONNX Runtime disagrees with the eager model
    torch.manual_seed(1)
    other = create_model("fasterrcnn_googlenet", num_classes=3, **KWARGS).eval()
    real = det_export._onnx_proto
    monkeypatch.setattr(det_export, "_onnx_proto", lambda model, example, opset: real(other, example, opset))
    model = reference(checkpoint)
    with pytest.raises(ParityError, match="parity image 0"):
        det_export.export_detector(model, {"model": "fasterrcnn_googlenet"}, tmp_path / "d.onnx",
                                   [tensor(SCENES[0].image)])  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_compare_states_each_kind_of_mismatch() -> None:
    boxes = torch.tensor([[10.0, 10.0, 50.0, 40.0], [0.0, 0.0, 20.0, 20.0]])
    eager = {"boxes": boxes, "labels": torch.tensor([1, 2]), "scores": torch.tensor([0.9, 0.4])}
    same = [boxes.numpy(), np.array([1, 2]), np.array([0.9, 0.4], dtype=np.float32)]
    box, score = det_export.compare(eager, same, 100, 1e-4, "x")
    assert box == 0 and score < 1e-7
    shifted = [boxes.numpy() + np.array([0, 0, 0.02, 0], dtype=np.float32), same[1], same[2]]  # 0.02 px of 100
    assert det_export.compare(eager, shifted, 100, 1e-3, "x")[0] == pytest.approx(2e-4, rel=1e-3)
    with pytest.raises(ParityError, match=r"boxes differ by 0\.0002 of the image's size > tolerance 0\.0001"):
        det_export.compare(eager, shifted, 100, 1e-4, "x")
    with pytest.raises(ParityError, match="gives 1 detections, the eager model 2"):
        det_export.compare(eager, [a[:1] for a in same], 100, 1e-4, "x")
    with pytest.raises(ParityError, match="labels differ"):
        det_export.compare(eager, [same[0], np.array([2, 1]), same[2]], 100, 1e-4, "x")
    with pytest.raises(ParityError, match=r"scores differ by 0\.01"):
        det_export.compare(eager, [same[0], same[1], same[2] + np.float32(0.01)], 100, 1e-4, "x")
