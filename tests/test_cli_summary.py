"""`googlenet summary`: tables, JSON and clear errors, checked against independent numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import googlenet
from googlenet.cli import main

SRC = str(Path(googlenet.__file__).resolve().parents[1])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, "-m", "googlenet", *args], capture_output=True, text=True, env=env)


def test_summary_json_totals(capsys):
    assert main(["summary", "googlenet", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["main_params"] == 6_998_552
    assert out["total_params"] == 13_378_280
    assert 1.57e9 < out["main_macs"] < 1.59e9
    rows = {r["label"]: r for r in out["table1"]}
    # the paper prints conv1 as 2.7K params / 34M ops; arithmetic says 7*7*3*64 + 64 and 112*112*7*7*3*64
    assert rows["conv 7x7/2"]["paper_params"] == 2.7e3
    assert rows["conv 7x7/2"]["params"] == 7 * 7 * 3 * 64 + 64
    assert rows["conv 7x7/2"]["macs"] == 112 * 112 * 7 * 7 * 3 * 64
    assert [tuple(r["output"]) for r in out["table1"]] == [tuple(r["paper_output"]) for r in out["table1"]]


def test_summary_table_shows_paper_beside_computed(capsys):
    assert main(["summary", "googlenet"]) == 0
    text = capsys.readouterr().out
    assert "Table 1" in text and "2.7K" in text and "9.47K" in text
    assert "6,998,552" in text and "13,378,280" in text


def test_summary_small_model_options(capsys):
    assert main(["summary", "googlenet_small", "--num-classes", "10", "--set", "width=0.25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input_size"] == 32 and "table1" not in out
    names = [r["name"] for r in out["rows"]]
    assert names[:3] == ["conv1", "maxpool1", "lrn1"]
    # small-input stem: 3x3/1 conv, no pooling, so inception 3a runs at 32x32; 3a at width 0.25 = 16+32+8+8
    assert out["rows"][names.index("inception3a")]["output_shape"] == [64, 32, 32]


def test_unknown_model_lists_close_names():
    res = run_cli("summary", "googlenett")
    assert res.returncode == 2
    assert "unknown model 'googlenett'" in res.stderr and "googlenet" in res.stderr
    assert "Traceback" not in res.stderr


def test_too_small_input_names_the_minimum():
    # by hand: 31 px -> conv1 16 -> pool 8 -> pool 4 -> pool 2 -> pool 1; at 30 px the pool before 5a sees 1x1
    res = run_cli("summary", "googlenet", "--input-size", "16")
    assert res.returncode == 2
    assert "too small" in res.stderr and "smallest it accepts is 31 px" in res.stderr
    assert "Traceback" not in res.stderr


def test_bad_model_option_is_a_clear_error():
    res = run_cli("summary", "googlenet", "--set", "no_such_option=1")
    assert res.returncode == 2 and "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    assert "cannot be built with" in res.stderr and "unexpected keyword argument 'no_such_option'" in res.stderr


def test_set_reads_numbers_as_yaml_does_everywhere(capsys):
    """``--set width=5e-1`` is the number 0.5 (the CLI's one KEY=VALUE parser), not the text '5e-1'."""
    assert main(["summary", "googlenet", "--set", "width=5e-1", "--json"]) == 0
    spelled = json.loads(capsys.readouterr().out)
    assert main(["summary", "googlenet", "--set", "width=0.5", "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert spelled["model_args"] == {"width": 0.5} and spelled["main_params"] == plain["main_params"]
    assert spelled["main_params"] < 6_998_552 / 3  # half the channels: about a quarter of the weights
