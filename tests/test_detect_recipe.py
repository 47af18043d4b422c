"""The shipped detection recipes load; a bad recipe is one line; an R-CNN recipe trains and evaluates."""

from __future__ import annotations

import json

import pytest
import yaml

from _synthetic_det import make_scenes, write_pennfudan
from googlenet.cli import main
from googlenet.detect.recipe import load_recipe, recipe_names
from googlenet.registry import model_info


def test_the_shipped_recipe_loads_and_names_a_registered_detector():
    assert "pennfudan-fasterrcnn" in recipe_names()
    r = load_recipe("pennfudan-fasterrcnn", epochs=3, init_weights=None)
    assert r.epochs == 3 and r.task == "detect" and r.split == {"val_fraction": 0.2, "seed": 0}
    assert model_info(r.model).task == "detect" and r.num_classes == 2
    assert load_recipe("pennfudan-rcnn").model_kwargs["classifier"] == "googlenet"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochz: 3\n", "unknown field 'epochz'"),
        ("- 1\n", "a recipe is a mapping"),
        ("task: classify\n", "not a detection recipe"),
    ],
)
def test_a_bad_recipe_is_one_line(tmp_path, capsys, text, message):
    (tmp_path / "r.yaml").write_text(text)
    assert main(["detect", "train", "--recipe", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_an_rcnn_recipe_trains_the_region_classifier_and_eval_runs_the_pipeline(tmp_path, capsys):
    data = write_pennfudan(tmp_path / "PennFudanPed", make_scenes(6, size=64, seed=4, shapes=("rect",)))
    recipe = {
        "model": "rcnn",
        "num_classes": 2,
        "lr": 0.01,
        "threads": 1,
        "model_kwargs": {"classifier": "googlenet", "classifier_kwargs": {"width": 0.125}, "input_size": 64,
                         "max_side": 64, "steps": 3, "batch_size": 8},
    }  # fmt: skip
    (tmp_path / "rcnn.yaml").write_text(yaml.safe_dump(recipe))
    out = tmp_path / "run"
    argv = ["detect", "train", "--recipe", str(tmp_path / "rcnn.yaml"), "--data", str(data), "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["steps"] == 3 and result["positive_windows"] > 0 and result["seconds_per_val_image"] > 0
    meta = json.loads((out / "best.json").read_text())
    assert meta["rcnn"]["input_size"] == 64 and meta["class_names"] == ["background", "person"]
    assert main(["detect", "eval", "--checkpoint", str(out), "--data", str(data), "--json", "-"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["images"] == 1 and printed["ap50"] == result["val"]["ap50"]  # the same split, the same pipeline
