"""Every /v1 route of the ingress asks for a bearer token and refuses with a Problem body and a Bearer
challenge; the probes ask for none. The ingress module's own FastAPI app (Serve has already turned its
class-based routes into plain ones) with the real replica class and its model stood in (conftest.py), so
no Ray is started."""

from __future__ import annotations

import asyncio
import socket
import types

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient
from ray import serve
from samx_core.auth import Role, TokenGrant, TokenTable
from samx_serving.access import require
from samx_serving.preprocess import InputError

TOKEN = "a-serving-test-token-0123456789"  # noqa: S105 (a test token)
TABLE = TokenTable.from_tokens({TOKEN: TokenGrant(user="samx-test", role="viewer")})


def _client(serving_replica, tokens: TokenTable | None) -> TestClient:
    """The real replica class, a model version loaded (stood in), its object store a closed port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, client = serving_replica(
        port, {"version": "v1"}, auth_required=tokens is not None, tokens=tokens or TokenTable({})
    )
    return client


ROUTES = [
    ("POST", "/v1/classify"),
    ("POST", "/v1/classify/batch"),
    ("POST", "/v1/explain?format=png"),
    ("GET", "/v1/model"),
    ("GET", "/v1/index?label=knee"),
    ("GET", "/v1/index?label=../x"),  # refused as unauthorized before its query is validated
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    ("authorization", "detail"),
    [(None, "missing bearer token"), ("Bearer not-a-token-we-know-of", "unknown token"), ("Basic dmVyYTp4", None)],
)
def test_v1_routes_refuse_a_missing_or_unknown_token(serving_replica, method, path, authorization, detail):
    headers = {"Authorization": authorization} if authorization else {}
    r = _client(serving_replica, TABLE).request(method, path, headers=headers, content=b"\x89PNG")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    body = r.json()
    assert body["status"] == 401 and body["reason"] == "unauthorized"
    assert body["detail"] == (detail or "missing bearer token")  # another scheme is no bearer token


def test_a_known_token_is_admitted_and_the_probes_need_none(serving_replica):
    client = _client(serving_replica, TABLE)
    r = client.get("/v1/model", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json() == {"version": "v1"}
    ready = client.get("/readyz")  # answered without a token (not ready: no object store here)
    assert ready.json()["model_version"] == "v1" and ready.json()["dependencies"]["model"] == "ok"
    assert client.get("/healthz").status_code == 200


def test_with_auth_off_no_token_is_asked(serving_replica):
    assert _client(serving_replica, None).get("/v1/model").status_code == 200


def test_a_stricter_route_refuses_a_lower_role_with_403(monkeypatch):
    replica = types.SimpleNamespace(tokens=TABLE)
    monkeypatch.setattr(serve, "get_replica_context", lambda: types.SimpleNamespace(servable_object=replica))
    credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=TOKEN)
    assert asyncio.run(require(Role.viewer)(credentials)).user == "samx-test"
    with pytest.raises(InputError) as refused:
        asyncio.run(require(Role.labeler)(credentials))
    assert (refused.value.status, refused.value.reason) == (403, "forbidden")
