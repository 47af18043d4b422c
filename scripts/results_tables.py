"""Record a finished run into ``analysis/results.yaml``, and print the README's results tables from the records.

    python scripts/results_tables.py record RUN_DIR --command "googlenet train ..."   # append one entry
    python scripts/results_tables.py record RUN_DIR --study compare --command "..."   # one of a study's runs
    python scripts/results_tables.py bench BENCH.json --command "googlenet bench ..."  # keep a bench result
    python scripts/results_tables.py detection RUN_DIR --command "googlenet train ..."  # a detection run
    python scripts/results_tables.py tables                                           # Markdown tables
    python scripts/results_tables.py readme                                           # rewrite README's tables

An entry (:mod:`googlenet.analysis.records`) holds what the README and ``googlenet compare --plot`` show: model,
builder options, dataset, input size, epochs, top-1 and top-5, parameters and multiply-adds, training images/s,
minutes and peak memory, precision, the machine (CPU model and flags), threads and code commit that the run's
``metrics.csv`` names, date and command; ``study`` groups the runs of one experiment: ``compare`` (the classic
CNNs under one recipe, the paper's efficiency argument) and ``levers`` (one training lever changed per run) get
tables of their own.
Speed ratios come from ``googlenet bench --json`` files kept in ``docs/results/``. The README's tables sit
between ``<!-- results:... -->`` markers and are rewritten from these files only, so they cannot drift.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

import yaml

from googlenet.analysis.accuracy import RESULTS_FILE
from googlenet.analysis.goals import GOALS, Goal, minutes
from googlenet.analysis.records import RecordError, append_entry, record, record_detection, record_detection_eval
from googlenet.weights import CheckpointError

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "docs" / "results"
README = ROOT / "README.md"
RESULTS_PAGE = ROOT / "docs" / "results.md"
# the pages holding <!-- results:NAME --> blocks
TABLE_PAGES = (README, ROOT / "docs" / "training.md", RESULTS_PAGE, ROOT / "docs" / "detection.md")


def _detector(entry: dict) -> str:
    """The detector's name in the tables: with its member count (an ensemble) and test scale where recorded."""
    name = entry["model"] + (f" x{len(entry['members'])}" if len(entry.get("members") or []) > 1 else "")
    return name + (f", test {entry['test_size']}" if entry.get("test_size") else "")


def _train_min(entry: dict) -> str:
    """Training minutes: one run's, or each member's (one core each)."""
    t = entry["train_min"]
    return " + ".join(f"{v}" for v in t) + " min (a core each)" if isinstance(t, list) else f"{t} min"


def detection_brief(path: Path = RESULTS_FILE) -> str:
    """The README's detection table: the best run (by AP) of each detector, with its backbone start, AP50 and AP on
    the held-out images, training minutes and the command; every run is in docs/detection.md's table."""
    best: dict[str, dict] = {}
    for e in detection_entries(path):
        key = _detector(e).split(",")[0]
        if key not in best or e["ap"] > best[key]["ap"]:
            best[key] = e
    rows = [
        [_detector(e), _start(e), f"{e['ap50']:.3f}", f"{e['ap']:.3f}", _train_min(e), f"`{e['command']}`"]
        for e in best.values()
    ]
    return _markdown("detector|backbone start|AP50:|AP:|training:|command", rows)


def _start(entry: dict) -> str:
    """The backbone's start: the run folder of its checkpoint, or ``random``."""
    return Path(entry["init_weights"]).parent.name if entry.get("init_weights") else "random"


def detection_entries(path: Path = RESULTS_FILE) -> list[dict]:
    return (yaml.safe_load(path.read_text()) or {}).get("detection") or []


def detection_table(path: Path = RESULTS_FILE) -> str:
    """The detection runs: COCO AP by pycocotools on the held-out images, training minutes, seconds per image."""
    columns = "detector|backbone start|AP50:|AP:|AP75:|AR100:|training:|s / val image:|precision|date, CPU|command"
    rows = []
    for e in detection_entries(path):
        start = _start(e)
        per_image = f"{e['s_per_image']:.1f}" if e.get("s_per_image") is not None else "-"
        rows.append(
            [_detector(e), start, f"{e['ap50']:.3f}", f"{e['ap']:.3f}", f"{e.get('ap75', 0):.3f}",
             f"{e.get('ar100', 0):.3f}", _train_min(e), per_image, e.get("amp", "none"),
             f"{e['date']}, {e['cpu']}", f"`{e['command']}`"]
        )  # fmt: skip
    return _markdown(columns, rows)


