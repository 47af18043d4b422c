"""The Open Inference Protocol (KServe v2) on ``googlenet serve``: every route and bad request in process, then the
real client, ``tritonclient.http``, against a server on a free loopback port (binary and JSON tensors, images,
classification, errors). Logits are checked against the model's own forward, probabilities against an independent
torchvision pipeline in float64 (tests/_eval_kit.py)."""

from __future__ import annotations

import base64
import io
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from _eval_kit import IMAGENETTE, make_checkpoint
from _eval_kit import reference_probs as torchvision_probs
from googlenet.serve import ServeOptions, Service
from googlenet.weights import load_checkpoint

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'googlenet[serve]'")
from starlette.testclient import TestClient

from googlenet.serve.app import create_app

SIZE = 32
KiB = 1 << 10


def picture(seed: int, fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", (48 + 8 * seed, 40))
    draw = ImageDraw.Draw(img)
    for y in range(40):
        draw.line([(0, y), (img.width, y)], fill=(30 * seed % 255, 6 * y, 200 - 4 * y))
    draw.ellipse([10, 5, 30, 25], fill=(250, 200 - 30 * seed, 60))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A random-weight 10-class GoogLeNet, width 0.125, 32 px crops."""
    return make_checkpoint(tmp_path_factory.mktemp("v2") / "best.safetensors", seed=3, width=0.125, input_size=SIZE)


@pytest.fixture(scope="module")
def service(checkpoint: Path) -> Iterator[Service]:
    svc = Service(checkpoint, ServeOptions(max_batch=8, max_wait_ms=2.0, max_infer_bytes=1024 * KiB))
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        yield c


def forward(checkpoint: Path, x: torch.Tensor) -> torch.Tensor:
    """The model's own eager forward, no server involved."""
    model, _, _ = load_checkpoint(checkpoint)
    with torch.no_grad():
        return model.eval()(x)


def batch(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------- in process
def test_health_and_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/googlenet/ready").status_code == 200
    assert client.get("/v2/models/googlenet/versions/1/ready").status_code == 200
    meta = client.get("/v2/models/googlenet").json()
    assert meta["name"] == "googlenet" and meta["versions"] == ["1"]
    assert meta["inputs"] == [
        {"name": "input", "datatype": "FP32", "shape": [-1, 3, SIZE, SIZE]},
        {"name": "image", "datatype": "BYTES", "shape": [-1]},
    ]
    assert meta["outputs"][0] == {"name": "logits", "datatype": "FP32", "shape": [-1, 10]}
    assert "binary_tensor_data" in client.get("/v2").json()["extensions"]


def test_json_tensor_infer_gives_the_forwards_logits(client: TestClient, checkpoint: Path) -> None:
    x = batch(3)
    body = {"id": "r1", "inputs": [{"name": "input", "datatype": "FP32", "shape": [3, 3, SIZE, SIZE],
                                    "data": x.flatten().tolist()}]}  # fmt: skip
    r = client.post("/v2/models/googlenet/infer", json=body)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["id"] == "r1" and reply["model_name"] == "googlenet"
    [out] = reply["outputs"]
    assert out["name"] == "logits" and out["datatype"] == "FP32" and out["shape"] == [3, 10]
    got = torch.tensor(out["data"]).reshape(3, 10)
    torch.testing.assert_close(got, forward(checkpoint, x), atol=1e-4, rtol=0)


def test_nested_json_data_and_probabilities(client: TestClient, checkpoint: Path) -> None:
    x = batch(2, seed=1)
    body = {
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 3, SIZE, SIZE], "data": x.tolist()}],
        "outputs": [{"name": "probabilities"}, {"name": "logits", "parameters": {"classification": 2}}],
    }
    outs = {o["name"]: o for o in client.post("/v2/models/googlenet/infer", json=body).json()["outputs"]}
    ref = forward(checkpoint, x)
    probs = torch.tensor(outs["probabilities"]["data"]).reshape(2, 10)
    torch.testing.assert_close(probs, ref.softmax(1), atol=1e-5, rtol=0)
    top = outs["logits"]
    assert top["datatype"] == "BYTES" and top["shape"] == [2, 2]
    for row, expect in zip(np.reshape(top["data"], (2, 2)), ref, strict=True):
        value, index, name = row[0].split(":")
        assert int(index) == int(expect.argmax()) and name == IMAGENETTE[int(index)]
        assert abs(float(value) - float(expect.max())) < 1e-4


