"""scripts/lever_runs.sh: one run per lever, each recorded in its own folder, finished ones skipped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from _runs import TINY, env, read_csv
from googlenet.config import parse_overrides

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "lever_runs.sh"


def test_each_lever_gets_its_run_and_a_finished_one_is_skipped(synthetic_root: Path, tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.yaml"
    fields = parse_overrides(
        [*TINY, f"data.dataset={synthetic_root}", "schedule.epochs=1", "data.train_subset=32", "data.workers=0"]
    )
    recipe.write_text(yaml.safe_dump(fields))
    e = {**env(), "GOOGLENET": f"{sys.executable} -m googlenet"}
    levers = ["base", "ls:optim.label_smoothing=0.2 optim.lr=0.02"]
    r = subprocess.run(
        ["bash", str(SCRIPT), str(tmp_path / "levers"), str(recipe), *levers],
        env=e,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "base: exit 0" in r.stdout and "ls: exit 0" in r.stdout
    saved = yaml.safe_load((tmp_path / "levers" / "ls" / "config.yaml").read_text())
    assert saved["optim"]["label_smoothing"] == 0.2 and saved["optim"]["lr"] == 0.02  # the lever, on the recipe
    assert yaml.safe_load((tmp_path / "levers" / "base" / "config.yaml").read_text())["optim"]["lr"] == 0.05
    assert len(read_csv(tmp_path / "levers" / "ls" / "metrics.csv")) == 1
    again = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "levers"), str(recipe), *levers], env=e,
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert again.returncode == 0 and "base: done" in again.stdout and "ls: done" in again.stdout


def test_compare_runs_skips_a_run_with_every_epoch_of_its_recipe(tmp_path: Path) -> None:
    """scripts/compare_runs.sh reads the epochs from the recipe (``--print-config``), not a number of its own."""
    script = SCRIPT.parent / "compare_runs.sh"
    recipe = yaml.safe_load((SCRIPT.parents[1] / "src/googlenet/recipes/imagenette-compare.yaml").read_text())
    epochs = recipe["schedule"]["epochs"]
    for model in ("alexnet_tv", "googlenet"):  # googlenet: the run with an override of its own
        (tmp_path / model).mkdir()
        (tmp_path / model / "metrics.csv").write_text("epoch\n" + "".join(f"{i}\n" for i in range(1, epochs + 1)))
    e = {**env(), "GOOGLENET": f"{sys.executable} -m googlenet"}
    r = subprocess.run(["bash", str(script), str(tmp_path), "alexnet_tv", "googlenet"], env=e, capture_output=True,
                       text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        f"alexnet_tv: done ({tmp_path}/alexnet_tv)",
        f"googlenet: done ({tmp_path}/googlenet)",
    ]
