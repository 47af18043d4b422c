"""A detector served by ``googlenet serve``: boxes from ``/v1/predict`` and ``/v2``, Grad-CAM refused, health and
metrics, requests batched across image sizes, the paper's R-CNN, and the page drawing the boxes in a real browser; on
generated images with a tiny random detector, every expectation the model called directly."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from _det_deploy import NAMES, SCENES, expected, png, reference, tensor, tiny_detector
from _synthetic_det import SMALL_DETECTOR, make_scenes, one_thread
from googlenet import create_model
from googlenet.cli import main
from googlenet.detect.store import detector_meta, save_detector
from googlenet.serve import ServeOptions
from googlenet.weights import save

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'googlenet[serve]'")
from starlette.testclient import TestClient

from googlenet.detect.serving import DetectService, open_service
from googlenet.serve.app import create_app

_ = one_thread  # autouse
OPTIONS = ServeOptions(max_batch=4, max_wait_ms=2.0, max_upload_bytes=1 << 20, max_pixels=100_000)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return tiny_detector(tmp_path_factory.mktemp("detserve") / "det.safetensors")


@pytest.fixture(scope="module")
def client(checkpoint: Path):
    service = open_service(checkpoint, OPTIONS)
    assert isinstance(service, DetectService)
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        yield c


def assert_matches(got: dict, want: dict) -> None:
    assert got["labels"] == want["labels"].tolist()
    assert got["names"] == [NAMES[k] for k in want["labels"].tolist()]
    np.testing.assert_allclose(got["scores"], want["scores"].numpy(), atol=1e-4 + 1e-6)
    np.testing.assert_allclose(np.reshape(got["boxes"], (-1, 4)), want["boxes"].numpy(), atol=0.005 + 1e-4)


def test_predict_answers_the_detectors_boxes(client: TestClient, checkpoint: Path) -> None:
    model = reference(checkpoint)
    scene = SCENES[0]  # 80 x 64: the boxes are in the upload's pixels
    r = client.post("/v1/predict?score_threshold=0", files={"file": ("x.png", png(scene.image), "image/png")})
    assert r.status_code == 200, r.text
    got = r.json()
    assert {"boxes", "scores", "labels", "names"} <= set(got) and "top" not in got
    assert (got["width"], got["height"]) == scene.image.size and got["model"] == "fasterrcnn_googlenet"
    want = expected(model, scene.image, 0.0)
    assert len(want["boxes"]) > 0
    assert_matches(got, want)
    # the default threshold is predict's 0.5; a raw body works as for a classifier
    got = client.post("/v1/predict", content=png(scene.image), headers={"content-type": "image/png"}).json()
    assert_matches(got, expected(model, scene.image, 0.5))
    got = client.post("/v1/predict?score_threshold=1", content=png(scene.image)).json()
    assert got["boxes"] == [] and got["labels"] == []


def test_health_card_metrics_and_page(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model"] == "fasterrcnn_googlenet"
    card = client.get("/v1/model").json()
    assert card["task"] == "detect" and card["classes"] == NAMES and card["input"]["size"] == 64
    client.post("/v1/predict", content=png(SCENES[1].image))
    text = client.get("/metrics").text
    assert 'googlenet_http_requests_total{method="POST",route="/v1/predict",status="200"}' in text
    assert 'googlenet_model_info{backend="eager"' in text and "googlenet_batch_size_count" in text
    page = client.get("/").text
    assert "drawBoxes" in page and "<canvas" in page


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/cam", "png", 400, "Grad-CAM explains a classifier's class score: fasterrcnn_googlenet is a detector"),
        ("/v1/predict?score_threshold=2", "png", 400, "score_threshold must be a number from 0 to 1"),
        ("/v1/predict?score_threshold=x", "png", 400, "score_threshold must be a number from 0 to 1"),
        ("/v1/predict", b"GIF89a not really", 422, "not an image file"),
        ("/v1/predict", b"", 400, "empty body"),
    ],
)
def test_bad_requests_are_one_line(client: TestClient, path: str, body, status: int, message: str) -> None:
    data = png(SCENES[0].image) if body == "png" else body
    r = client.post(path, content=data, headers={"content-type": "image/png"})
    assert r.status_code == status and message in r.json()["error"] and "\n" not in r.json()["error"], r.text


def test_requests_together_share_one_forward_of_images_of_two_sizes(checkpoint: Path) -> None:
    service = DetectService(checkpoint, ServeOptions(max_batch=2, max_wait_ms=5000))
    a, b = SCENES[0].image, SCENES[1].image  # 80 x 64 and 64 x 64

    async def both():
        batcher = service.batcher()
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(service.prepare(png(im))) for im in (a, b)))
        finally:
            await batcher.stop()

    results = asyncio.run(both())
    assert [n for _, n in results] == [2, 2]
    with torch.no_grad():
        want = reference(checkpoint)([tensor(a), tensor(b)])  # torchvision's own batch of two sizes
    for (got, _), w in zip(results, want, strict=True):
        torch.testing.assert_close(got["boxes"], w["boxes"], atol=1e-4, rtol=0)
        torch.testing.assert_close(got["scores"], w["scores"], atol=1e-6, rtol=0)


def test_v2_infer_gives_boxes_scores_and_labels(client: TestClient, checkpoint: Path) -> None:
    meta = client.get("/v2/models/fasterrcnn_googlenet").json()
    assert meta["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [1]}]
    assert [(o["name"], o["datatype"]) for o in meta["outputs"]] == [
        ("boxes", "FP32"), ("scores", "FP32"), ("labels", "INT64")
    ]  # fmt: skip
    scene = SCENES[2]
    want = expected(reference(checkpoint), scene.image, 0.2)
    image = {"name": "image", "datatype": "BYTES", "shape": [1], "data": [base64.b64encode(png(scene.image)).decode()]}
    r = client.post("/v2/models/fasterrcnn_googlenet/infer", json={"inputs": [image],
                                                                   "parameters": {"score_threshold": 0.2}})  # fmt: skip
    assert r.status_code == 200, r.text
    outs = {o["name"]: o for o in r.json()["outputs"]}
    k = len(want["boxes"])
    assert outs["boxes"]["shape"] == [k, 4] and outs["scores"]["shape"] == [k] and outs["labels"]["shape"] == [k]
    np.testing.assert_allclose(np.reshape(outs["boxes"]["data"], (-1, 4)), want["boxes"].numpy(), atol=0.0051)
    np.testing.assert_allclose(outs["scores"]["data"], want["scores"].numpy(), atol=1.1e-4)
    assert outs["labels"]["data"] == want["labels"].tolist()
    # binary outputs: labels as little-endian int64
    body = {"inputs": [image], "outputs": [{"name": "labels", "parameters": {"binary_data": True}}],
            "parameters": {"score_threshold": 0.2}}  # fmt: skip
    r = client.post("/v2/models/fasterrcnn_googlenet/infer", json=body)
    head = int(r.headers["Inference-Header-Content-Length"])
    [out] = json.loads(r.content[:head])["outputs"]
    raw = r.content[head:]
    assert out["datatype"] == "INT64" and out["parameters"]["binary_data_size"] == 8 * k == len(raw)
    assert list(struct.unpack(f"<{k}q", raw)) == want["labels"].tolist()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shape": [2], "twice": True}, "must have shape [1] for a detector"),
        ({"name": "input"}, "a detector takes one input, 'image'"),
        ({"outputs": [{"name": "logits"}]}, "unknown output 'logits': a detector gives boxes, scores, labels"),
        ({"parameters": {"score_threshold": 3}}, "score_threshold must be a number from 0 to 1"),
    ],
)
def test_v2_bad_requests_are_one_line(client: TestClient, change: dict, message: str) -> None:
    data = base64.b64encode(png(SCENES[0].image)).decode()
    image = {"name": change.get("name", "image"), "datatype": "BYTES", "shape": change.get("shape", [1]),
             "data": [data, data] if change.get("twice") else [data]}  # fmt: skip
    body = {"inputs": [image], **{k: v for k, v in change.items() if k in ("outputs", "parameters")}}
    r = client.post("/v2/models/fasterrcnn_googlenet/infer", json=body)
    assert r.status_code == 400 and message in r.json()["error"], r.text


def test_serve_refuses_options_a_detector_has_no_use_for(checkpoint: Path, capsys) -> None:
    for argv, message in (
        (["--backend", "onnx"], "a detector is served by the eager back end only"),
        (["--cam-layer", "inception5b"], "a detector has none"),
    ):
        assert main(["serve", "--checkpoint", str(checkpoint), *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("googlenet serve: error: ") and message in err and err.count("\n") == 1, err


def test_the_papers_rcnn_is_served_too(tmp_path: Path) -> None:
    pytest.importorskip("cv2", reason="needs OpenCV's contrib modules (the detect extra)")
    from googlenet.detect.rcnn import RCNN, SelectiveSearch

    torch.manual_seed(0)
    kwargs = {"width": 0.125, "aux_logits": False}
    net = create_model("googlenet", num_classes=3, **kwargs).eval()
    rcnn = {"input_size": 64, "context_pad": 5, "selective_search": {"max_side": 64}}
    path = save(tmp_path / "rcnn.safetensors", net, {"model": "googlenet", "num_classes": 3, "model_kwargs": kwargs,
                                                     "class_names": NAMES, "input_size": 64, "rcnn": rcnn})  # fmt: skip
    scene = SCENES[1]
    by_hand = RCNN(net, input_size=64, proposals=SelectiveSearch(max_side=64), context_pad=5)
    want = expected(by_hand, scene.image, 0.0)
    service = open_service(path, OPTIONS)
    assert isinstance(service, DetectService)
    with TestClient(create_app(service)) as c:
        assert c.get("/v1/model").json()["architecture"] == "rcnn (googlenet region classifier)"
        got = c.post("/v1/predict?score_threshold=0", content=png(scene.image)).json()
    assert len(want["boxes"]) > 0
    assert_matches(got, want)


# ---------------------------------------------------------------- a real server and a real browser on the page
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
RED = (0xE0, 0x31, 0x2B)  # the page's box colour


def confident_checkpoint(path: Path) -> Path:
    """A random detector whose box classifier is biased to ``rect`` (scores near 1, at most 3 boxes), so the page's
    default threshold of 0.5 keeps boxes to draw."""
    kwargs = {**SMALL_DETECTOR, "box_detections_per_img": 3}
    torch.manual_seed(0)
    model = create_model("fasterrcnn_googlenet", num_classes=3, **kwargs).eval()
    with torch.no_grad():
        model.roi_heads.box_predictor.cls_score.bias[1] = 8.0
    return save_detector(path, model, detector_meta("fasterrcnn_googlenet", 3, kwargs, NAMES))


@pytest.mark.slow
@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="Chromium absent (apt-get install chromium chromium-driver)"
)
def test_browser_draws_the_boxes_on_the_photo(tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the dev extra)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ckpt = confident_checkpoint(tmp_path / "det.safetensors")
    scene = make_scenes(1, size=150, seed=4)[0]  # 166 x 150
    photo = tmp_path / "photo.png"
    scene.image.save(photo)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    argv = [sys.executable, "-m", "googlenet", "serve", "--checkpoint", str(ckpt), "--port", "0", "--threads", "1"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    driver = None
    try:
        line = proc.stdout.readline()
        assert " on http://" in line, line + proc.stderr.read()
        url = line.split(" on ", 1)[1].split()[0].rstrip("/")
        for _ in range(600):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/healthz", timeout=2)
                break
            time.sleep(0.1)
        ask = urllib.request.Request(
            f"{url}/v1/predict", data=photo.read_bytes(), headers={"content-type": "image/png"}
        )
        pred = json.loads(urllib.request.urlopen(ask, timeout=60).read())
        assert 1 <= len(pred["boxes"]) <= 3 and min(pred["scores"]) >= 0.5
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                     "--disable-background-networking", "--disable-component-update",
                     f"--user-data-dir={tmp_path / 'profile'}", "--window-size=960,720"):  # fmt: skip
            opts.add_argument(flag)
        driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
        driver.get(url + "/")
        WebDriverWait(driver, 30).until(lambda d: "a detector of rect, ellipse" in d.find_element(By.ID, "card").text)
        driver.find_element(By.ID, "file").send_keys(str(photo))
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "boxes").is_displayed())
        assert driver.find_element(By.ID, "error").text == ""
        size = driver.execute_script("const c = document.getElementById('boxes'); return [c.width, c.height]")
        assert size == list(scene.image.size)
        pixel = "return Array.from(document.getElementById('boxes').getContext('2d').getImageData(arguments[0], " \
                "arguments[1], 1, 1).data.slice(0, 3))"  # fmt: skip
        top = pred["boxes"][0]
        edge = driver.execute_script(pixel, round(top[0]), round((top[1] + top[3]) / 2))  # the top box's left side
        assert all(abs(a - b) <= 2 for a, b in zip(edge, RED, strict=True)), edge
        rows = driver.find_elements(By.CSS_SELECTOR, "#top .row")
        assert len(rows) == len(pred["boxes"]) and rows[0].find_element(By.CLASS_NAME, "name").text == pred["names"][0]

        # a pixel far from every box and from its label (drawn above the box's left corner) is the photo's own
        def far(x: int, y: int) -> bool:
            return all(
                (x < x1 - 8 or x > x2 + 8 or y < y1 - 8 or y > y2 + 8) and (x < x1 - 8 or x > x1 + 100 or y > y1 + 8)
                for x1, y1, x2, y2 in pred["boxes"]
            )

        spots = [(x, y) for x in range(0, 166, 5) for y in range(0, 150, 5) if far(x, y)]
        assert spots, pred["boxes"]
        for x, y in spots[:: max(1, len(spots) // 10)]:
            assert driver.execute_script(pixel, x, y) == list(scene.image.getpixel((x, y))), (x, y)
    finally:
        if driver is not None:
            driver.quit()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
