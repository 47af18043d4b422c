"""``googlenet detect train|eval|predict`` on generated Penn-Fudan data: the run's files, eval's AP equal to
pycocotools run directly, predict's JSON lines and drawn images, and bad input as one line."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from safetensors.torch import load_file

from _synthetic_det import SMALL_DETECTOR, make_scenes, one_thread, write_coco, write_pennfudan, write_tiny_recipe
from googlenet import create_model
from googlenet.cli import main
from googlenet.detect.datasets import split_indices
from googlenet.detect.store import detector_meta, save_detector
from googlenet.factory import default_contract
from googlenet.weights import save

_ = one_thread  # autouse

SCENES = make_scenes(10, size=64, seed=11, shapes=("rect",))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A two-step training run through the CLI on 10 generated images (8 train, 2 val)."""
    root = tmp_path_factory.mktemp("det")
    data = write_pennfudan(root / "PennFudanPed", SCENES)
    # an untrained detector's scores are low: box_score_thresh 0 keeps them for the AP
    write_tiny_recipe(root / "tiny.yaml", epochs=1, split={"val_fraction": 0.2, "seed": 0})
    out = root / "run"
    threads = torch.get_num_threads()
    code = main(["detect", "train", "--recipe", str(root / "tiny.yaml"), "--data", str(data), "--out", str(out),
                 "--max-steps", "2"])  # fmt: skip
    assert torch.get_num_threads() == threads  # the recipe's thread count does not outlive the run
    assert code == 0
    return root, data, out


def test_train_writes_checkpoints_and_metrics(run):
    _, _, out = run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["train_images"] == 8 and metrics["val_images"] == 2
    meta = json.loads((out / "best.json").read_text())
    assert meta["task"] == "detect" and meta["class_names"] == ["background", "person"]
    assert "backbone_weights" not in meta["model_kwargs"]


def test_eval_ap_equals_pycocotools_run_directly(run, tmp_path, capsys):
    _, data, out = run
    assert (
        main(["detect", "eval", "--checkpoint", str(out), "--data", str(data), "--json", str(tmp_path / "m.json")]) == 0
    )
    printed = capsys.readouterr().out
    ours = json.loads((tmp_path / "m.json").read_text())
    assert ours["images"] == 2 and "ap50" in printed
    # independently: ground truth from the generated boxes of the val images, detections from the model itself
    _, val = split_indices(len(SCENES), 0.2, 0)
    model = create_model("fasterrcnn_googlenet", num_classes=2, **{**SMALL_DETECTOR, "box_score_thresh": 0.0})
    model.load_state_dict(load_file(out / "best.safetensors"))
    model.eval()
    images, anns, results = [], [], []
    for i in val:
        s = SCENES[i]
        images.append({"id": i, "width": s.image.size[0], "height": s.image.size[1]})
        for x1, y1, x2, y2 in s.boxes:
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})  # fmt: skip
        x = torch.from_numpy(np.asarray(s.image).copy()).permute(2, 0, 1).float() / 255
        with torch.no_grad():
            o = model([x])[0]
        for b, sc, lab in zip(o["boxes"].tolist(), o["scores"].tolist(), o["labels"].tolist(), strict=True):
            results.append(
                {"image_id": i, "category_id": lab, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "score": sc}
            )
    assert results, "the untrained detector should still propose boxes at threshold 0"
    (tmp_path / "gt.json").write_text(json.dumps({"images": images, "annotations": anns,
                                                  "categories": [{"id": 1, "name": "person"}]}))  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "gt.json"))
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ours["ap"] == pytest.approx(max(ev.stats[0], 0), abs=1e-6)
    assert ours["ap50"] == pytest.approx(max(ev.stats[1], 0), abs=1e-6)
    assert ours["ar100"] == pytest.approx(max(ev.stats[8], 0), abs=1e-6)