def _fmt_counts(n: int | None, unit: str) -> str:
    if not n:
        return "-"
    return f"{n / 1e9:.2f} G{unit}" if n >= 1e9 else f"{n / 1e6:.1f} M{unit}"


def entries(study: str | None = None, path: Path = RESULTS_FILE) -> list[dict]:
    """The recorded runs of ``study`` (None: those of no study) that say when and on what they ran."""
    found = (yaml.safe_load(path.read_text()) or {}).get("results") or []
    return [e for e in found if e.get("date") and e.get("cpu") and e.get("study") == study]


def _name(e: dict) -> str:
    args = ",".join(f"{k}={str(v).lower()}" for k, v in sorted((e.get("model_args") or {}).items()))
    return f"{e['model']} {args}" if args else e["model"]


def _where(e: dict) -> str:
    where = ", ".join(str(e[k]) for k in ("date", "cpu") if e.get(k)) or "-"
    return where + (f", {e['threads']} thread(s)" if e.get("threads") else "")


def _pct(value: float | None) -> str:
    return f"{value:.2f} %" if value is not None else "-"


def _mib(e: dict) -> str:
    return f"{e['peak_mem_mib']:.0f}" if e.get("peak_mem_mib") else "-"


def _time(e: dict) -> str:
    """Training minutes, and the epochs' ends (precise BN, evaluation) on top where the run timed them."""
    if e.get("wall_min") is None:
        return "-"
    return f"{e['wall_min']} min" + (f" + {e['eval_min']} eval" if e.get("eval_min") is not None else "")


def _markdown(columns: str, rows: list[list[str]]) -> str:
    """A Markdown table: ``columns`` is "name|name:|..." (a trailing colon right-aligns), one row per cell list."""
    names = columns.split("|")
    header = "| " + " | ".join(n.rstrip(":") for n in names) + " |"
    rule = "|" + "|".join("---:" if n.endswith(":") else "---" for n in names) + "|"
    return "\n".join([header, rule, *("| " + " | ".join(cells) + " |" for cells in rows)])


def _run_name(e: dict) -> str:
    """The run folder's name, from the ``--out`` of the entry's command."""
    return e["command"].split("--out ")[-1].split()[0].rstrip("/").rsplit("/", 1)[-1]


def compare_table(path: Path = RESULTS_FILE) -> str:
    """The ``compare`` study, ordered by multiply-adds: accuracy against compute and size."""
    runs = sorted(entries("compare", path), key=lambda e: e.get("macs") or 0)
    columns = "model|top-1:|top-5:|params:|MACs (eval):|train img/s:|training time:|peak MiB:|date, CPU, threads"
    columns += "|command"
    rows = [
        [_name(e), _pct(e["top1"]), _pct(e.get("top5")), _fmt_counts(e.get("params"), ""),
         _fmt_counts(e.get("macs"), ""), str(e.get("train_img_s") or "-"), _time(e), _mib(e), _where(e),
         f"`{e['command']}`"]
        for e in runs
    ]  # fmt: skip
    return _markdown(columns, rows)


def headline_table(path: Path = RESULTS_FILE) -> str:
    """The README's one table: the ``compare`` study (one recipe, the paper's networks and those around it)."""
    runs = sorted(entries("compare", path), key=lambda e: e.get("macs") or 0)
    columns = "model|Imagenette top-1:|params:|MACs:|command"
    rows = [
        [_name(e), _pct(e["top1"]), _fmt_counts(e.get("params"), ""), _fmt_counts(e.get("macs"), ""),
         f"`{e['command']}`"]
        for e in runs
    ]  # fmt: skip
    return _markdown(columns, rows)


