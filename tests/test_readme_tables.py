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
    script = _script()
    tables = script.all_tables()
    pages = {page: page.read_text() for page in script.TABLE_PAGES}
    for name, table in tables.items():
        assert table.count("\n") >= 2, name  # header, rule and at least one row each
        block = f"<!-- results:{name} -->\n{table}\n<!-- /results:{name} -->"
        assert sum(block in text for text in pages.values()) == 1, f"the {name} table is stale or missing"
    readme = pages[script.README]
    assert all(f"<!-- results:{name} -->" in readme for name in ("accuracy", "compare", "speed"))


def test_every_recorded_run_names_its_command_and_a_registered_model() -> None:
    from googlenet.analysis.accuracy import project_results

    runs = project_results()
    assert runs and all(r.detail.strip() for r in runs)
