"""Logging: the package is silent unless configured, the CLI's -q/-v/--log-level send records to stderr (``--json``
stays alone on stdout), and the server writes one Common Log Format line per request."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _eval_kit import make_checkpoint
from googlenet.cli import main
from googlenet.logs import level_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("logs") / "best.safetensors", seed=2, input_size=32)


def test_levels_from_the_flags() -> None:
    assert level_of() == logging.WARNING and level_of(quiet=True) == logging.ERROR
    assert level_of(verbose=1) == logging.INFO and level_of(verbose=2) == logging.DEBUG
    assert level_of("debug", verbose=0, quiet=True) == logging.DEBUG  # a named level wins


def test_the_library_alone_prints_nothing(checkpoint: Path, tmp_path: Path) -> None:
    """Without configuration (an application embedding the package), INFO records go nowhere."""
    code = "import sys, googlenet.hub as h; h.save_pretrained(sys.argv[1], sys.argv[2]); print('done')"
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code, str(checkpoint), str(tmp_path / "hf")], capture_output=True,
                       text=True, env=env, timeout=120)  # fmt: skip
    assert r.returncode == 0 and r.stdout == "done\n" and r.stderr == "", r.stderr


def test_verbose_logs_to_stderr_and_json_stays_clean(checkpoint: Path, tmp_path: Path, capsys) -> None:
    assert main(["-v", "hub", "save", str(checkpoint), str(tmp_path / "a"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["directory"] == str(tmp_path / "a")  # stdout: the JSON alone
    assert re.search(r" INFO googlenet\.hub: wrote config\.json, model\.safetensors and README\.md in ", err), err
    assert main(["hub", "save", str(checkpoint), str(tmp_path / "b")]) == 0  # default: warnings only
    out, err = capsys.readouterr()
    assert out.startswith("wrote ") and err == ""
    assert main(["--log-level", "info", "-q", "hub", "save", str(checkpoint), str(tmp_path / "c")]) == 0
    assert "INFO googlenet.hub" in capsys.readouterr().err
    assert main(["-q", "hub", "save", str(checkpoint), str(tmp_path / "d")]) == 0
    assert capsys.readouterr().err == ""


def test_server_writes_one_access_line_per_request(checkpoint: Path, caplog) -> None:
    pytest.importorskip("starlette", reason="needs the serve extra: pip install 'googlenet[serve]'")
    from starlette.testclient import TestClient

    from googlenet.serve import ServeOptions, Service
    from googlenet.serve.app import create_app

    service = Service(checkpoint, ServeOptions(max_wait_ms=0))
    caplog.set_level(logging.INFO, logger="googlenet.serve.access")
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        c.get("/v2/health/live")
        c.post("/v2/models/nope/infer?x=1", json={})
        c.get("/healthz")
    service.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "googlenet.serve.access"]
    clf = (
        r'^testclient - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(\w+) (\S+) HTTP/1\.1" (\d{3}) (\d+) \d+\.\d{4}$'
    )
    parsed = [re.match(clf, line).groups() for line in lines]
    assert [(m, p, s) for m, p, s, _ in parsed] == [
        ("GET", "/v2/health/live", "200"),
        ("POST", "/v2/models/nope/infer?x=1", "404"),
        ("GET", "/healthz", "200"),
    ]
    assert int(parsed[0][3]) == len(b'{"live":true}')  # the body's bytes
