"""Detection through the classification verbs (``googlenet train|eval|predict``), resumed bit-exactly after an
interruption, with its records (``metrics.csv``, ``steps.csv``, ``curves.png``); on generated Penn-Fudan data."""

from __future__ import annotations

import csv
import json

import pytest
import torch
import yaml

from _runs import this_cpu
from _synthetic_det import SMALL_DETECTOR, make_scenes, one_thread, write_pennfudan, write_tiny_recipe
from googlenet.cli import main
from googlenet.detect import loop
from googlenet.detect.loop import epoch_batches
from googlenet.detect.recipe import load_recipe
from googlenet.detect.run import train_from_recipe
from googlenet.train.state import load_state

_ = one_thread  # autouse

SCENES = make_scenes(8, size=64, seed=5, shapes=("rect",))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("detres")
    pf = write_pennfudan(root / "PennFudanPed", SCENES)
    write_tiny_recipe(root / "tiny.yaml")
    return root, pf


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_epoch_batches_cover_every_image_once_and_depend_on_seed_and_epoch_only():
    a = epoch_batches(7, 2, seed=3, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(7)) and [len(b) for b in a] == [2, 2, 2, 1]
    assert a == epoch_batches(7, 2, seed=3, epoch=1)
    assert a != epoch_batches(7, 2, seed=3, epoch=2) or a != epoch_batches(7, 2, seed=4, epoch=1)