def test_base64_images_give_top5_names_and_probabilities(client: TestClient, checkpoint: Path, tmp_path) -> None:
    pics = [picture(0), picture(1, "JPEG")]
    files = []
    for i, data in enumerate(pics):
        files.append(tmp_path / f"p{i}.img")
        files[-1].write_bytes(data)
    ref = torchvision_probs(checkpoint, files)  # float64, torchvision transforms, no serve code
    body = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2],
                        "data": [base64.b64encode(p).decode() for p in pics]}]}  # fmt: skip
    r = client.post("/v2/models/googlenet/infer", json=body)
    assert r.status_code == 200, r.text
    [out] = r.json()["outputs"]
    assert out["name"] == "probabilities" and out["datatype"] == "BYTES" and out["shape"] == [2, 5]
    rows = np.reshape(out["data"], (2, 5))
    for row, p in zip(rows, ref, strict=True):
        expect = p.topk(5)
        for cell, v, j in zip(row, expect.values.tolist(), expect.indices.tolist(), strict=True):
            value, index, name = cell.split(":")
            assert int(index) == j and name == IMAGENETTE[j] and abs(float(value) - v) < 1e-4


GOOD = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, SIZE, SIZE], "data": [0.5] * 3 * SIZE**2}]}


def _one(**changes) -> dict:
    return {"inputs": [{**GOOD["inputs"][0], **changes}]}


def _image(datatype: str, data: list) -> dict:
    return {"inputs": [{"name": "image", "datatype": datatype, "shape": [1], "data": data}]}


NAN = json.dumps(GOOD).replace("[0.5, ", "[NaN, ", 1).encode()  # Python's JSON reader takes NaN


