"""Two ASGI middlewares every response passes: the browser security headers of the labeling page, and
the request metrics ``/metrics`` serves (Prometheus text).

The page loads its images straight from the object store (presigned URLs), so the Content Security
Policy allows images from that origin and nothing else from anywhere but the service itself."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram


def content_security_policy(image_origins: tuple[str, ...]) -> str:
    images = " ".join(("'self'", "data:", "blob:", *image_origins))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders:
    def __init__(self, app, image_origins: tuple[str, ...] = ()) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(image_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),  # presigned URLs and run ids stay out of Referer
            (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


class RequestMetrics:
    """Counts and times every request by route template (never the raw path: it holds run ids) and status."""

    def __init__(self, app, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "samx_labeling_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        )
        self.latency = Histogram(
            "samx_labeling_request_seconds", "Time to answer a request", ["route"], registry=registry
        )

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def record(message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.requests.labels(scope["method"], route, str(status[0])).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)
