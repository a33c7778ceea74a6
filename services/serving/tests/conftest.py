"""The serving replica for route tests without Ray: the real ``ModelServer`` class as written (without
Serve's ASGI wrapper), served by the ingress module's own FastAPI app, its object store at a given port.
Its model is the real ``BatchedModel`` with nothing loaded, or a stand-in with set answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from ray import serve
from samx_core.settings import S3Settings
from samx_serving import ingress


class StandInModel:
    """What the routes call on the replica's model (``batched_model.BatchedModel``), with set answers:
    ``manifest`` a dict or None, ``explain`` an answer or an exception to raise; counts explain calls."""

    def __init__(self, manifest: dict | None, explain: object = None) -> None:
        self._manifest, self._explain, self.explain_calls = manifest, explain, 0

    def manifest(self) -> dict | None:
        return self._manifest

    async def explain(self, *_args: object) -> object:
        self.explain_calls += 1
        if isinstance(self._explain, BaseException):
            raise self._explain
        return self._explain


ReplicaFactory = Callable[..., tuple[object, TestClient]]
LOADED = {"version": "v1", "classes": ["knee", "hand"]}


@pytest.fixture
def serving_replica(monkeypatch) -> ReplicaFactory:
    """``serving_replica(store_port, manifest=LOADED, explain=None, real_model=False, **ingress_args)
    -> (replica, client)``: the model a ``StandInModel`` with these answers, or with ``real_model`` the
    replica's own ``BatchedModel`` (no version configured: nothing loaded)."""

    def build(
        store_port: int,
        manifest: dict | None = LOADED,
        explain: object = None,
        real_model: bool = False,
        **ingress_args: object,
    ):
        s3 = S3Settings(endpoint=f"127.0.0.1:{store_port}", access_key="test-key", secret_key="a-long-test-secret")
        written = ingress.ModelServer.func_or_class.__mro__[1]  # the class as written, without Serve's wrapper
        replica = written(ingress.ModelArgs(s3=s3), ingress.IngressArgs(s3=s3, **ingress_args))
        if not real_model:
            replica._model = StandInModel(manifest, explain)
        context = type("ReplicaContext", (), {"servable_object": replica})
        monkeypatch.setattr(serve, "get_replica_context", lambda: context)
        return replica, TestClient(ingress.app)

    return build
