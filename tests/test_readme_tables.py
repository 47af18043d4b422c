"""The README's results tables are the ones scripts/results_tables.py writes from the recorded results, so they
cannot drift from results.yaml and the kept bench files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "scripts" / "results_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tables_are_generated_from_the_records() -> None:
    tables = _script()
    readme = (ROOT / "README.md").read_text()
    accuracy = tables.accuracy_table()
    speed = tables.speed_table(sorted(tables.BENCH_DIR.glob("*.json")))
    assert f"<!-- results:accuracy -->\n{accuracy}\n<!-- /results:accuracy -->" in readme
    assert f"<!-- results:speed -->\n{speed}\n<!-- /results:speed -->" in readme
    assert accuracy.count("\n") >= 2 and speed.count("\n") >= 2  # header, rule and at least one row each


def test_every_recorded_run_names_its_command_and_a_registered_model() -> None:
    from googlenet.analysis.accuracy import project_results

    runs = project_results()
    assert runs and all(r.detail.strip() for r in runs)