def lever_table(path: Path = RESULTS_FILE) -> str:
    """The ``levers`` study in the order run, each against the first (the baseline): top-1 change, wall time."""
    runs = entries("levers", path)
    base = runs[0]["top1"] if runs else 0.0
    columns = "run|top-1:|Δ top-1:|top-5:|train img/s:|training time:|peak MiB:|note|date, CPU, threads|command"
    rows = [
        [_run_name(e), _pct(e["top1"]), f"{e['top1'] - base:+.2f}", _pct(e.get("top5")),
         str(e.get("train_img_s") or "-"), _time(e), _mib(e), e.get("note", ""), _where(e),
         f"`{e['command']}`"]
        for e in runs
    ]  # fmt: skip
    return _markdown(columns, rows)


def _goal_rows(path: Path) -> list[tuple[Goal, dict | None]]:
    found = (yaml.safe_load(path.read_text()) or {}).get("results") or []
    return [(goal, goal.best(found)) for goal in GOALS]


def _reached(goal: Goal, e: dict | None) -> str:
    if e is None:
        return "no run yet"
    return f"{e['top1']:.2f} % ({'met' if e['top1'] >= goal.top1 else 'not met'})"


def goals_table(path: Path = RESULTS_FILE) -> str:
    """Each training goal of issue 28 against the recorded run closest to it, with its minutes, speed and machine."""
    columns = "goal|target:|best recorded:|run|epochs:|minutes (train + eval):|train img/s:|precision"
    columns += "|date, CPU, threads|command"
    rows = [
        [goal.name, f"{goal.top1:.0f} %", _reached(goal, e)]
        + (["-"] * 7 if e is None else
           [_run_name(e), str(e.get("epochs", "-")), f"{e['wall_min']} + {e['eval_min']}",
            str(e.get("train_img_s") or "-"), {"bf16": "bf16", "none": "fp32"}.get(e.get("amp", "none"), e.get("amp")),
            _where(e), f"`{e['command']}`"])
        for goal, e in _goal_rows(path)
    ]  # fmt: skip
    return _markdown(columns, rows)


def same_recipe(command: str) -> str | None:
    """The shipped recipe whose config equals that of ``command`` (``googlenet train --recipe R --out D`` with
    overrides of R), if another one does; None for any other command."""
    from googlenet.config import list_recipes, load_recipe, parse_overrides

    words = command.split()
    if words[:3] != ["googlenet", "train", "--recipe"] or len(words) < 6 or words[4] != "--out":
        return None
    overrides = words[6:]
    if not overrides or not all("=" in w and not w.startswith("-") for w in overrides):
        return None  # no overrides (the command is the recipe's) or other options (--model, --data)
    config = load_recipe(words[3], parse_overrides(overrides))
    return next((name for name in list_recipes() if load_recipe(name) == config), None)


def goals_brief(path: Path = RESULTS_FILE) -> str:
    """The README's goals: target, best recorded figure, minutes, and the command: the shipped recipe where one
    holds the run's config exactly, else the run's own."""
    rows = []
    for goal, e in _goal_rows(path):
        recipe = same_recipe(e["command"]) if e else None
        command = f"googlenet train --recipe {recipe}" if recipe else e["command"] if e else None
        rows.append([goal.name, f"{goal.top1:.0f} %", _reached(goal, e), f"{minutes(e)}" if e else "-",
                     f"`{command}`" if command else "-"])  # fmt: skip
    return _markdown("goal|target:|reached:|min, train + eval:|command", rows)


