"""Liveness and readiness probes (no authentication; they reveal nothing but up or down)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from samx_labeling.api.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", summary="Request counts and latencies (Prometheus text; no patient data)")
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/readyz",
    summary="The database is reachable (and the consumer runs, when enabled)",
    responses={503: {"description": "Not ready", "content": {"application/json": {}}}},
)
def readyz(context: ContextDep) -> JSONResponse:
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "database unreachable"}, status_code=503)
    if context.consumer_alive is not None and not context.consumer_alive():
        return JSONResponse({"status": "consumer stopped"}, status_code=503)
    return JSONResponse({"status": "ready"})
