"""``googlenet serve`` as a process: a real server on a free loopback port (real HTTP, SIGTERM with a request in
flight, the command's one-line errors) and a real browser (headless Chromium driven by Selenium) on the page."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from _eval_kit import IMAGENETTE
from _serve_kit import JPEG, MiB, photo_bytes, serve_checkpoint
from googlenet.cli import main
from googlenet.serve import launch

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'googlenet[serve]'")
httpx = pytest.importorskip("httpx2", reason="needs the serve extra: pip install 'googlenet[serve]'")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return serve_checkpoint(tmp_path_factory.mktemp("serve"))


# ---------------------------------------------------------------- a real server: googlenet serve
def start_server(checkpoint: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """``googlenet serve --port 0`` in a subprocess (one thread); its URL once /healthz answers."""
    try:
        return launch.start_server(checkpoint, *options)
    except launch.ServerStartError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="module")
def server(checkpoint: Path) -> Iterator[str]:
    proc, url = start_server(checkpoint, "--max-wait-ms", "10", "--max-upload-mb", "1")
    yield url
    launch.stop_server(proc)


def test_real_server_over_http(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")  # loopback unless told otherwise
    with httpx.Client(base_url=server, timeout=30) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/v1/model").json()["architecture"] == "googlenet"
        r = c.post("/v1/predict?topk=3", files={"file": ("photo.jpg", JPEG, "image/jpeg")})
        assert r.status_code == 200 and len(r.json()["top"]) == 3
        raw = c.post("/v1/predict?topk=3", content=JPEG, headers={"content-type": "image/jpeg"}).json()
        assert raw["top"] == r.json()["top"]
        assert c.post("/v1/cam", content=JPEG).headers["content-type"] == "image/png"
        # bad uploads over real sockets, then good requests still succeed
        over = c.post("/v1/predict", content=b"\xff" * (2 * MiB), headers={"content-type": "image/jpeg"})
        assert over.status_code == 413 and over.json()["error"].startswith("upload too large")
        assert c.post("/v1/predict", content=b"GIF89a...").status_code == 422
        assert c.post("/v1/predict?topk=no", content=JPEG).status_code == 400
        assert c.post("/v1/predict", content=b"x", headers={"content-type": "text/csv"}).status_code == 415
        assert c.post("/v1/predict", content=JPEG).status_code == 200


def test_sigterm_lets_the_request_in_flight_finish(checkpoint: Path) -> None:
    # the request waits 2.5 s for batch company: SIGTERM arrives while it is queued
    proc, url = start_server(checkpoint, "--max-wait-ms", "2500", "--max-batch", "8")
    answer: dict = {}
    sender = threading.Thread(target=lambda: answer.update(r=httpx.post(f"{url}/v1/predict", content=JPEG, timeout=60)))
    sender.start()
    deadline = time.monotonic() + 30
    while httpx.get(f"{url}/healthz", timeout=5).json()["batches"]["waiting"] != 1:
        assert time.monotonic() < deadline, "the request never reached the batcher"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    sender.join(timeout=60)
    assert answer["r"].status_code == 200 and len(answer["r"].json()["top"]) == 5
    assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    assert "Traceback" not in err, err
    with pytest.raises(httpx.TransportError):  # and it no longer listens
        httpx.get(f"{url}/healthz", timeout=2)


def test_serve_errors_are_one_line(checkpoint: Path, tmp_path: Path, capsys) -> None:
    """Mistakes are found before the server starts: one line, exit status 2."""
    cases = {
        ("--checkpoint", str(tmp_path / "none.safetensors")): "none.safetensors",
        ("--checkpoint", str(checkpoint), "--cam-layer", "nope"): "googlenet has no layer 'nope'",
        ("--checkpoint", str(checkpoint), "--backend", "fast"): "unknown backend 'fast'",
        ("--checkpoint", str(checkpoint), "--host", "256.1.1.1"): "cannot listen on 256.1.1.1:8000",
    }
    for argv, message in cases.items():
        assert main(["serve", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("googlenet serve: error: ") and message in err and err.count("\n") == 1, err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--checkpoint", str(checkpoint), "--port", str(port)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in capsys.readouterr().err


# ---------------------------------------------------------------- a real browser on the page
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="Chromium absent (apt-get install chromium chromium-driver)"
)
def test_browser_uploads_a_photo_and_sees_top5_and_cam(server: str, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(photo_bytes(size=(400, 300)))
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=960,720"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.get(server + "/")
        WebDriverWait(driver, 30).until(lambda d: "googlenet, 10 classes" in d.find_element(By.ID, "card").text)
        driver.find_element(By.ID, "file").send_keys(str(photo))
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("const c = document.getElementById('cam'); return c.complete && c.naturalWidth")
        )
        rows = driver.find_elements(By.CSS_SELECTOR, "#top .row")
        assert len(rows) == 5 and all(r.find_element(By.CLASS_NAME, "bar").size["width"] >= 0 for r in rows)
        names = [r.find_element(By.CLASS_NAME, "name").text for r in rows]
        assert set(names) <= set(IMAGENETTE) and len(set(names)) == 5
        assert "inception5b" in driver.find_element(By.ID, "camtitle").text
        assert driver.find_element(By.ID, "error").text == ""
        shot = Path(os.environ.get("GOOGLENET_SERVE_SCREENSHOT", tmp_path / "serve.png"))
        driver.save_screenshot(str(shot))
        with Image.open(shot) as img:
            assert img.size[0] > 400
    finally:
        driver.quit()


def test_launch_reports_a_server_that_cannot_start(tmp_path: Path) -> None:
    """The launcher that the load benchmark shares: a server that exits at once is a ServerStartError carrying the
    server's own one-line error, not a wait for /healthz."""
    with pytest.raises(launch.ServerStartError, match="did not start") as err:
        launch.start_server(tmp_path / "missing.safetensors")
    assert "missing.safetensors" in str(err.value) and "Traceback" not in str(err.value)
