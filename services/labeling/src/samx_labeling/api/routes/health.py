"""Liveness and readiness probes (no authentication; they reveal nothing but up or down)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from samx_core.reachability import readiness_answer
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from samx_labeling.api.deps import ContextDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)  # Prometheus text for the scraper, not an API operation
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/readyz",
    summary="The database is reachable (and the consumer runs, when enabled)",
    responses={503: {"description": "Not ready", "content": {"application/json": {}}}},
)
def readyz(context: ContextDep) -> JSONResponse:
    """Each dependency's state; 503 when any is down, so that no traffic is sent to a pod that can only
    fail it (a cluster page needs the object store, publishing needs Kafka)."""
    dependencies = {"database": _database_ok(context)}
    dependencies |= {name: check() for name, check in context.dependency_checks.items()}
    if context.consumer_alive is not None:
        dependencies["consumer"] = context.consumer_alive()
    status, body = readiness_answer(dependencies)
    return JSONResponse(body, status_code=status)


def _database_ok(context) -> bool:
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True
