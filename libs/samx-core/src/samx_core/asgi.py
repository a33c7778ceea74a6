"""Two ASGI middlewares of the HTTP services (labeling, serving): headers added to every answer
(``AddedHeaders``: each service its own security policy), and request metrics (``RequestMetrics``),
counting and timing every request by route template and status into the service's own Prometheus metrics.

Metric labels are the matched route's template (``/api/v1/runs/{run_id}``), never the raw path: paths hold
run and image ids, and a scan of random paths must not grow the label set (``unmatched``). The metric
objects are the service's (its names, its registry), so this module needs no Prometheus client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol


class _Child(Protocol):
    def inc(self, amount: float = 1) -> None: ...

    def observe(self, amount: float) -> None: ...


class LabelledMetric(Protocol):
    """A Prometheus counter or histogram with labels (``prometheus_client``'s have this shape)."""

    def labels(self, *values: str) -> Any: ...


Headers = list[tuple[bytes, bytes]]


class AddedHeaders:
    """Adds ``headers_for(path, headers the app set)`` to every HTTP answer."""

    def __init__(self, app: Any, headers_for: Callable[[str, Headers], Headers]) -> None:
        self.app, self.headers_for = app, headers_for

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message["headers"] = [*headers, *self.headers_for(scope.get("path", ""), headers)]
            await send(message)

        await self.app(scope, receive, with_headers)


def route_label(scope: dict[str, Any]) -> str:
    """The matched route's template; ``unmatched`` for anything else."""
    return getattr(scope.get("route"), "path", None) or "unmatched"


class RequestMetrics:
    """``requests`` labelled (method, route, status); ``latency`` labelled (route)."""

    def __init__(self, app: Any, requests: LabelledMetric, latency: LabelledMetric) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]  # 500 unless the app answered

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = route_label(scope)
            self.requests.labels(scope["method"], route, str(status[0])).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)


__all__ = ["AddedHeaders", "Headers", "LabelledMetric", "RequestMetrics", "route_label"]
