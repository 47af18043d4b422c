"""The run folder: a new run never replaces an earlier one by accident, and a resume reads the run's own data.

One tiny run (recipe cifar10 pointed at a generated folder that is not CIFAR-10) serves every case; the refusals
train nothing, and ``--overwrite`` trains one more.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from _runs import TINY
from _synthetic import make_dataset
from googlenet.card import checkpoint_card
from googlenet.cli import main
from googlenet.train import rundir

RUN = [*TINY, "schedule.epochs=1", "data.train_subset=16", "data.val_subset=8", "data.workers=0"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(run folder, its data: ``mydata/{train,test}/<10 classes>``), trained once with ``--data mydata``."""
    root = tmp_path_factory.mktemp("rundir")
    data = make_dataset(root / "mydata", train_per_class=2, test_per_class=1)
    out = root / "run"
    assert main(["train", "--recipe", "cifar10", "--out", str(out), "--data", str(data), *RUN]) == 0
    return out, data


def _one_line_error(capsys: pytest.CaptureFixture, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err and err[-1].startswith("googlenet train: error: "), err
    return err[-1]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_records_and_card_credit_the_data_actually_read(run: tuple[Path, Path]) -> None:
    out, _ = run
    for name in ("best.json", "last.json"):
        weights = json.loads((out / name).read_text())["weights"]
        assert weights["dataset"] == "mydata", weights  # not the recipe's "cifar10": that was never read
    text, facts = checkpoint_card(str(out / "best.safetensors"))
    assert facts["training"]["dataset"] == "mydata" and "cifar10" not in text.split("## ")[1]


def test_a_new_run_into_a_run_folder_is_refused_and_keeps_it(
    run: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    out, data = run
    before = _snapshot(out)
    code = main(["train", "--recipe", "cifar10", "--out", str(out), "--data", str(data), *RUN])
    line = _one_line_error(capsys, code)
    assert "already holds a run" in line and f"--resume {out}" in line and "--overwrite" in line
    assert _snapshot(out) == before  # state.pt, steps.csv, weights: byte for byte


def test_overwrite_starts_afresh_and_keeps_foreign_files(tmp_path: Path, run: tuple[Path, Path]) -> None:
    src, data = run
    out = tmp_path / "copy"
    shutil.copytree(src, out)
    (out / "notes.txt").write_text("mine")
    (out / "steps.csv").write_text("step,epoch,loss,lr\n" + "99,9,1.0,0.1\n" * 50)  # a longer, older run
    assert main(["train", "--recipe", "cifar10", "--out", str(out), "--data", str(data), *RUN, "--overwrite"]) == 0
    steps = (out / "steps.csv").read_text().splitlines()
    assert len(steps) == 1 + 2 and not any(line.startswith("99,") for line in steps)  # 16 images / 8 = 2 steps
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["state.pt", "best.safetensors"])
def test_resume_given_a_file_names_its_folder(run: tuple[Path, Path], capsys: pytest.CaptureFixture, name: str) -> None:
    out, _ = run
    line = _one_line_error(capsys, main(["train", "--resume", str(out / name)]))
    assert "not a file" in line and f"--resume {out}" in line


def test_resume_of_a_folder_without_state_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    line = _one_line_error(capsys, main(["train", "--resume", str(tmp_path)]))
    assert "no state.pt" in line


def test_resume_on_other_classes_is_refused_naming_them(
    tmp_path: Path, run: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    out, data = run
    other = tmp_path / "other"
    shutil.copytree(data, other)
    for split in ("train", "test"):
        (other / split / "cat").rename(other / split / "kitten")
    before = _snapshot(out)
    line = _one_line_error(capsys, main(["train", "--resume", str(out), "--data", str(other), "schedule.epochs=2"]))
    assert "'cat'" in line and "'kitten'" in line and f"--data {data}" in line
    assert _snapshot(out) == before


def test_provenance_differences_by_hand() -> None:
    saved = {"dataset": "imagenette2-128", "data": None}
    classes = ["n01", "n02"]
    assert rundir.provenance_differences(saved, dict(saved, data="/moved"), classes, classes) == []
    diffs = rundir.provenance_differences(saved, dict(saved, dataset="cifar10"), classes, ["n02", "n01"])
    assert diffs[0] == "dataset 'imagenette2-128' -> 'cifar10'" and "another order" in diffs[1]


def test_a_recipe_option_the_swapped_model_lacks_is_one_correct_line(capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--recipe", "imagenette-128", "--model", "resnet18", "--print-config"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "batch_norm=True" in err and "lrn=False" in err and "model.kwargs={}" in err
    assert "num_classes" not in err  # it once named 1000 classes: the recipe's run has 10
    assert (
        main(["train", "--recipe", "imagenette-128", "--model", "resnet18", "--print-config", "model.kwargs={}"]) == 0
    )
    assert "kwargs: {}" in capsys.readouterr().out


def test_an_out_path_through_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "afile").write_text("x")
    code = main(["train", "--recipe", "cifar10", "--out", str(tmp_path / "afile" / "run"), *RUN])
    assert "is a file" in _one_line_error(capsys, code)


def test_loader_only_measures_and_writes_nothing(run: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    """``--loader-only`` (it once ended in an AttributeError on the grouped config) prints a rate, writes no run."""
    _, data = run
    args = ["--data", str(data), "--out", str(tmp_path / "r"), "data.workers=0", "data.batch_size=8"]
    assert main(["train", "--recipe", "cifar10", "--loader-only", *args]) == 0
    assert "images/s (loader only)" in capsys.readouterr().out and not (tmp_path / "r").exists()
