"""Authentication and roles (401/403), and bad input answered with a 4xx and a JSON message, never 500."""

from __future__ import annotations

from .conftest import ADMIN, LENA, MAX_REQUEST_BYTES, VIEWER, auth


def test_no_anonymous_access_and_roles_are_ordered(labeling):
    client, run_id = labeling.client, labeling.run_id
    cluster = labeling.non_empty_clusters()[0]
    label_url = f"/api/v1/runs/{run_id}/clusters/{cluster['cluster']}/label"
    for method, url in [
        ("GET", "/api/v1/runs"),
        ("GET", f"/api/v1/runs/{run_id}/clusters"),
        ("PUT", label_url),
        ("POST", f"/api/v1/runs/{run_id}/publish"),
    ]:
        anonymous = client.request(method, url, json={"label": "hand", "version": 1})
        assert anonymous.status_code == 401 and anonymous.json()["detail"] == "missing bearer token"
        assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/api/v1/runs", headers=auth("Bearer not-a-token-we-know-of")).status_code == 401
    assert client.get("/api/v1/runs", headers=auth("Basic dmVyYTp4")).status_code == 401

    forbidden = client.put(label_url, json={"label": "hand", "version": 1}, headers=auth(VIEWER))
    assert forbidden.status_code == 403 and "labeler" in forbidden.json()["detail"]
    assert client.post(f"/api/v1/runs/{run_id}/publish", headers=auth(VIEWER)).status_code == 403
    assert client.post("/api/v1/vocabulary", json={"name": "patella"}, headers=auth(LENA)).status_code == 403
    assert client.put(label_url, json={"label": "hand", "version": 1}, headers=auth(ADMIN)).status_code == 200
    # Health probes are open: orchestrators call them without credentials.
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["dependencies"]["database"] == "ok"


BAD_REQUESTS = [
    ("GET", "/api/v1/runs/no-such-run", None, 404),
    ("GET", "/api/v1/runs/no-such-run/clusters", None, 404),
    ("GET", "/api/v1/runs/{run}/clusters/4242", None, 404),
    ("GET", "/api/v1/runs/{run}/clusters/4242/members", None, 404),
    ("PUT", "/api/v1/runs/{run}/clusters/4242/label", {"label": "hand", "version": 1}, 404),
    ("GET", "/api/v1/runs/{run}/labelsets/7", None, 404),
    ("GET", "/api/v1/runs/{run}/labelsets/7.csv", None, 404),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", {"label": "hand", "version": 5}, 409),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", {"label": "hand"}, 422),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", {"label": "hand", "version": 1, "x": 1}, 422),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", {"label": "<script>", "version": 1}, 422),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", {"label": "hand\u0000", "version": 1}, 422),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", {"label": "hand", "version": 2**40}, 422),
    ("PUT", "/api/v1/runs/{run}/clusters/0/label", "not json", 422),
    ("POST", "/api/v1/runs/{run}/labels", {"items": []}, 422),
    ("POST", "/api/v1/runs/{run}/clusters/0/discard", {"version": 1, "reason": "a\u0000b"}, 422),
    ("GET", "/api/v1/runs/{run}/clusters?sort=colour", None, 422),
    ("GET", "/api/v1/runs/{run}/clusters?limit=0", None, 422),
    ("GET", "/api/v1/runs/{run}/clusters/99999999999999", None, 422),
    ("GET", "/api/v1/runs/bad%20run%00id", None, 422),
    ("POST", "/api/v1/runs/{run}/suggestions/accept", {"min_share": 2}, 422),
]


def test_bad_requests_get_4xx_with_a_message(labeling):
    for method, path, body, status in BAD_REQUESTS:
        kwargs = {"content": body} if isinstance(body, str) else {"json": body}
        response = labeling.client.request(method, path.format(run=labeling.run_id), headers=auth(LENA), **kwargs)
        assert response.status_code == status, (method, path, body, response.text)
        assert response.headers["content-type"].startswith("application/json") and response.json()["detail"]


def test_oversized_bodies_get_413_announced_or_chunked(labeling):
    url = f"/api/v1/runs/{labeling.run_id}/suggestions"
    big = b"image_id,labels\n" + b"x" * MAX_REQUEST_BYTES
    declared = labeling.client.post(url, content=big, headers={**auth(LENA), "Content-Type": "text/csv"})
    assert declared.status_code == 413 and "larger than" in declared.json()["detail"]

    def chunks():
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    chunked = labeling.client.post(url, content=chunks(), headers={**auth(LENA), "Content-Type": "text/csv"})
    assert chunked.status_code == 413


def test_unusable_csv_uploads_get_422(labeling):
    url = f"/api/v1/runs/{labeling.run_id}/suggestions"
    headers = {**auth(LENA), "Content-Type": "text/csv"}
    for payload in [b"\xff\xfe not utf-8", b"image,labels\na.png,hand\n", b"", b"labels\nhand\n"]:
        response = labeling.client.post(url, content=payload, headers=headers)
        assert response.status_code == 422 and response.json()["detail"][0]["msg"], (payload, response.text)
    # csv reads an unterminated quote to the end of the file: one row matching no image, so the upload
    # suggests nothing; it is refused as such (earlier suggestions kept), not as a parser crash.
    lenient = labeling.client.post(url, content=b'image_id,labels\n"unterminated,hand\n', headers=headers)
    assert lenient.status_code == 422 and "1 match no radiograph" in lenient.text, lenient.text


def test_every_answer_carries_the_security_headers_and_metrics_count_routes_not_ids(labeling):
    client, run_id = labeling.client, labeling.run_id
    for path in ("/", "/healthz", f"/api/v1/runs/{run_id}/clusters", "/api/v1/nope"):
        headers = client.get(path, headers=auth(VIEWER)).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp, path
        assert (headers["x-content-type-options"], headers["referrer-policy"]) == ("nosniff", "no-referrer")
    client.get(f"/api/v1/runs/{run_id}/clusters", headers=auth(VIEWER))
    text = client.get("/metrics").text
    counted = [x for x in text.splitlines() if x.startswith("samx_labeling_requests_total")]
    assert any('/runs/{run_id}/clusters",status="200"} 2.0' in x for x in counted), counted
    assert run_id not in text  # route templates, never a run's id


def test_an_object_store_that_went_away_is_a_json_503_and_readyz_names_it(
    database_url, archive_s3, kafka_settings, phase1_run
):
    from fastapi.testclient import TestClient
    from samx_cli.stack.ports import free_port
    from samx_core.reachability import tcp_reachable
    from samx_core.storage import ObjectStore
    from samx_labeling.api.app import create_app
    from samx_labeling.consumer import handle_clustering_completed

    from .conftest import make_context

    gone = archive_s3.model_copy(update={"endpoint": f"127.0.0.1:{free_port()}"})  # nothing listens there
    context = make_context(database_url, gone, kafka_settings)
    context.dependency_checks = {"object_store": lambda: tcp_reachable(gone.endpoint, default_port=80)}
    assert handle_clustering_completed(phase1_run.event, context.sessions, ObjectStore(archive_s3))
    run_id, cluster = phase1_run.event.run_id, next(iter(phase1_run.cluster_truth))
    with TestClient(create_app(context, max_request_bytes=MAX_REQUEST_BYTES)) as client:
        answer = client.get(f"/api/v1/runs/{run_id}/clusters/{cluster}", headers=auth(VIEWER))
        assert answer.status_code == 503 and "retry" in answer.json()["detail"]
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["dependencies"] == {"database": "ok", "object_store": "down"}
        assert "object_store" in ready.json()["status"]
    context.close()