def test_predict_json_lines_and_drawn_images(run, tmp_path, capsys):
    _, data, out = run
    images = sorted((data / "PNGImages").iterdir())[:2]
    argv = ["detect", "predict", *map(str, images), "--checkpoint", str(out), "--json", "--score-threshold", "0"]
    assert main([*argv, "--draw", str(tmp_path / "drawn")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, images, strict=True):
        r = json.loads(line)
        assert set(r) == {"path", "boxes", "scores", "labels", "names"} and r["path"] == str(path)
        w, h = Image.open(path).size
        assert r["boxes"] and all(0 <= b[0] <= b[2] <= w and 0 <= b[1] <= b[3] <= h for b in r["boxes"])
        assert r["scores"] == sorted(r["scores"], reverse=True) and set(r["names"]) <= {"person"}
        drawn = Image.open(tmp_path / "drawn" / f"{path.stem}.png")
        assert drawn.size == (w, h) and drawn.tobytes() != Image.open(path).convert("RGB").tobytes()
    assert main([*argv[:-1], "1.0"]) == 0  # nothing scores 1: empty lists
    assert all(json.loads(x)["boxes"] == [] for x in capsys.readouterr().out.strip().splitlines())


def test_a_test_scale_reaches_eval_and_predict(run, tmp_path, capsys):
    _, data, out = run
    image = sorted((data / "PNGImages").iterdir())[0]
    assert main(["eval", "--checkpoint", str(out), "--data", str(data), "--json", "-", "--resize", "96"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["resize"] == 96 and record["images"] == 2
    argv = ["predict", "--checkpoint", str(out), str(image), "--json", "--score-threshold", "0"]
    assert main(argv) == 0
    at_own_scale = json.loads(capsys.readouterr().out.strip().splitlines()[0])["boxes"]  # the recipe's 64 px
    assert main([*argv, "--resize", "96"]) == 0
    boxes = json.loads(capsys.readouterr().out.strip().splitlines()[0])["boxes"]
    w, h = Image.open(image).size
    assert boxes and all(0 <= b[0] <= b[2] <= w and 0 <= b[1] <= b[3] <= h for b in boxes)  # back in its pixels
    assert boxes != at_own_scale  # the network saw the image at 96 px, not 64
    assert main(["detect", "predict", str(image), "--checkpoint", str(out), "--resize", "8"]) == 2
    assert "at least 32 px" in capsys.readouterr().err


def test_a_classification_checkpoint_is_refused_by_detect_and_the_reverse(run, tmp_path, capsys):
    _, data, out = run
    model = create_model("googlenet_small", num_classes=2, width=0.125)
    clf = save(tmp_path / "clf.safetensors", model, default_contract("googlenet_small", 2, width=0.125).to_meta())
    assert main(["detect", "eval", "--checkpoint", str(clf), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "classification checkpoint, not a detector" in err
    (tmp_path / "val" / "a").mkdir(parents=True)
    Image.new("RGB", (40, 40)).save(tmp_path / "val" / "a" / "x.png")
    assert main(["eval", "--checkpoint", str(out / "best.safetensors"), "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "detection checkpoint, not a classifier" in err
    assert "class folders" in err  # the shared verb: detection data is asked for


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["detect", "eval", "--checkpoint", "{out}", "--data", "{empty}"], "empty folder"),
        (["detect", "predict", "{empty}/nothing.png", "--checkpoint", "{out}"], "no such image file"),
        (["detect", "predict", "{empty}", "--checkpoint", "{out}"], "empty folder, no images"),
        (["detect", "predict", "{empty}", "--checkpoint", "{out}", "--score-threshold", "2"], "between 0 and 1"),
        (["detect", "train", "--recipe", "nope", "--out", "{empty}/r"], "unknown detection recipe"),
        (["detect", "eval", "--checkpoint", "{empty}/none.safetensors", "--data", "{empty}"], "checkpoint not found"),
        # refused before any evaluation runs: the metrics would have had nowhere to go
        (["detect", "eval", "--checkpoint", "{out}", "--data", "{empty}", "--json", "{empty}"], "is a folder"),
    ],
)
def test_bad_input_is_one_line(run, tmp_path, capsys, argv, message):
    _, _, out = run
    (tmp_path / "e").mkdir()
    argv = [a.format(out=out, empty=tmp_path / "e") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_eval_on_a_coco_json_equals_pycocotools_on_that_file(tmp_path, capsys):
    scenes = make_scenes(3, size=64, seed=21)
    ann = write_coco(tmp_path / "coco", scenes)
    kwargs = {**SMALL_DETECTOR, "box_score_thresh": 0.0}
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=3, **kwargs).eval()
    names = ["background", "rect", "ellipse"]
    ckpt = save_detector(tmp_path / "d.safetensors", model, detector_meta("fasterrcnn_googlenet", 3, kwargs, names))
    assert main(["detect", "eval", "--checkpoint", str(ckpt), "--data", str(ann), "--json", "-"]) == 0
    ours = json.loads(capsys.readouterr().out)
    results = []
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        for img in gt.dataset["images"]:
            x = torch.from_numpy(np.asarray(Image.open(tmp_path / "coco" / "images" / img["file_name"])).copy())
            with torch.no_grad():
                o = model([x.permute(2, 0, 1).float() / 255])[0]
            for b, sc, lab in zip(o["boxes"].tolist(), o["scores"].tolist(), o["labels"].tolist(), strict=True):
                xywh = [b[0], b[1], b[2] - b[0], b[3] - b[1]]
                results.append({"image_id": img["id"], "category_id": lab, "bbox": xywh, "score": sc})
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ours["images"] == 3
    for key, i in (("ap", 0), ("ap50", 1), ("ap75", 2), ("ar100", 8)):
        assert ours[key] == pytest.approx(max(ev.stats[i], 0), abs=1e-6), key


def test_an_ensemble_without_a_recorded_split_or_with_other_classes_is_refused(run, tmp_path, capsys):
    _, data, _ = run
    model = create_model("fasterrcnn_googlenet", num_classes=2, **SMALL_DETECTOR).eval()
    plain = save_detector(tmp_path / "plain.safetensors", model, detector_meta(
        "fasterrcnn_googlenet", 2, SMALL_DETECTOR, ["background", "person"]))  # fmt: skip
    assert main(["detect", "eval", "--checkpoint", str(plain), str(plain), "--data", str(data), "--split", "val"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{plain} {plain} records no split; use --split all"), err
    car = save_detector(tmp_path / "car.safetensors", model, detector_meta(
        "fasterrcnn_googlenet", 2, SMALL_DETECTOR, ["background", "car"]))  # fmt: skip
    assert main(["eval", "--checkpoint", str(plain), str(car), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "detects ['background', 'car']" in err, err


def test_a_missing_detection_package_is_one_line_naming_the_extra(run, capsys, monkeypatch):
    _, data, out = run
    for name in ("pycocotools", "pycocotools.coco", "pycocotools.cocoeval"):
        monkeypatch.setitem(__import__("sys").modules, name, None)  # importing pycocotools now fails
    assert main(["eval", "--checkpoint", str(out), str(out), "--data", str(data)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'googlenet[detect]'" in err, err
