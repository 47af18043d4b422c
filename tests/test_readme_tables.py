"""The README's results tables are the ones scripts/results_tables.py writes from the recorded results, so they
cannot drift from results.yaml and the kept bench files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from googlenet.analysis.records import RecordError, record_detection

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
    assert "<!-- results:headline -->" in pages[script.README]
    assert all(f"<!-- results:{name} -->" in pages[script.RESULTS_PAGE] for name in ("accuracy", "compare", "speed"))


def test_the_readme_is_a_front_page() -> None:
    """Under 9,500 characters and 9.5 KB, opening with the two commands; detail lives in docs/."""
    readme = _script().README.read_text(encoding="utf-8")
    assert len(readme) < 9500, len(readme)
    assert len(readme.encode()) < 9.5 * 1024, len(readme.encode())
    first_block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.splitlines()] == [["make", "demo"], ["make", "test"]]


def test_no_page_states_a_test_count() -> None:
    """Hand-written test counts drift (the README said 979, docs/index.md 372): pytest states them, pages do not."""
    import re

    count = re.compile(r"\b\d[\d,]*\s+(?:tests?\b(?! images)|passed\b|failed\b)")
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        found = count.findall(page.read_text())
        assert not found, f"{page.relative_to(ROOT)} states a test count: {found}"


def test_every_recorded_run_names_its_command_and_a_registered_model() -> None:
    from googlenet.analysis.accuracy import project_results

    runs = project_results()
    assert runs and all(r.detail.strip() for r in runs)


def test_record_reads_a_finished_run(synthetic_root, tmp_path) -> None:
    """An entry holds the best epoch's accuracy, the summed times and the model's counts: against figures written
    here and counts from torch."""
    import torch

    from _runs import TINY, run_cli
    from googlenet.factory import create_model

    out = tmp_path / "run"
    args = [*TINY, f"data.dataset={synthetic_root}", "schedule.epochs=1", "data.train_subset=16", "data.workers=0"]
    r = run_cli("train", "--recipe", "cifar10", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr
    # the run's own metrics.csv replaced by one with figures chosen here: the entry must come from these
    fields = "epoch,val_acc,val_top5,img_per_s,epoch_s,eval_s,peak_mem_mib,machine,threads,code"
    cpu = '"CPU X (avx2, fma)",2,git a1'
    rows = [
        f"1,0.5,0.8,10,60,30,100,{cpu}",
        f"2,0.75,0.9,20,120,30,250.5,{cpu}",
        "3,0.7,0.95,20,120,30,90,GPU Y,2,git b2",
    ]
    (out / "metrics.csv").write_text("\n".join([fields, *rows]) + "\n")
    entry = _script().record(out, "googlenet train ...", study="levers", note="a test")
    # where each epoch ran, from the run's rows (resumed elsewhere for its last epoch), not the recording machine
    assert entry["cpu"] == "CPU X (avx2, fma) (epochs 1-2); GPU Y (epoch 3)" and entry["threads"] == 2
    assert entry["code"] == "git a1 (epochs 1-2); git b2 (epoch 3)"
    assert entry["epochs"] == 3 and entry["top1"] == 75.0 and entry["top5"] == 90.0  # the best epoch's, both
    assert entry["wall_min"] == 5.0 and entry["eval_min"] == 1.5  # 300 s of training, 90 s of evaluation
    assert entry["train_img_s"] == 18.0  # (600 + 2400 + 2400) images in 300 s
    assert entry["peak_mem_mib"] == 250.5
    (out / "metrics.csv").write_text("\n".join([fields.replace(",eval_s", ""), "1,0.5,0.8,10,60,100"]) + "\n")
    assert "eval_min" not in _script().record(out, "googlenet train ...")  # a run from before eval_s
    net = create_model("googlenet_small", num_classes=10, width=0.125, batch_norm=True, lrn=False)
    assert entry["params"] == sum(p.numel() for p in net.parameters()) - _aux_params(net)
    # a 3x3 stem conv at 16 px alone is 16*16*27*out multiply-adds: the count must exceed it
    stem = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert entry["macs"] > 16 * 16 * stem.in_channels * 9 * stem.out_channels
    assert entry["study"] == "levers" and entry["note"] == "a test" and entry["train_size"] == 16


def _aux_params(net) -> int:
    return sum(p.numel() for name, p in net.named_parameters() if name.startswith("aux"))


def test_detection_entries_go_to_their_own_list_and_keep_the_classification_ones(tmp_path) -> None:
    import yaml

    script = _script()
    records = tmp_path / "results.yaml"
    records.write_text("# header\nresults:\n  - model: a\n    top1: 1.0\n")
    script.append_entry({"model": "det1", "ap50": 0.5}, records, key="detection")
    script.append_entry({"model": "b", "top1": 2.0}, records)
    script.append_entry({"model": "det2", "ap50": 0.7}, records, key="detection")
    data = yaml.safe_load(records.read_text())
    assert [e["model"] for e in data["results"]] == ["a", "b"]
    assert [e["model"] for e in data["detection"]] == ["det1", "det2"]
    assert records.read_text().startswith("# header\n")


def test_recording_a_folder_that_holds_no_finished_run_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    """A clear error and nothing appended, for each record verb: an empty folder, a missing one, an unreadable
    checkpoint, a run that never evaluated, and a detection folder whose metrics.json is not JSON or not a run's."""
    script = _script()
    results = ROOT / "src" / "googlenet" / "analysis" / "results.yaml"
    before = results.read_bytes()
    empty, half, unread, det = (tmp_path / n for n in ("empty", "half", "unread", "det"))
    for folder in (empty, half, unread, det):
        folder.mkdir()
    (half / "best.safetensors").write_bytes(b"\0" * 16)  # never evaluated: no val_acc in any row
    (half / "metrics.csv").write_text("epoch,val_acc\n1,\n")
    (unread / "best.safetensors").write_bytes(b"not a checkpoint")
    (unread / "metrics.csv").write_text("epoch,val_acc\n1,0.5\n")
    (det / "metrics.json").write_text("{not json")
    other = tmp_path / "other"  # JSON, but not a detection run's
    other.mkdir()
    (other / "metrics.json").write_text('{"val": {}}')
    listed_run = tmp_path / "listed-run"  # a metrics.json holding a list
    listed_run.mkdir()
    (listed_run / "metrics.json").write_text("[]")
    listed, keyless = tmp_path / "listed.json", tmp_path / "keyless.json"  # eval records of another shape
    listed.write_text("[1, 2]")
    keyless.write_text('{"ap": 0.5}')
    cases = [
        (["record", str(empty)], "holds no best.safetensors"),
        (["record", str(tmp_path / "missing")], "is not a run folder"),
        (["record", str(half)], "has no evaluated epoch"),
        (["record", str(unread)], "not a readable safetensors checkpoint"),
        (["detection", str(det)], "is not JSON"),
        (["detection", str(empty)], "holds no metrics.json"),
        (["detection", str(other)], "its records have no field 'recipe'"),
        (["detection", str(listed_run)], "not a run's records (a JSON list"),
        (["detection-eval", str(tmp_path / "none.json")], "no readable JSON record"),
        (["detection-eval", str(listed)], "not a run's records"),
        (["detection-eval", str(keyless)], "its records have no field 'checkpoint'"),
    ]
    for argv, message in cases:
        monkeypatch.setattr("sys.argv", ["results_tables.py", *argv, "--command", "googlenet train"])
        assert script.main() == 2, argv
        out, err = capsys.readouterr()
        assert message in err and err.startswith("error: ") and out == "", (argv, err)
    assert results.read_bytes() == before
    # the library refuses them itself, for every caller, not only the script
    with pytest.raises(RecordError, match="its records have no field 'recipe'"):
        record_detection(other, "googlenet detect train")