BAD = {
    "malformed JSON": (b"{not json", 400, "not JSON"),
    "a JSON list": (b"[1, 2]", 400, "a JSON object expected"),
    "no inputs": ({"outputs": []}, 400, "has no 'inputs'"),
    "two inputs": ({"inputs": GOOD["inputs"] * 2}, 400, "exactly one input"),
    "unknown input": (_one(name="pixels"), 400, "unknown input 'pixels'"),
    "FP64 datatype": (_one(datatype="FP64"), 400, "must be FP32, got 'FP64'"),
    "wrong size": (_one(shape=[1, 3, 16, 16], data=[0.0] * 768), 400, "must have shape [N, 3, 32, 32]"),
    "short data": (_one(data=[0.0] * 10), 400, "10 values of data"),
    "NaN in the data": (NAN, 400, "NaN or infinite"),
    "beyond float32": (_one(data=[1e39] * 3 * SIZE**2), 400, "NaN or infinite"),
    "strings as data": (_one(data=["a"] * 3 * SIZE**2), 400, "must be numbers"),
    "shape not ints": (_one(shape=[1, 3, "32", 32]), 400, "list of integers"),
    "image as FP32": (_image("FP32", [1.0]), 400, "must be BYTES"),
    "not base64": (_image("BYTES", ["%%%"]), 400, "not valid base64"),
    "not an image": (_image("BYTES", [base64.b64encode(b"GIF89a nope").decode()]), 422, ""),
    "unknown output": ({**GOOD, "outputs": [{"name": "features"}]}, 400, "unknown output 'features'"),
    "binary past the end": (_one(parameters={"binary_data_size": 99}), 400, "runs past the end"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_requests_are_protocol_errors_and_serving_goes_on(client: TestClient, case: str) -> None:
    body, status, message = BAD[case]
    kw = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = client.post("/v2/models/googlenet/infer", **kw)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert set(r.json()) == {"error"} and message in error and "\n" not in error
    assert client.post("/v2/models/googlenet/infer", json=GOOD).status_code == 200


def test_wrong_model_version_and_size(client: TestClient) -> None:
    for path in ("/v2/models/resnet50/infer", "/v2/models/googlenet/versions/2/infer"):
        r = client.post(path, json=GOOD)
        assert r.status_code == 404 and "unknown" in r.json()["error"]
    assert client.get("/v2/models/resnet50").status_code == 404
    assert client.get("/v2/models/resnet50/ready").status_code == 404
    big = _one(shape=[100, 3, SIZE, SIZE], data=[0.25] * 100 * 3 * SIZE**2)  # ~1.8 MiB of JSON, limit 1 MiB
    r = client.post("/v2/models/googlenet/infer", json=big)
    assert r.status_code == 413 and r.json()["error"].startswith("request too large")


# ---------------------------------------------------------------- the real client on a real socket
@pytest.fixture(scope="module")
def url(service: Service) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, in a thread."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def test_tritonclient_http(url: str, checkpoint: Path) -> None:
    httpclient = pytest.importorskip("tritonclient.http", reason="needs tritonclient[http] (the dev extra)")
    from tritonclient.utils import InferenceServerException

    c = httpclient.InferenceServerClient(url=url)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("googlenet")
    meta = c.get_model_metadata("googlenet")
    assert meta["inputs"][0]["shape"] == [-1, 3, SIZE, SIZE]
    x = batch(5, seed=7)
    ref = forward(checkpoint, x)
    for binary in (True, False):  # Triton's binary tensor extension, and plain JSON
        inp = httpclient.InferInput("input", [5, 3, SIZE, SIZE], "FP32")
        inp.set_data_from_numpy(x.numpy(), binary_data=binary)
        outs = [httpclient.InferRequestedOutput("logits", binary_data=binary)]
        got = c.infer("googlenet", [inp], outputs=outs).as_numpy("logits")
        assert got.dtype == np.float32 and got.shape == (5, 10)
        torch.testing.assert_close(torch.from_numpy(got.copy()), ref, atol=1e-4, rtol=0)
    # no outputs named: the client asks for binary outputs, and gets the logits
    inp = httpclient.InferInput("input", [5, 3, SIZE, SIZE], "FP32")
    inp.set_data_from_numpy(x.numpy())
    torch.testing.assert_close(torch.from_numpy(c.infer("googlenet", [inp]).as_numpy("logits").copy()), ref, atol=1e-4,
                               rtol=0)  # fmt: skip
    # encoded images as BYTES (binary, length-prefixed) -> Triton classification strings
    images = httpclient.InferInput("image", [2], "BYTES")
    images.set_data_from_numpy(np.array([picture(2), picture(3, "JPEG")], dtype=np.object_))
    top = httpclient.InferRequestedOutput("probabilities", class_count=3)
    rows = c.infer("googlenet", [images], outputs=[top]).as_numpy("probabilities")
    assert rows.shape == (2, 3)
    for row in rows:
        values = [float(cell.decode().split(":")[0]) for cell in row]
        assert values == sorted(values, reverse=True) and all(cell.decode().split(":")[2] in IMAGENETTE for cell in row)
    # a wrong request is the protocol's error, through the client's exception
    bad = httpclient.InferInput("input", [1, 3, 8, 8], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(InferenceServerException, match=r"must have shape \[N, 3, 32, 32\]"):
        c.infer("googlenet", [bad])
    with pytest.raises(InferenceServerException, match="unknown model 'nope'"):
        c.infer("nope", [inp])
    assert not c.is_model_ready("nope")


def test_binary_bytes_with_a_bad_length_prefix(client: TestClient) -> None:
    data = struct.pack("<I", 1000) + b"short"
    head = b'{"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 9}}]}'
    r = client.post(
        "/v2/models/googlenet/infer",
        content=head + data,
        headers={"Inference-Header-Content-Length": str(len(head)), "content-type": "application/octet-stream"},
    )
    assert r.status_code == 400 and "runs past its data" in r.json()["error"]


def test_cli_max_infer_mb_sets_the_limit(checkpoint: Path, monkeypatch) -> None:
    import googlenet.cli.serve as cli_serve
    from googlenet.cli import main

    seen = {}
    monkeypatch.setattr(cli_serve, "serve", lambda service, *a: seen.update(options=service.options) or 0)
    assert main(["serve", "--checkpoint", str(checkpoint), "--max-infer-mb", "0.5"]) == 0
    assert seen["options"].max_infer_bytes == 512 * KiB
    assert main(["serve", "--checkpoint", str(checkpoint)]) == 0
    assert seen["options"].max_infer_bytes == 64 * 1024 * KiB