def accuracy_table(path: Path = RESULTS_FILE) -> str:
    runs = entries(None, path)
    lines = [
        "| model | dataset | px | epochs | top-1 | top-5 | params | MACs | train img/s | training time "
        "| date, CPU, threads | command |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for e in runs:
        wall = _time(e)
        lines.append(
            f"| {_name(e)} | {e['dataset']} | {e.get('input_size', '-')} | {e.get('epochs', '-')} | {_pct(e['top1'])} "
            f"| {_pct(e.get('top5'))} | {_fmt_counts(e.get('params'), '')} | {_fmt_counts(e.get('macs'), '')} "
            f"| {e.get('train_img_s') or '-'} | {wall} | {_where(e)} | `{e['command']}` |"
        )
    return "\n".join(lines)


def record_bench(src: Path, command: str) -> Path:
    """Keep a ``googlenet bench --json`` output in docs/results/ with its command and date."""
    data = json.loads(src.read_text())
    data["command"] = command
    data["date"] = dt.date.fromtimestamp(src.stat().st_mtime).isoformat()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    out = BENCH_DIR / src.name
    out.write_text(json.dumps(data, indent=2) + "\n")
    return out


def speed_table(files: list[Path]) -> str:
    """One row per path of each kept ``googlenet bench --json`` file: images/s and the ratio to its reference."""
    lines = [
        "| model | batch | path | img/s | × reference | reference | date, CPU, threads, load | command |",
        "|---|---:|---|---:|---:|---|---|---|",
    ]
    for f in files:
        data = json.loads(f.read_text())
        env = data.get("environment") or {}
        where = ", ".join(str(v) for v in (data.get("date"), env.get("cpu")) if v)
        if data.get("threads"):
            where += f", {data['threads']} thread(s)"
        load = [env.get(k) for k in ("loadavg_before", "loadavg_after")]
        if all(load):
            where += f", load {load[0][0]:.1f}→{load[1][0]:.1f}"
        for row in data.get("rows", []):
            lines.append(
                f"| {row['model']} | {row['batch']} | {row['path']} | {row['images_per_s']:.1f} | {row['ratio']:.2f} "
                f"| {data.get('reference', '-')} | {where} | `{data.get('command', '')}` |"
            )
    return "\n".join(lines)


def all_tables() -> dict[str, str]:
    """Every generated table by marker name."""
    return {
        "headline": headline_table(),
        "accuracy": accuracy_table(),
        "compare": compare_table(),
        "levers": lever_table(),
        "goals": goals_table(),
        "goals-brief": goals_brief(),
        "speed": speed_table(sorted(BENCH_DIR.glob("*.json"))),
        **({"detection": detection_table(), "detection-brief": detection_brief()} if detection_entries() else {}),
    }


def rewrite_readme(tables: dict[str, str], path: Path = README) -> bool:
    """Replace each ``<!-- results:NAME -->...<!-- /results:NAME -->`` block; True when the file changed."""
    text = path.read_text()
    new = text
    for name, table in tables.items():
        pattern = re.compile(rf"(<!-- results:{name} -->\n).*?(<!-- /results:{name} -->)", re.S)
        new = pattern.sub(lambda m, t=table: m.group(1) + t + "\n" + m.group(2), new)
    if new != text:
        path.write_text(new)
    return new != text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("run", type=Path)
    rec.add_argument("--command", required=True)
    rec.add_argument("--study", choices=("compare", "levers"), help="the experiment this run belongs to")
    rec.add_argument("--note", help="what the figures alone do not say (kept or dropped, and why)")
    det = sub.add_parser("detection", help="record a detection run folder (metrics.json)")
    det.add_argument("run", type=Path)
    det.add_argument("--command", required=True)
    det.add_argument("--note")
    dev = sub.add_parser("detection-eval", help="record a `googlenet eval --json` of detectors (ensemble, --resize)")
    dev.add_argument("json", type=Path)
    dev.add_argument("--command", required=True)
    dev.add_argument("--note")
    bench = sub.add_parser("bench")
    bench.add_argument("json", type=Path)
    bench.add_argument("--command", required=True)
    sub.add_parser("tables")
    sub.add_parser("readme")
    args = parser.parse_args()
    if args.cmd in ("record", "detection", "detection-eval"):
        try:
            if args.cmd == "record":
                entry, key = record(args.run, args.command, args.study, args.note), "results"
            elif args.cmd == "detection":
                entry, key = record_detection(args.run, args.command, args.note), "detection"
            else:
                entry, key = record_detection_eval(args.json, args.command, args.note), "detection"
        except (RecordError, CheckpointError) as err:  # nothing is appended
            print(f"error: {err}", file=sys.stderr)
            return 2
        append_entry(entry, key=key)
        print(yaml.safe_dump(entry, sort_keys=False))
        return 0
    if args.cmd == "bench":
        print(record_bench(args.json, args.command))
        return 0
    tables = all_tables()
    if args.cmd == "tables":
        print("\n\n".join(tables.values()))
        return 0
    for page in TABLE_PAGES:
        changed = rewrite_readme(tables, page)
        print(f"{page.name} rewritten" if changed else f"{page.name} already up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