def test_an_interrupted_run_resumes_to_the_same_losses_bit_exactly(data, tmp_path, monkeypatch):
    root, pf = data
    recipe = load_recipe(root / "tiny.yaml")
    whole = train_from_recipe(recipe, tmp_path / "whole", pf)  # 6 train images: 3 steps an epoch, 6 in all
    assert whole["steps"] == 6

    calls = {"n": 0}
    real_step = loop.train_step

    def killed_at_step_5(*args, **kwargs):  # the 5th step dies (Ctrl-C) before it is taken
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", killed_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train_from_recipe(recipe, tmp_path / "cut", pf)
    monkeypatch.setattr(loop, "train_step", real_step)
    state = load_state(tmp_path / "cut")
    assert state["step"] == 4 and state["task"] == "detect"  # saved on the interruption, mid-epoch 2

    assert main(["train", "--resume", str(tmp_path / "cut")]) == 0
    resumed = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    first = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    steps, whole_steps = (_rows(tmp_path / run / "steps.csv") for run in ("cut", "whole"))
    assert [float(r["loss"]) for r in steps] == [float(r["loss"]) for r in whole_steps]  # every step, to the bit
    assert resumed["last_loss"] == first["last_loss"] and resumed["val"] == first["val"]
    a = torch.load(tmp_path / "whole" / "state.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "state.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_verb_takes_a_detection_recipe_and_writes_its_records(data, tmp_path, capsys):
    root, pf = data
    out = tmp_path / "run"
    args = ["train", "--recipe", str(root / "tiny.yaml"), "--data", str(pf), "--out", str(out), "epochs=1"]
    assert main([*args, "val_every_epoch=true"]) == 0
    assert "AP50" in capsys.readouterr().out
    rows = _rows(out / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1"] and rows[0]["step"] == "3" and rows[0]["ap50"] != ""
    assert rows[0]["machine"].startswith(this_cpu()[0] + " (") and rows[0]["code"]  # what the epoch ran on
    assert rows[0]["threads"] == str(torch.get_num_threads())  # in this process, as main() set them
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    meta = json.loads((out / "best.json").read_text())
    assert meta["task"] == "detect" and meta["config"]["epochs"] == 1 and meta["amp"] == "none"
    # the same folder again: refused, nothing lost; --overwrite starts afresh
    assert main(args) == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "best.safetensors").is_file()


def test_eval_and_predict_verbs_take_a_detector(data, tmp_path, capsys):
    root, pf = data
    out = tmp_path / "run"
    assert main(["detect", "train", "--recipe", str(root / "tiny.yaml"), "--data", str(pf), "--out", str(out),
                 "--max-steps", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out / "best.safetensors"), "--data", str(pf), "--json", "-"]) == 0
    via_eval = json.loads(capsys.readouterr().out)
    assert main(["detect", "eval", "--checkpoint", str(out), "--data", str(pf), "--json", "-"]) == 0
    via_detect = json.loads(capsys.readouterr().out)
    assert via_eval["images"] == 2 and {k: via_eval[k] for k in ("ap", "ap50")} == {
        k: via_detect[k] for k in ("ap", "ap50")
    }
    image = pf / "PNGImages" / "img000.png"
    draw = tmp_path / "drawn"
    args = ["predict", "--checkpoint", str(out), str(image), "--json", "--score-threshold", "0", "--draw", str(draw)]
    assert main(args) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[0])
    assert line["path"] == str(image) and set(line) == {"path", "boxes", "scores", "labels", "names"}
    assert (draw / "img000.png").is_file()
    # classification options with a detector, and --draw with a classifier: one line each
    assert main(["eval", "--checkpoint", str(out), "--data", str(pf), "--crops", "10"]) == 2
    assert "classification option" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(out), str(image), "--cam", str(tmp_path / "cam")]) == 2
    assert "classification option" in capsys.readouterr().err
    assert main(["detect", "train", "--resume", str(out), "--epochs", "3"]) == 2  # a resume keeps its recipe
    assert "--resume DIR alone" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["lr=abc"], "lr must be"),
        (["amp=fp8"], "amp 'fp8' is not one of"),
        (["bogus=1"], "unknown field 'bogus'"),
        (["epochs=0"], "epochs must be positive"),
        (["--compile"], "--compile is a classification option"),
    ],
)
def test_bad_detection_overrides_are_one_line(data, tmp_path, capsys, extra, message):
    root, pf = data
    code = main(["train", "--recipe", str(root / "tiny.yaml"), "--data", str(pf), "--out", str(tmp_path / "r"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_resume_of_nothing_is_one_line(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert main(["detect", "train", "--resume", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("error" in line for line in err)


def test_a_detector_started_from_a_classification_checkpoint_loads_and_resumes(data, tmp_path, capsys, monkeypatch):
    """The backbone's own options (batch norm, width, no LRN) and normalisation are saved with the detector, so
    eval rebuilds it without the starting file, and a resume rebuilds the same frozen stem."""
    from googlenet import create_model
    from googlenet.factory import default_contract
    from googlenet.weights import save

    root, pf = data
    options = {"width": 0.25, "batch_norm": True, "lrn": False}
    contract = default_contract("googlenet", 10, **options).to_meta()
    start = save(tmp_path / "cls.safetensors", create_model("googlenet", num_classes=10, **options), contract)
    kwargs = {k: v for k, v in SMALL_DETECTOR.items() if k != "backbone_kwargs"}
    recipe = yaml.safe_load((root / "tiny.yaml").read_text())
    recipe.update(model_kwargs={**kwargs, "box_score_thresh": 0.0}, init_weights=str(start), epochs=1)
    (tmp_path / "from-cls.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    calls = {"n": 0}
    real_step = loop.train_step

    def killed_at_step_2(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "train_step", killed_at_step_2)
    argv = ["train", "--recipe", str(tmp_path / "from-cls.yaml"), "--data", str(pf), "--out", str(out)]
    assert main(argv) == 130  # interrupted: the state is saved
    monkeypatch.setattr(loop, "train_step", real_step)
    assert main(["train", "--resume", str(out)]) == 0
    meta = json.loads((out / "best.json").read_text())
    assert meta["model_kwargs"]["backbone_kwargs"] == options and "backbone_weights" not in meta["model_kwargs"]
    start.unlink()  # the detector is whole without its starting checkpoint
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out), "--data", str(pf), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 2
