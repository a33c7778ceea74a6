"""Serving's security headers (an ASGI middleware every response passes) and its metrics, which
``samx_core.asgi.RequestMetrics`` counts requests into and ``/metrics`` serves (Prometheus text).
The labeling page has its own headers (samx_labeling.api.middleware); serving answers JSON and PNG only, so
its policy allows nothing at all.

Metrics are per replica (each counts its own): labels are the route template, method and status,
never a raw path, an image id or anything from a request body."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from samx_core.asgi import AddedHeaders

# JSON and PNG answers load nothing and belong in no frame. The interactive docs (FastAPI's Swagger UI
# and ReDoc pages load scripts from a CDN) keep only the framing and sniffing rules.
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_POLICY = "frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")
COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for clients that predate it
    (b"cross-origin-resource-policy", b"same-origin"),
]


def security_headers(path: str, existing: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The headers to add to the answer for ``path``. /v1 answers (behind a bearer token: classes,
    overlays of archived radiographs, the index) are never stored by a browser or a proxy."""
    policy = DOCS_POLICY if path.startswith(DOCS_PATHS) else API_POLICY
    added = [*COMMON_HEADERS, (b"content-security-policy", policy.encode())]
    has_cache_control = any(name.lower() == b"cache-control" for name, _ in existing)
    if path.startswith("/v1/") and not has_cache_control:
        added.append((b"cache-control", b"no-store"))
    return added


class SecurityHeaders(AddedHeaders):
    def __init__(self, app) -> None:
        super().__init__(app, security_headers)


class ServingMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()  # per app instance: tests build their own
        self.requests = Counter(
            "samx_serving_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "samx_serving_request_seconds",
            "Time to answer a request",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.unavailable = Counter(
            "samx_serving_dependency_unavailable",
            "Requests answered 503 because a dependency was down or slow",
            ["dependency"],
            registry=self.registry,
        )


__all__ = ["SecurityHeaders", "ServingMetrics", "security_headers"]
