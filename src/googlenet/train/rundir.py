"""The run folder: a new run never replaces an earlier one by accident, and a resumed run reads what it read before.

Convention (``googlenet train``): ``--out DIR`` starts a new run in an empty or new folder. A folder that already
holds a run (any of :data:`RUN_FILES`) is refused with one line naming the two ways on: ``--resume DIR`` continues
that run, ``--overwrite`` removes its files and starts afresh. ``--resume`` takes the run folder (not one of its
files), and refuses another dataset or class list than the run's (:func:`provenance_differences`).

Everything here takes paths and plain dicts (a saved config, class names), so the CLI and the tests call it alike.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError

STATE = "state.pt"
# what `googlenet train` writes into its folder (the weights' .json twins are found beside them)
RUN_FILES = (
    STATE,
    "steps.csv",
    "metrics.csv",
    "config.yaml",
    "curves.png",
    "best.safetensors",
    "last.safetensors",
    "ema.safetensors",
)
RUN_GLOBS = ("last_rank*.safetensors", "best.json", "last.json", "ema.json", "last_rank*.json")
RUN_DIRS = ("tb",)


def run_files(folder: str | os.PathLike) -> list[Path]:
    """The files and folders of a training run found in ``folder`` (empty when it holds none, or is absent)."""
    root = Path(folder)
    if not root.is_dir():
        return []
    found = [root / n for n in RUN_FILES if (root / n).is_file()]
    found += sorted(p for g in RUN_GLOBS for p in root.glob(g) if p.is_file())
    found += [root / n for n in RUN_DIRS if (root / n).is_dir()]
    return found


def holds_run(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a training run's state, weights or records."""
    return any(p.name in RUN_FILES for p in run_files(folder))


def check_writable_folder(folder: str | os.PathLike, what: str = "--out") -> None:
    """Refuse a folder that cannot be created or written: a file in its place or on its path, no permission."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {folder}: a file is there, not a folder")
    probe = path
    while not probe.exists():  # the nearest existing folder is where the missing ones will be created
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UserError(f"{what} {folder}: {probe} is a file, not a folder")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"{what} {folder}: no permission to write in {probe}")


def check_new_run(out: str | os.PathLike, overwrite: bool = False) -> None:
    """A new run may go into ``out``: it is writable and holds no run, or ``overwrite`` clears the run there."""
    check_writable_folder(out)
    if holds_run(out):
        if not overwrite:
            names = ", ".join(p.name for p in run_files(out)[:4])
            raise UserError(
                f"{out} already holds a run ({names}...): continue it with --resume {out}, or pass --overwrite "
                "to replace it with a new run"
            )
        clear_run(out)


def clear_run(out: str | os.PathLike) -> list[Path]:
    """Remove the run's own files from ``out`` (anything else the user put there stays); returns what went."""
    gone = run_files(out)
    for p in gone:  # another process of the same launch may be clearing too: a file already gone is fine
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return gone


def check_resume_dir(path: str | os.PathLike) -> Path:
    """``--resume`` names a run folder holding ``state.pt``; a file or a folder without one is one line."""
    run = Path(path)
    if run.is_file():
        parent = run.parent if (run.parent / STATE).is_file() else None
        hint = f" (this run's folder: --resume {parent})" if parent is not None else ""
        raise UserError(f"--resume takes a run folder, not a file: {path}{hint}")
    if not run.is_dir():
        raise UserError(f"--resume {path}: no such run folder")
    if not (run / STATE).is_file():
        raise UserError(f"--resume {path}: no {STATE} there, so nothing to resume (start a run with --out {path})")
    return run


def saved_class_names(run: str | os.PathLike) -> list[str] | None:
    """The class names the run's weights were trained on (from ``last.json`` or ``best.json``), or None."""
    for name in ("last.json", "best.json"):
        path = Path(run) / name
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        names = meta.get("class_names") if isinstance(meta, dict) else None
        if isinstance(names, list):
            return [str(n) for n in names]
    return None


def provenance_differences(
    saved: dict[str, Any],
    asked: dict[str, Any],
    saved_classes: Sequence[str] | None,
    read_classes: Sequence[str],
) -> list[str]:
    """What a resumed run would read that differs from what it trained on: dataset, data path, class list.

    ``saved`` / ``asked`` are the run's saved config and the resumed one (plain dicts with ``dataset`` and
    ``data``); ``saved_classes`` the class names in the run's weights, ``read_classes`` those of the data now read.
    A data path that moved but holds the same classes is not a difference (data may move between machines).
    """
    diffs = []
    if saved.get("dataset") != asked.get("dataset"):
        diffs.append(f"dataset {saved.get('dataset')!r} -> {asked.get('dataset')!r}")
    if saved_classes is not None and list(saved_classes) != list(read_classes):
        gone = [c for c in saved_classes if c not in read_classes]
        new = [c for c in read_classes if c not in saved_classes]
        what = f"{len(saved_classes)} -> {len(read_classes)} classes"
        if gone or new:
            what += f" (missing {_few(gone)}; new {_few(new)})"
        else:
            what += " (the same names in another order)"
        where = f" at {asked.get('data')}" if asked.get("data") != saved.get("data") else ""
        diffs.append(f"class list{where}: {what}")
    return diffs


def check_provenance(
    run: str | os.PathLike,
    saved: dict[str, Any],
    asked: dict[str, Any],
    saved_classes: Sequence[str] | None,
    read_classes: Sequence[str],
) -> None:
    """Refuse, in one line, a resume that would train on other data than the run's."""
    diffs = provenance_differences(saved, asked, saved_classes, read_classes)
    if diffs:
        where = f"--data {saved['data']}" if saved.get("data") else "no --data (the run read the default place)"
        raise UserError(
            f"--resume {run} would train on other data than the run did: {'; '.join(diffs)}. Resume with "
            f"{where}, or start a new run with --out"
        )


def _few(names: Sequence[str], n: int = 3) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(c) for c in names[:n])
    return shown + (f" and {len(names) - n} more" if len(names) > n else "")
