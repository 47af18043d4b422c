"""What a run's records say it ran on: the code version (``googlenet.runtime.machine.code_version``) against
repositories made here with git, and the per-epoch machine column as ``scripts/results_tables.py`` reads it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from googlenet.runtime import machine


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding a package folder ``pkg`` with an ``__init__.py`` committed."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("x = 1\n")
    git(root, "init", "-q")
    git(root, "add", "pkg/__init__.py")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return root


def version_of(package: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(machine, "PACKAGE", package)
    machine.code_version.cache_clear()
    try:
        return machine.code_version()
    finally:
        machine.code_version.cache_clear()


def test_a_checkout_names_its_commit_and_its_changes(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert version_of(repo / "pkg", monkeypatch) == f"git {head[:12]}"
    (repo / "pkg" / "__init__.py").write_text("x = 2\n")  # a tracked file changed: not that commit's code
    assert version_of(repo / "pkg", monkeypatch) == f"git {head[:12]}+changes"


def test_a_copy_inside_another_repository_is_not_that_repository(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed copy in a virtual environment inside some clone: the clone's commit is not the package's code."""
    from googlenet import __version__

    copy = repo / ".venv" / "site-packages" / "pkg"
    copy.mkdir(parents=True)
    (copy / "__init__.py").write_text("x = 1\n")  # untracked there
    assert version_of(copy, monkeypatch) == f"googlenet {__version__}"
    assert version_of(Path("/"), monkeypatch) == f"googlenet {__version__}"  # no repository at all


def test_the_machine_column_over_a_resumed_run() -> None:
    from googlenet.analysis import records as script

    rows = [{"epoch": "1", "machine": "A"}, {"epoch": "2", "machine": "A"}, {"epoch": "3", "machine": "B"}]
    assert script.ran_on(rows, "machine") == "A (epochs 1-2); B (epoch 3)"
    assert script.ran_on(rows[:2], "machine") == "A"
    old = [{"epoch": "1", "machine": ""}, {"epoch": "2"}]  # epochs from before the column: nothing to say
    assert script.ran_on(old, "machine") is None
    assert script.ran_on([*old, {"epoch": "3", "machine": "B"}], "machine") == "not recorded (epochs 1-2); B (epoch 3)"


def test_a_detection_record_names_the_machines_of_its_epochs(tmp_path: Path) -> None:
    import json

    from googlenet.analysis.records import record_detection

    epochs = [{"epoch": 1, "machine": "CPU X (avx2, fma)", "threads": 1, "code": "git a1"},
              {"epoch": 2, "machine": "CPU X (avx2, fma)", "threads": 1, "code": "git a1"}]  # fmt: skip
    result = {"recipe": {"model": "fasterrcnn_googlenet", "data": "pennfudan", "split": {"seed": 0}, "threads": 4},
              "val_images": 30, "train_images": 120, "steps": 10, "seconds": 600.0, "amp": "none",
              "val": {"ap": 0.4, "ap50": 0.8}, "epochs": epochs}  # fmt: skip
    (tmp_path / "metrics.json").write_text(json.dumps(result))
    entry = record_detection(tmp_path, "googlenet train ...")
    assert (entry["cpu"], entry["threads"], entry["code"]) == ("CPU X (avx2, fma)", 1, "git a1")  # not the recipe's 4
    for e in epochs:
        del e["machine"], e["threads"], e["code"]  # a run from before the fields: this CPU, the recipe's threads
    (tmp_path / "metrics.json").write_text(json.dumps(result))
    entry = record_detection(tmp_path, "googlenet train ...")
    assert entry["threads"] == 4 and "code" not in entry and entry["cpu"] != "CPU X (avx2, fma)"
