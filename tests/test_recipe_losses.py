"""Every shipped recipe trains to the losses recorded before the second redesign (issue 24), for the same seed.

``tests/data/recipe_losses.json`` was written by ``python tests/test_recipe_losses.py --record`` on the code as it
stood before the redesign (commit 2c85bd0): each recipe, shrunk to a few steps of a narrow network on the suite's
generated images, with its optimiser, schedule, augmentation, loss and precision settings as written. A refactor
that changes what a recipe computes changes these losses.

``cifar10`` was recorded again when the recipe took ``data.in_memory: true`` (batches augmented in one seeded pass
draw other crops than files augmented one by one); the recipe with ``data.in_memory=false`` still gives the losses
recorded before, and is pinned under that name. ``imagenette-128-e20`` likewise when it took label smoothing 0.2
(session 16): its earlier losses are pinned as ``imagenette-128-e20 optim.label_smoothing=0.1``.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from googlenet.cli import main
from googlenet.config import list_recipes, load_recipe

RECORD = Path(__file__).parent / "data" / "recipe_losses.json"
STEPS = 3


def shrink(recipe: str, dataset: Path, out: Path) -> list[str]:
    """``googlenet train`` arguments: the recipe, on ``dataset``, a narrow network, ``STEPS`` steps, one thread."""
    small_stem = load_recipe(recipe).model.name == "googlenet_small"
    return [
        "train",
        "--recipe",
        recipe,
        "--out",
        str(out),
        f"data.dataset={dataset}",
        "schedule.epochs=1",
        f"schedule.max_steps={STEPS}",
        "data.batch_size=8",
        "data.workers=0",
        "precision.threads=1",
        "log.progress=false",
        "checkpoint.save_every_steps=0",
        "data.val_subset=8",
        "optim.precise_bn_batches=0",
        "model.kwargs.width=0.125",
        f"data.input_size={32 if small_stem else 96}",
        "precision.amp=none",  # bf16 speed differs by CPU, not the arithmetic this test pins
    ]


def losses(out: Path) -> list[float]:
    with open(out / "steps.csv") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


# every shipped recipe, and cifar10 and imagenette-128-e20 as first recorded
CASES = [*list_recipes(), "cifar10 data.in_memory=false", "imagenette-128-e20 optim.label_smoothing=0.1"]


def run_recipe(recipe: str, dataset: Path, out: Path) -> list[float]:
    """``recipe``: a shipped recipe's name, optionally followed by overrides (``"cifar10 data.in_memory=false"``)."""
    name, *overrides = recipe.split()
    assert main([*shrink(name, dataset, out), *overrides]) == 0
    return losses(out)


@pytest.mark.parametrize("recipe", CASES)
def test_recipe_trains_to_the_recorded_losses(recipe: str, synthetic_root: Path, tmp_path: Path) -> None:
    recorded = json.loads(RECORD.read_text())
    assert recipe in recorded, f"no recorded losses for {recipe}: record them from the code before a change"
    got = run_recipe(recipe, synthetic_root, tmp_path / "run")
    assert len(got) == STEPS
    # float32 kernels differ a little between CPUs (AVX2, AVX-512, AMX); a changed recipe moves the loss far more
    assert got == pytest.approx(recorded[recipe], rel=2e-3)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile

    from _synthetic import make_dataset

    with tempfile.TemporaryDirectory() as tmp:
        data = make_dataset(Path(tmp) / "synthetic")
        record = {r: run_recipe(r, data, Path(tmp) / r.replace(" ", "_")) for r in CASES}
    RECORD.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
