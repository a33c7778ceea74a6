"""The browser security headers of the labeling page (an ASGI middleware every response passes), and the
metrics ``samx_core.asgi.RequestMetrics`` counts requests into (``/metrics``, Prometheus text).

The page loads its images straight from the object store (presigned URLs), so the Content Security
Policy allows images from that origin and nothing else from anywhere but the service itself."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from samx_core.asgi import AddedHeaders


def content_security_policy(image_origins: tuple[str, ...]) -> str:
    images = " ".join(("'self'", "data:", "blob:", *image_origins))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeaders(AddedHeaders):
    def __init__(self, app, image_origins: tuple[str, ...] = ()) -> None:
        headers = [
            (b"content-security-policy", content_security_policy(image_origins).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),  # presigned URLs and run ids stay out of Referer
            (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        super().__init__(app, lambda path, existing: headers)


def request_metrics(registry: CollectorRegistry) -> dict[str, Counter | Histogram]:
    """The labeling service's request metrics, for ``samx_core.asgi.RequestMetrics``."""
    return {
        "requests": Counter(
            "samx_labeling_requests", "HTTP requests answered", ["method", "route", "status"], registry=registry
        ),
        "latency": Histogram("samx_labeling_request_seconds", "Time to answer a request", ["route"], registry=registry),
    }
