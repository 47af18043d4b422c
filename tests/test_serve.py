"""``googlenet serve`` in process: every endpoint and every bad input (Starlette's TestClient) and dynamic
batching. A real server started as ``googlenet serve`` (real HTTP, SIGTERM, a real browser): test_serve_process.py."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from _eval_kit import IMAGENETTE
from _serve_kit import JPEG, KiB, MiB, photo_bytes, serve_checkpoint
from _synthetic import bomb_png
from googlenet.cam import GradCam, overlay
from googlenet.cli import build_parser, main
from googlenet.contract import ModelContract
from googlenet.data.decode import ImageDecodeError, decode_bytes
from googlenet.errors import UserError
from googlenet.eval.members import load_members
from googlenet.eval.predict import Prediction, predict
from googlenet.factory import create_model
from googlenet.serve import DynamicBatcher, ServeOptions, Service
from googlenet.weights import load_checkpoint, save

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'googlenet[serve]'")
httpx = pytest.importorskip("httpx2", reason="needs the serve extra: pip install 'googlenet[serve]'")
from starlette.testclient import TestClient  # noqa: E402

from googlenet.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return serve_checkpoint(tmp_path_factory.mktemp("serve"))


OPTIONS = ServeOptions(max_batch=8, max_wait_ms=2.0, max_upload_bytes=1 * MiB, max_pixels=1_000_000)


@pytest.fixture(scope="module")
def service(checkpoint: Path) -> Iterator[Service]:
    svc = Service(checkpoint, OPTIONS)
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[TestClient]:
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        yield c


def reference_probs(checkpoint: Path, data: bytes, tmp_path: Path) -> torch.Tensor:
    """What ``googlenet predict`` gives for the same bytes saved as a file."""
    path = tmp_path / "ref.img"
    path.write_bytes(data)
    [pred] = predict(load_members([checkpoint]), [Prediction(str(path))])
    assert pred.probs is not None
    return pred.probs


# ---------------------------------------------------------------- endpoints, in process
def test_health_model_card_and_page(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["model"] == "googlenet"
    card = client.get("/v1/model").json()
    assert card["architecture"] == "googlenet" and card["model_kwargs"] == {"width": 0.25}
    assert card["checkpoint"] == "best.safetensors"  # the name, never the server's path
    assert card["num_classes"] == 10 and card["classes"] == IMAGENETTE
    assert card["input"] == {
        "size": 96,
        "channels": 3,
        "image_mode": "RGB",
        "pixel_range": 1.0,
        "channel_order": "RGB",
        "mean": [0.485, 0.456, 0.406],
        "std": [0.229, 0.224, 0.225],
        "resize": "shorter",
        "resize_size": 110,
        "crop_fraction": 0.875,
        "interpolation": "bilinear",
    }
    assert card["weights"] == {"source": "random"} and card["training"]["top1"] is None
    assert card["serving"]["cam_layer"] == "inception5b" and card["serving"]["max_batch"] == 8
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="file"' in page.text and "/v1/predict" in page.text and "/v1/cam" in page.text


def test_model_card_of_trained_weights(tmp_path: Path) -> None:
    contract = ModelContract(
        "googlenet_small", 10, {"width": 0.125}, tuple(IMAGENETTE), input_size=32,
        weights={"source": "trained", "dataset": "imagenette2-128", "epoch": 3, "kind": "raw"},
    )  # fmt: skip
    model = create_model("googlenet_small", num_classes=10, width=0.125)
    meta = {**contract.to_meta(), "epoch": 3, "metrics": {"val_acc": 0.75, "val_top5": 0.95, "val_loss": 0.8}}
    svc = Service(save(tmp_path / "trained.safetensors", model, meta))
    training = svc.card["training"]
    assert training["dataset"] == "imagenette2-128" and training["epoch"] == 3
    assert training["top1"] == 0.75 and training["top5"] == 0.95 and training["metrics"]["val_loss"] == 0.8
    # the same card as `googlenet card`: parameters counted on the model built here, the Markdown text included
    assert svc.card["params"]["total"] == sum(p.numel() for p in model.parameters())
    assert "75.00" in svc.card["markdown"] and svc.card["markdown"].startswith("#")
    svc.close()


def test_predict_multipart_and_raw_body_agree_with_googlenet_predict(
    client: TestClient, checkpoint: Path, tmp_path: Path
) -> None:
    ref = reference_probs(checkpoint, JPEG, tmp_path)
    multipart = client.post("/v1/predict", files={"file": ("photo.jpg", JPEG, "image/jpeg")})
    raw = client.post("/v1/predict?topk=10", content=JPEG, headers={"content-type": "image/jpeg"})
    octet = client.post("/v1/predict?topk=3", content=JPEG, headers={"content-type": "application/octet-stream"})
    for r, k in ((multipart, 5), (raw, 10), (octet, 3)):
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "googlenet" and len(body["top"]) == k
        assert body["batch_size"] >= 1 and 0 < body["latency_ms"] < 60_000
        assert [t["index"] for t in body["top"]] == ref.topk(k).indices.tolist()
        for t in body["top"]:
            assert t["class"] == IMAGENETTE[t["index"]] and abs(t["prob"] - ref[t["index"]].item()) < 2e-6
    assert abs(sum(t["prob"] for t in raw.json()["top"]) - 1) < 1e-4
    assert len(client.post("/v1/predict?topk=1000", content=JPEG).json()["top"]) == 10  # all there are


def test_upload_file_name_never_becomes_a_path(client: TestClient, tmp_path: Path) -> None:
    target = tmp_path / "evil.jpg"
    for name in (str(target), "../../evil.jpg", "/etc/passwd"):
        r = client.post("/v1/predict", files={"file": (name, JPEG, "image/jpeg")})
        assert r.status_code == 200 and name not in r.text
    assert not target.exists()


def test_cam_endpoint_is_the_grad_cam_of_the_eager_model(
    client: TestClient, service: Service, checkpoint: Path
) -> None:
    top = client.post("/v1/predict", content=JPEG).json()["top"][0]["index"]
    r = client.post("/v1/cam", files={"file": ("photo.jpg", JPEG, "image/jpeg")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["x-cam-layer"] == "inception5b" and int(r.headers["x-class-index"]) == top
    r3 = client.post("/v1/cam?index=3", content=JPEG, headers={"content-type": "image/jpeg"})
    assert r3.status_code == 200 and r3.headers["x-class-index"] == "3"
    # the same overlay computed here with the library: load, preprocess, Grad-CAM, overlay
    model, contract, _ = load_checkpoint(checkpoint)
    image = decode_bytes(JPEG)
    x = service.inputs(image)  # the preprocessing predict is checked against googlenet predict with
    expected = overlay(image, GradCam(model, contract)(x, [3]).maps[0], contract)
    got = Image.open(io.BytesIO(r3.content))
    assert got.size == expected.size and got.tobytes() == expected.tobytes()


# ---------------------------------------------------------------- bad input, in process
def multipart(*parts: tuple[str, tuple]) -> dict:
    return {"files": list(parts)}


BAD = {
    "not an image": (dict(content=b"hello, not an image", headers={"content-type": "image/jpeg"}), 422,
                     "upload: not an image file (format not recognised)"),
    "not an image (multipart)": (multipart(("file", ("x.jpg", b"%PDF-1.4 no", "image/jpeg"))), 422,
                                 "upload: not an image file"),
    "empty body": (dict(content=b""), 400, "empty body: no image was sent"),
    "empty file (multipart)": (multipart(("file", ("x.jpg", b"", "image/jpeg"))), 400, "empty body"),
    "truncated": (dict(content=JPEG[: len(JPEG) // 2], headers={"content-type": "image/jpeg"}), 422,
                  "upload: corrupt or truncated image"),
    "decompression bomb": (dict(content=bomb_png(20000, 20000), headers={"content-type": "image/png"}), 422,
                           "upload: too large: 400000000 pixels (the limit is 1000000 pixels)"),
    "over the pixel limit": (dict(content=photo_bytes("PNG", (1250, 1000))), 422,
                             "upload: too large: 1250000 pixels (the limit is 1000000 pixels)"),
    "body over the upload limit": (dict(content=b"\xff" * (MiB + 1), headers={"content-type": "image/jpeg"}), 413,
                                   f"upload too large: {MiB + 1} bytes (the limit is {MiB} bytes)"),
    "body over the limit, no length": (dict(content=[b"\xff" * (512 * KiB)] * 3), 413,
                                       f"upload too large: more than the limit of {MiB} bytes"),
    "multipart over the limit": (multipart(("file", ("x.jpg", b"\0" * (2 * MiB), "image/jpeg"))), 413,
                                 "upload too large"),
    "text content type": (dict(content=b"hello", headers={"content-type": "text/plain"}), 415,
                          "unsupported content type 'text/plain': send the image as multipart/form-data"),
    "json content type": (dict(json={"image": "x"}), 415, "unsupported content type 'application/json'"),
    "form content type": (dict(data={"file": "x"}), 415,
                          "unsupported content type 'application/x-www-form-urlencoded'"),
    "multipart without a file": (dict(files={"other": (None, "text")}), 400,
                                 "the multipart upload has no file: send the image in a field named 'file'"),
    "multipart with two files": (multipart(("file", ("a.jpg", JPEG, "image/jpeg")), ("b", ("b.jpg", JPEG, None))),
                                 400, "bad multipart upload: Too many files"),
    "multipart without boundary": (dict(content=b"x", headers={"content-type": "multipart/form-data"}), 400,
                                   "bad multipart upload: Missing boundary"),
}  # fmt: skip
BAD_QUERIES = {
    "topk=0": "topk must be a positive integer, got '0'",
    "topk=-3": "topk must be a positive integer, got '-3'",
    "topk=abc": "topk must be a positive integer, got 'abc'",
    "topk=2.5": "topk must be a positive integer, got '2.5'",
    "topk=": "topk must be a positive integer, got ''",
    "topk=" + "9" * 60: "topk must be a positive integer, got '" + "9" * 40 + "...'",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_upload_is_one_line_4xx_json_and_serving_goes_on(client: TestClient, case: str) -> None:
    kwargs, status, message = BAD[case]
    for path in ("/v1/predict", "/v1/cam"):
        sent = dict(kwargs)
        if isinstance(sent.get("content"), list):  # chunks sent without a length: a fresh stream per request
            sent["content"] = iter(sent["content"])
        r = client.post(path, **sent)
        assert r.status_code == status, r.text
        body = r.json()
        assert list(body) == ["error"] and body["error"].startswith(message), body
        assert "\n" not in body["error"] and len(body["error"]) < 300
    assert client.post("/v1/predict", content=JPEG).status_code == 200


@pytest.mark.parametrize("query", list(BAD_QUERIES))
def test_bad_query_is_400(client: TestClient, query: str) -> None:
    r = client.post(f"/v1/predict?{query}", content=JPEG)
    assert r.status_code == 400 and r.json() == {"error": BAD_QUERIES[query]}


@pytest.mark.parametrize("index", ["10", "-1", "x"])
def test_bad_cam_index_is_400(client: TestClient, index: str) -> None:
    r = client.post(f"/v1/cam?index={index}", content=JPEG)
    assert r.status_code == 400 and r.json() == {"error": f"index must be an integer from 0 to 9, got {index!r}"}


def test_unknown_path_and_method_are_json(client: TestClient) -> None:
    assert client.get("/v2/nothing").json() == {"error": "Not Found"}
    r = client.get("/v1/predict")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=256), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF"]))
def test_decode_bytes_fails_only_with_one_line_reasons(body: bytes, magic: bytes) -> None:
    try:
        img = decode_bytes(magic + body, max_pixels=10_000)
    except ImageDecodeError as err:
        assert str(err).startswith("upload: ") and "\n" not in str(err)
    else:
        assert img.mode == "RGB" and img.width * img.height <= 10_000


# ---------------------------------------------------------------- dynamic batching
def test_batcher_groups_concurrent_requests_and_equals_one_at_a_time() -> None:
    torch.manual_seed(0)
    weight = torch.randn(5, 12)
    seen: list[int] = []

    def probabilities(x: torch.Tensor) -> torch.Tensor:
        seen.append(len(x))
        return (x.flatten(1) @ weight.T).softmax(dim=1)

    inputs = [torch.randn(1, 3, 2, 2) for _ in range(10)]

    async def run(max_batch: int, max_wait_ms: float, n: int) -> list[tuple[torch.Tensor, int]]:
        batcher = DynamicBatcher(probabilities, max_batch, max_wait_ms)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(x) for x in inputs[:n]))
        finally:
            await batcher.stop()

    out = asyncio.run(run(max_batch=4, max_wait_ms=200, n=10))
    assert seen == [4, 4, 2] and [b for _, b in out] == [4] * 8 + [2] * 2  # full batches go at once
    for (p, _), x in zip(out, inputs, strict=True):
        torch.testing.assert_close(p, probabilities(x)[0], rtol=0, atol=1e-6)
    seen.clear()
    start = time.perf_counter()
    out = asyncio.run(run(max_batch=8, max_wait_ms=80, n=3))
    assert seen == [3] and time.perf_counter() - start >= 0.075  # not full: waits max_wait_ms for more


def test_batcher_survives_a_failing_forward() -> None:
    calls = {"n": 0}

    def flaky(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("out of memory")
        return torch.ones(len(x), 2) / 2

    async def run() -> tuple[BaseException, torch.Tensor]:
        batcher = DynamicBatcher(flaky, 4, 1.0)
        batcher.start()
        try:
            first = await asyncio.gather(batcher.submit(torch.zeros(1, 1)), return_exceptions=True)
            second, _ = await batcher.submit(torch.zeros(1, 1))
            return first[0], second
        finally:
            await batcher.stop()

    err, ok = asyncio.run(run())
    assert isinstance(err, RuntimeError) and ok.tolist() == [0.5, 0.5]


def test_concurrent_http_requests_share_one_forward(checkpoint: Path, tmp_path: Path) -> None:
    service = Service(checkpoint, ServeOptions(max_batch=6, max_wait_ms=10_000))  # full at 6: no wait then
    pictures = [photo_bytes(seed=i) for i in range(6)]
    results: dict[int, dict] = {}
    with TestClient(create_app(service)) as c:

        def send(i: int) -> None:
            results[i] = c.post("/v1/predict?topk=10", content=pictures[i]).json()

        threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        stats = c.get("/healthz").json()["batches"]
    service.close()
    assert stats["forwards"] == 1 and stats["images"] == 6 and stats["largest"] == 6
    for i, body in results.items():
        assert body["batch_size"] == 6
        ref = reference_probs(checkpoint, pictures[i], tmp_path)  # one image at a time, as googlenet predict
        for t in body["top"]:
            assert abs(t["prob"] - ref[t["index"]].item()) < 1e-5


def test_bad_options_are_one_line() -> None:
    with pytest.raises(UserError, match=r"^max-batch must be at least 1, got 0$"):
        ServeOptions(max_batch=0)
    with pytest.raises(UserError, match=r"^max-wait-ms must be >= 0, got -1"):
        ServeOptions(max_wait_ms=-1)


def test_without_the_serve_extra_the_command_names_it(monkeypatch, capsys) -> None:
    """No Starlette: every other command still works, and ``serve`` says which extra to install."""
    for name in [m for m in sys.modules if m == "starlette" or m.startswith("starlette.")]:
        monkeypatch.setitem(sys.modules, name, None)  # import starlette... -> ModuleNotFoundError
    for name in ("googlenet.cli.serve", "googlenet.serve.server", "googlenet.serve.app"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert main(["serve", "--checkpoint", "x.safetensors"]) == 2
    err = capsys.readouterr().err
    hint = "this needs the optional package 'starlette': pip install 'googlenet[serve]'"
    assert err == f"googlenet serve: error: {hint}\n"
    assert build_parser().parse_args(["predict", "--checkpoint", "c", "x.jpg"]).func  # the rest parses as before


def test_features_only_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    from googlenet.errors import UserError

    model = create_model("googlenet_small", num_classes=0, width=0.125)
    contract = ModelContract("googlenet_small", 0, {"width": 0.125}, input_size=32)
    path = save(tmp_path / "features.safetensors", model, contract.to_meta())
    with pytest.raises(UserError, match="features-only") as err:
        Service(path)
    assert "\n" not in str(err.value)
