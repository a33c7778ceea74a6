"""Error mapping: each domain failure has one status and a JSON message. Unexpected exceptions are not
caught here on purpose: a 500 is a bug to fix, not to hide."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError
from samx_core.bus import PublishFailedError, RetryableError
from sqlalchemy.exc import OperationalError

from samx_labeling.api.schemas import ErrorBody
from samx_labeling.domain.errors import ConflictError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No or unknown bearer token"},
    403: {"model": ErrorBody, "description": "The token's role is too low"},
    404: {"model": ErrorBody, "description": "Unknown run, cluster or label set"},
    413: {"model": ErrorBody, "description": "Request body larger than SAMX_LABELING_MAX_REQUEST_BYTES"},
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Stale version or a state that forbids the change"}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "Object store or event bus unreachable; retry"}
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def _not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc.args[0]) if exc.args else "not found"}, status_code=404)

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(InvalidInputError)
    async def _invalid(_: Request, exc: InvalidInputError) -> JSONResponse:
        # Shaped like FastAPI's own validation errors, so one 422 schema describes both.
        body = {"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]}
        return JSONResponse(body, status_code=422)

    @app.exception_handler(OperationalError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return JSONResponse({"detail": "the labeling database is unavailable; retry"}, status_code=503)

    @app.exception_handler(RetryableError)
    @app.exception_handler(PublishFailedError)
    @app.exception_handler(KafkaError)
    async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency unavailable: %s", type(exc).__name__)
        return JSONResponse({"detail": "object store or event bus unavailable; retry"}, status_code=503)


class BodySizeLimit:
    """ASGI middleware: 413 for bodies over ``max_bytes``, whether announced by Content-Length or not."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)
            return
        # Chunked (no length): read it all up to the limit, then hand it on.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._too_large(send)
                return
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send) -> None:
        payload = json.dumps({"detail": f"request body is larger than {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
