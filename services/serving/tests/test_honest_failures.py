"""Honest failures of the serving API without servers: the Problem body of an outage, the readiness
body, the security headers and the metrics, and the routes through the ingress's own FastAPI app with
the real replica class whose object store is a closed port (refused at once) or a socket that accepts
and never answers (the timeout). Its model is stood in for, or its own with nothing loaded (conftest.py;
no Ray started); the real outage, with MinIO stopped by PID, is in tests/integration/test_serving.py."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import pytest
from samx_serving import ingress
from samx_serving.dependencies import DependencyUnavailable, from_model, model_refusal, problem_response, readiness
from samx_serving.middleware import API_POLICY, security_headers

IMAGE_ID = "img-" + "0" * 32


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: connections are refused


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def test_an_outage_is_a_problem_503_with_a_reason_and_retry_after():
    answer = problem_response(DependencyUnavailable("object_store", "the object store is unreachable; retry"))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert json.loads(answer.body) == {
        "status": 503,
        "reason": "object_store_unavailable",
        "detail": "the object store is unreachable; retry",
    }
    refused = problem_response(ingress.InputError(422, "too_small", "the image is 1 x 1 px"))
    assert refused.status_code == 422 and "retry-after" not in refused.headers


def test_readiness_is_503_unless_every_dependency_is_ok():
    assert readiness({"model": "ok", "object_store": "ok"}, "v1") == (
        {"status": "ready", "model_version": "v1", "dependencies": {"model": "ok", "object_store": "ok"}},
        200,
    )
    body, status = readiness({"model": "not loaded", "object_store": "down"}, None)
    assert status == 503 and body["status"] == "not ready: model not loaded, object_store down"


def test_a_slow_model_answers_503_within_its_timeout():
    async def never() -> None:
        await asyncio.Event().wait()

    with pytest.raises(DependencyUnavailable) as caught:
        asyncio.run(from_model(never(), timeout_s=0.05))
    assert (caught.value.status, caught.value.reason) == (503, "model_unavailable")


def test_model_answers_that_are_refusals_and_those_that_are_bugs():
    class ModelNotLoaded(RuntimeError):
        pass

    assert model_refusal(ModelNotLoaded("none promoted")).reason == "no_model"
    assert model_refusal(KeyError("teapot"), explaining="teapot").reason == "unknown_class"
    bug = KeyError("a bug in classify")
    assert model_refusal(bug) is bug, "a KeyError outside explain is not the caller's fault: a 500"
    outage = DependencyUnavailable("model", "down")
    assert model_refusal(outage) is outage


def test_security_headers_fit_a_json_and_png_api():
    v1 = dict(security_headers("/v1/index", []))
    assert v1[b"cache-control"] == b"no-store" and v1[b"x-content-type-options"] == b"nosniff"
    assert v1[b"referrer-policy"] == b"no-referrer" and v1[b"content-security-policy"] == API_POLICY.encode()
    assert b"frame-ancestors 'none'" in v1[b"content-security-policy"]
    assert b"cache-control" not in dict(security_headers("/readyz", []))
    assert b"cache-control" not in dict(security_headers("/v1/x", [(b"Cache-Control", b"max-age=60")]))
    docs = dict(security_headers("/docs", []))[b"content-security-policy"]
    assert docs == b"frame-ancestors 'none'", "Swagger UI loads its scripts from a CDN"


def test_object_store_down_answers_json_503_and_readyz_says_so(serving_replica):
    _, client = serving_replica(_closed_port(), auth_required=False)
    by_id = client.post("/v1/classify", json={"image_id": IMAGE_ID})
    assert by_id.status_code == 503 and by_id.headers["content-type"] == "application/json"
    assert by_id.json()["reason"] == "object_store_unavailable" and by_id.headers["retry-after"] == "5"
    explained = client.post("/v1/explain", json={"image_id": IMAGE_ID})
    assert (explained.status_code, explained.json()["reason"]) == (503, "object_store_unavailable")
    listed = client.get("/v1/index", params={"label": "knee"})
    assert (listed.status_code, listed.json()["reason"]) == (503, "object_store_unavailable")
    batch = client.post("/v1/classify/batch", json={"images": [{"image_id": IMAGE_ID}]})
    assert batch.status_code == 200 and batch.json()["results"][0]["error"]["reason"] == "object_store_unavailable"
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready: object_store down",
        "model_version": "v1",
        "dependencies": {"model": "ok", "object_store": "down"},
    }
    assert by_id.headers["cache-control"] == "no-store" and ready.headers["x-content-type-options"] == "nosniff"


def test_an_object_store_that_never_answers_is_a_503_after_the_timeout(serving_replica, silent_port):
    _, client = serving_replica(silent_port, auth_required=False, object_store_timeout_s=0.5)
    r = client.get("/v1/index", params={"model_version": "v1"})
    assert r.status_code == 503 and r.json()["reason"] == "object_store_unavailable"
    assert "within 0.5 s" in r.json()["detail"]


def test_no_model_loaded_is_not_ready_and_classify_is_a_503_no_model(serving_replica):
    _, client = serving_replica(_closed_port(), real_model=True, auth_required=False)  # nothing promoted yet
    body = client.get("/readyz").json()
    assert body["dependencies"]["model"] == "not loaded" and body["model_version"] is None
    r = client.post("/v1/classify", content=_tiny_png(), headers={"content-type": "image/png"})
    assert (r.status_code, r.json()["reason"]) == (503, "no_model")


def test_an_unknown_class_is_refused_before_the_model_is_asked(serving_replica):
    """A KeyError raised in the model would be logged with its traceback."""
    replica, client = serving_replica(_closed_port(), explain=KeyError("teapot"), auth_required=False)
    png = _tiny_png()
    r = client.post("/v1/explain?class_name=teapot", content=png, headers={"content-type": "image/png"})
    assert r.status_code == 422 and r.json()["reason"] == "unknown_class"
    assert replica._model.explain_calls == 0


def test_metrics_count_by_route_template_and_status_with_no_ids(serving_replica):
    _, client = serving_replica(_closed_port(), auth_required=False)
    client.post("/v1/classify", json={"image_id": IMAGE_ID})
    client.get(f"/no/such/{IMAGE_ID}")
    text = client.get("/metrics").text
    assert 'samx_serving_requests_total{method="POST",route="/v1/classify",status="503"}' in text
    assert 'route="unmatched",status="404"' in text
    assert 'samx_serving_dependency_unavailable_total{dependency="object_store"}' in text
    assert 'samx_serving_request_seconds_bucket{le="0.005",route="/v1/classify"}' in text
    assert IMAGE_ID not in text


def _tiny_png() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray((np.arange(64 * 64) % 251).astype("uint8").reshape(64, 64)).save(out, format="PNG")
    return out.getvalue()
