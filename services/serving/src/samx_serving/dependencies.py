"""The routes' calls to what they depend on (the object store, the model's forward passes), each bounded
by a timeout, and their failures as a JSON Problem 503 with a reason instead of a plain-text 500.

An outage is not a bug in the request or in the service: the caller (the sort, a PACS bridge) should
retry later, so the answer says which dependency and carries ``Retry-After``. The log line names the
dependency and the exception type only: the client libraries' messages hold object keys (image ids)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from minio.error import MinioException
from samx_core.bus import RetryableError

from samx_serving.api_models import Problem
from samx_serving.preprocess import InputError

log = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_AFTER_S = 5


class DependencyUnavailable(InputError):
    """A dependency did not answer (in time): a 503 with ``<dependency>_unavailable`` as its reason. An
    ``InputError`` so that a batch reports it per item like any other refusal."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(503, f"{dependency}_unavailable", detail)
        self.dependency = dependency


def problem_response(exc: InputError) -> JSONResponse:
    """The API's Problem body for any refusal; a 503 also says when to try again."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status == 503 else None
    body = Problem(status=exc.status, reason=exc.reason, detail=exc.detail).model_dump()
    return JSONResponse(body, exc.status, headers=headers)


async def dependency_unavailable_response(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DependencyUnavailable)
    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.unavailable.labels(exc.dependency).inc()
    return problem_response(exc)


async def from_object_store(call: Callable[..., T], *args: object, timeout_s: float) -> T:
    """``call(*args)`` (a blocking ObjectStore method) in a thread, answered within ``timeout_s``. A call
    that outlives the timeout finishes in its thread (the store's own read timeout bounds it); the
    request has its 503 already."""
    try:
        return await asyncio.wait_for(asyncio.to_thread(call, *args), timeout_s)
    except TimeoutError:
        raise _down("object_store", TimeoutError(), f"the object store did not answer within {timeout_s:g} s") from None
    except (RetryableError, MinioException) as exc:  # unreachable, or answering with errors (busy, refused)
        raise _down("object_store", exc, "the object store is unreachable or failing") from None


async def from_model(answer: Awaitable[T], *, timeout_s: float) -> T:
    """The replica's model answer (a batched classify, an explain), within ``timeout_s``: a batch queue
    that does not drain in time (the replica overloaded or a forward pass stuck) is an outage, 503. A
    ``ModelNotLoaded`` or a ``KeyError`` is the caller's to map: it is an answer, not an outage. (A dead
    replica is Serve's to answer: its proxy routes to the others, or returns 503 itself.)"""

    try:
        return await asyncio.wait_for(answer, timeout_s)
    except TimeoutError:
        raise _down("model", TimeoutError(), f"the model did not answer within {timeout_s:g} s") from None


def model_refusal(exc: Exception, *, explaining: str | None | bool = False) -> Exception:
    """What to raise for an exception of the model: the refusal it stands for (nothing loaded; an
    unknown class, when explaining), an outage as it is, or anything else as it is (a bug: a 500)."""
    if isinstance(exc, DependencyUnavailable):
        return exc
    if "ModelNotLoaded" in type(exc).__name__ or "ModelNotLoaded" in str(exc):  # by name: no torch import here
        return InputError(503, "no_model", "no model version is loaded yet")
    if explaining is not False and ("KeyError" in type(exc).__name__ or isinstance(exc, KeyError)):
        return InputError(422, "unknown_class", f"the served model has no class {explaining!r}")
    return exc


def _down(dependency: str, exc: Exception, detail: str) -> DependencyUnavailable:
    log.warning("%s unavailable: %s", dependency, type(exc).__name__)  # no message: it can hold object keys
    return DependencyUnavailable(dependency, f"{detail}; retry in a few seconds")


def readiness(states: dict[str, str], model_version: str | None) -> tuple[dict, int]:
    """The /readyz body and status: each dependency's state (``ok``, ``down``, or for the model ``not
    loaded``); 503 unless every one is ``ok``."""
    not_ok = [f"{name} {state}" for name, state in states.items() if state != "ok"]
    body = {
        "status": "ready" if not not_ok else f"not ready: {', '.join(not_ok)}",
        "model_version": model_version,
        "dependencies": states,
    }
    return body, 503 if not_ok else 200


__all__ = [
    "DependencyUnavailable",
    "dependency_unavailable_response",
    "from_model",
    "from_object_store",
    "model_refusal",
    "problem_response",
    "readiness",
]
