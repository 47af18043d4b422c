"""The shipped detection recipe builds its model; a recipe with a field the loader does not know is one line."""

from __future__ import annotations

import pytest

from googlenet.cli import main
from googlenet.detect.recipe import load_recipe, recipe_names
from googlenet.registry import model_info


def test_the_shipped_recipe_loads_and_names_a_registered_detector():
    assert "pennfudan-fasterrcnn" in recipe_names()
    r = load_recipe("pennfudan-fasterrcnn", epochs=3, init_weights=None)
    assert r.epochs == 3 and r.task == "detection" and r.split == {"val_fraction": 0.2, "seed": 0}
    assert model_info(r.model).task == "detection" and r.num_classes == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochz: 3\n", "unknown field 'epochz'"),
        ("- 1\n", "a recipe is a mapping"),
        ("task: classification\n", "not a detection recipe"),
    ],
)
def test_a_bad_recipe_is_one_line(tmp_path, capsys, text, message):
    (tmp_path / "r.yaml").write_text(text)
    assert main(["detect", "train", "--recipe", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
