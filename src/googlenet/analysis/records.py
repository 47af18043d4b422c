"""The results records (``analysis/results.yaml``): one entry per finished run, read from the run's own files.

A classification entry (:func:`record`) holds what the README and ``googlenet compare --plot`` show: model, builder
options, dataset, input size, epochs, top-1 and top-5 (the best evaluated epoch), parameters and multiply-adds
(counted on the meta device at the evaluation size), training images/s, minutes of training and of evaluation, peak
memory, the precision, the machine (CPU model and matrix flags, or GPU), threads and code commit (each from the
run's ``metrics.csv`` rows, with their epochs where a resumed run went on elsewhere), date and command. Detection
entries (:func:`record_detection`, :func:`record_detection_eval`) hold COCO AP and their runs' minutes.
``scripts/results_tables.py`` appends them and renders the tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..config.legacy import saved_field
from ..device import cpu_model
from ..runtime.cpu import cpu_info
from ..weights import load_checkpoint
from .accuracy import RESULTS_FILE
from .compare import _counts


class RecordError(ValueError):
    """A folder or file that holds no finished run to record (the message says what is missing)."""


def _finished(run: Path, *names: str) -> None:
    """Refuse ``run`` unless it is a folder holding each of ``names``."""
    if not run.is_dir():
        raise RecordError(f"{run} is not a run folder")
    for name in names:
        if not (run / name).is_file():
            raise RecordError(f"{run} holds no {name}: not a finished run")


@contextmanager
def _fields_of(source: Path) -> Iterator[None]:
    """Refuse, as a :class:`RecordError`, records of another shape (an older or foreign run's files) read inside."""
    try:
        yield
    except KeyError as err:
        raise RecordError(f"{source}: its records have no field {err}") from None


def _mapping(data: object, source: Path) -> dict:
    """``data`` (a JSON file's content) if it is an object, as a run's record is; else a :class:`RecordError`."""
    if not isinstance(data, dict):
        raise RecordError(f"{source}: not a run's records (a JSON {type(data).__name__}, not an object)")
    return data


SAVED = {"dataset": "data.dataset", "input_size": "data.input_size", "threads": "precision.threads"}


def record(run: Path, command: str, study: str | None = None, note: str | None = None) -> dict:
    """One results entry for the run folder ``run`` (its best checkpoint and metrics.csv)."""
    _finished(run, "best.safetensors", "metrics.csv")
    with _fields_of(run):
        return _entry(run, command, study, note)


def _entry(run: Path, command: str, study: str | None, note: str | None) -> dict:
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    evaluated = [r for r in rows if r.get("val_acc")]
    if not evaluated:
        raise RecordError(f"{run / 'metrics.csv'} has no evaluated epoch")
    _, contract, meta = load_checkpoint(run / "best.safetensors")
    best = max(evaluated, key=lambda r: float(r["val_acc"]))
    config = {k: saved_field(meta.get("config"), path) for k, path in SAVED.items()}  # grouped or flat (older runs)
    macs, params = _counts(contract.model, contract.input_size, contract.num_classes, dict(contract.model_kwargs))
    seconds = sum(float(r["epoch_s"]) for r in rows)
    # runs since eval_s existed: the minutes their epochs' ends took on top (precise BN, evaluation)
    timed = all(r.get("eval_s") for r in rows)
    ends = {"eval_min": round(sum(float(r["eval_s"]) for r in rows) / 60, 1)} if timed else {}
    images = sum(float(r["img_per_s"]) * float(r["epoch_s"]) for r in rows)
    return {
        "model": contract.model,
        "model_args": {k: v for k, v in contract.model_kwargs.items()},
        "num_classes": contract.num_classes,
        "dataset": f"{config['dataset'] or '?'} {'test' if config.get('dataset') == 'cifar10' else 'val'}",
        "input_size": contract.input_size,
        "train_size": config.get("input_size") or contract.input_size,
        "epochs": len(rows),
        "top1": round(100 * float(best["val_acc"]), 2),
        "top5": round(100 * float(best["val_top5"]), 2),
        "params": params,
        "macs": macs,
        "train_img_s": round(images / seconds, 1) if seconds else None,
        "wall_min": round(seconds / 60, 1),
        **ends,
        "peak_mem_mib": max((float(r["peak_mem_mib"]) for r in rows if r.get("peak_mem_mib")), default=None),
        "date": dt.date.fromtimestamp((run / "metrics.csv").stat().st_mtime).isoformat(),
        **machine_fields(rows, cpu_model(), config.get("threads")),
        **({"amp": rows[-1]["amp"]} if rows[-1].get("amp") else {}),  # the precision it computed in
        "command": command,
        **({"study": study} if study else {}),
        **({"note": note} if note else {}),
    }


def ran_on(rows: list[dict], column: str) -> str | None:
    """``column``'s value over a run's epochs: the one value, or each value with its epochs where a resumed run went
    on on another machine or code ("A (epochs 1-3); B (epochs 4-5)"); None where no epoch names one."""
    groups: list[tuple[str, int, int]] = []  # (value, first epoch, last epoch)
    for row in rows:
        value, epoch = str(row.get(column) or "not recorded"), int(row["epoch"])
        if groups and groups[-1][0] == value:
            groups[-1] = (value, groups[-1][1], epoch)
        else:
            groups.append((value, epoch, epoch))
    if all(value == "not recorded" for value, _, _ in groups):
        return None
    if len(groups) == 1:
        return groups[0][0]
    return "; ".join(f"{v} (epoch{'s' if a != b else ''} {a}{f'-{b}' if a != b else ''})" for v, a, b in groups)


def machine_fields(rows: list[dict], cpu: str, threads: int | None) -> dict:
    """``cpu``, ``threads`` and ``code`` of an entry from the epochs' rows (runs since 2026-12-07 name them per
    epoch); a run from before names none, and gets this machine's CPU (``cpu``) and its config's ``threads``."""
    found = ran_on(rows, "threads")
    code = ran_on(rows, "code")
    return {
        "cpu": ran_on(rows, "machine") or cpu,
        "threads": (int(found) if found.isdigit() else found) if found else threads,
        **({"code": code} if code else {}),
    }


def append_entry(entry: dict, path: Path = RESULTS_FILE, key: str = "results") -> None:
    """Add ``entry`` to the list ``key`` of the records file (``results``: classification, ``detection``)."""
    text = path.read_text()
    block = "\n".join("  " + line for line in yaml.safe_dump([entry], sort_keys=False, width=200).splitlines())
    marker = f"\n{key}:\n"
    if marker not in text:  # the list starts at the end of the file
        path.write_text(text.rstrip("\n") + marker + block + "\n")
        return
    head, rest = text.split(marker, 1)
    lines = rest.splitlines()
    end = next((i for i, line in enumerate(lines) if line and not line.startswith((" ", "#"))), len(lines))
    body = "\n".join(lines[:end]).rstrip("\n")
    tail = "\n".join(lines[end:])
    path.write_text(head + marker + body + "\n" + block + "\n" + (tail + "\n" if tail else ""))


def record_detection(run: Path, command: str, note: str | None = None) -> dict:
    """One ``detection`` entry for a detection run folder (its metrics.json and best checkpoint's metadata)."""
    _finished(run, "metrics.json")
    try:
        result = json.loads((run / "metrics.json").read_text())
    except json.JSONDecodeError as err:
        raise RecordError(f"{run / 'metrics.json'} is not JSON ({err})") from None
    with _fields_of(run):
        return _detection_entry(run, _mapping(result, run / "metrics.json"), command, note)


def _detection_entry(run: Path, result: dict, command: str, note: str | None) -> dict:
    recipe, val = result["recipe"], result["val"]
    cpu = cpu_info()
    return {
        "model": recipe["model"],
        "init_weights": recipe.get("init_weights"),
        "model_args": recipe.get("model_kwargs") or {},
        "dataset": f"{recipe['data']} held-out split ({result['val_images']} images, seed {recipe['split']['seed']})",
        "train_images": result["train_images"],
        "epochs": recipe.get("epochs"),
        "steps": result["steps"],
        **{k: round(float(val[k]), 6) for k in ("ap", "ap50", "ap75", "ar100") if val.get(k) is not None},
        "train_min": round(result["seconds"] / 60, 1),
        **({"eval_min": round(result["eval_seconds"] / 60, 1)} if result.get("eval_seconds") is not None else {}),
        **_per_image(result),
        "amp": result.get("amp", "none"),
        "date": dt.date.fromtimestamp((run / "metrics.json").stat().st_mtime).isoformat(),
        **machine_fields(result.get("epochs") or [], cpu.describe(), recipe.get("threads")),
        "command": command,
        **({"note": note} if note else {}),
    }


def record_detection_eval(eval_json: Path, command: str, note: str | None = None) -> dict:
    """One ``detection`` entry for a ``googlenet eval --json`` record of detectors: an ensemble (its members' runs)
    or one detector at another test scale (``--resize``). Training figures are the member runs'; each member's
    minutes are kept (each trained on one core)."""
    try:
        rec = json.loads(eval_json.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RecordError(f"{eval_json}: no readable JSON record ({err})") from None
    with _fields_of(eval_json):
        members = rec["ensemble"]["members"] if "ensemble" in _mapping(rec, eval_json) else [rec["checkpoint"]]
    runs = [Path(m) if Path(m).is_dir() else Path(m).parent for m in members]
    trained = [record_detection(run, command) for run in runs]
    first = trained[0]
    keep = ("model", "init_weights", "model_args", "dataset", "train_images", "epochs", "steps")
    return {
        **{k: first[k] for k in keep if k in first},
        "members": [str(run) for run in runs],
        **({"fusion": rec["ensemble"]["fusion"]} if "ensemble" in rec else {}),
        **({"test_size": rec["resize"]} if rec.get("resize") else {}),
        **{k: round(float(rec[k]), 6) for k in ("ap", "ap50", "ap75", "ar100") if rec.get(k) is not None},
        "train_min": [t["train_min"] for t in trained] if len(trained) > 1 else first["train_min"],
        "amp": first.get("amp", "none"),
        "date": dt.date.today().isoformat(),
        "cpu": first["cpu"],
        "threads": first.get("threads"),
        "command": command,
        **({"note": note} if note else {}),
    }


def _per_image(result: dict) -> dict:
    """Seconds per held-out image: R-CNN's own figure, else the final evaluation's time over its images."""
    if result.get("seconds_per_val_image") is not None:
        return {"s_per_image": result["seconds_per_val_image"]}
    if result.get("eval_seconds") is not None and result.get("val_images"):
        return {"s_per_image": round(result["eval_seconds"] / result["val_images"], 2)}
    return {}
