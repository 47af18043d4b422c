"""``GET /metrics``: Prometheus text that the official parser reads, a registry per app, and counters that move
with good and bad requests by the numbers sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from _eval_kit import make_checkpoint
from googlenet.serve import ServeOptions, Service

pytest.importorskip("starlette", reason="needs the serve extra: pip install 'googlenet[serve]'")
pytest.importorskip("prometheus_client", reason="needs the serve extra: pip install 'googlenet[serve]'")
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from googlenet.serve.app import create_app

SIZE = 32
GOOD = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [2, 3, SIZE, SIZE], "data": [0.1] * 6 * SIZE**2}]}


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[Service]:
    path = make_checkpoint(tmp_path_factory.mktemp("metrics") / "m.safetensors", seed=4, input_size=SIZE)
    svc = Service(path, ServeOptions(max_batch=4, max_wait_ms=1.0))
    yield svc
    svc.close()


def scrape(c: TestClient) -> dict[tuple[str, tuple], float]:
    """Every sample of ``/metrics`` as ``(name, sorted labels) -> value``, parsed by prometheus_client."""
    r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def requests(m: dict, route: str, method: str, status: int) -> float:
    return m.get(("googlenet_http_requests_total", (("method", method), ("route", route), ("status", str(status)))), 0)


def test_counters_move_with_good_and_bad_requests(service: Service) -> None:
    infer = "/v2/models/{name}/infer"
    with TestClient(create_app(service), raise_server_exceptions=False) as c:
        before = scrape(c)
        assert requests(before, infer, "POST", 200) == 0
        for _ in range(3):
            assert c.post("/v2/models/googlenet/infer", json=GOOD).status_code == 200
        assert c.post("/v2/models/googlenet/infer", content=b"{oops").status_code == 400
        assert c.post("/v2/models/other/infer", json=GOOD).status_code == 404
        assert c.post("/v1/predict", content=b"not an image").status_code == 422
        assert c.get("/no/such/page").status_code == 404
        after = scrape(c)
    assert requests(after, infer, "POST", 200) == 3
    assert requests(after, infer, "POST", 400) == 1 and requests(after, infer, "POST", 404) == 1
    assert requests(after, "/v1/predict", "POST", 422) == 1
    assert requests(after, "unmatched", "GET", 404) == 1  # unknown paths share one label value
    assert requests(after, "/metrics", "GET", 200) == 1  # the first scrape
    # latency: one observation per request of the route
    assert after[("googlenet_http_request_duration_seconds_count", (("route", infer),))] == 5
    # 3 good requests of 2 images: 6 images through the batcher, in forwards of at most 4
    images = after[("googlenet_batch_size_sum", ())]
    forwards = after[("googlenet_batch_size_count", ())]
    assert images == 6 and 2 <= forwards <= 6
    assert after[("googlenet_inference_duration_seconds_count", ())] == forwards
    assert after[("googlenet_inference_duration_seconds_sum", ())] > 0
    assert after[("googlenet_queue_depth", ())] == 0
    info = next(k for k in after if k[0] == "googlenet_model_info")
    labels = dict(info[1])
    assert labels["model"] == "googlenet" and labels["checkpoint"] == "m.safetensors" and labels["num_classes"] == "10"
    assert after[("googlenet_model_load_seconds", ())] > 0


def test_each_app_has_its_own_registry(service: Service) -> None:
    with TestClient(create_app(service)) as a, TestClient(create_app(service)) as b:
        a.post("/v2/models/googlenet/infer", json=GOOD)
        infer = "/v2/models/{name}/infer"
        assert requests(scrape(a), infer, "POST", 200) == 1
        assert requests(scrape(b), infer, "POST", 200) == 0
