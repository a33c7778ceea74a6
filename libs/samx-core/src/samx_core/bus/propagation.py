"""W3C trace context in Kafka headers, so one trace runs from ``samx send`` to the last consumer."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import context as otel_context
from opentelemetry import propagate

KafkaHeaders = list[tuple[str, bytes]]


def inject_headers(headers: KafkaHeaders | None = None) -> KafkaHeaders:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [*(headers or []), *((name, value.encode()) for name, value in carrier.items())]


def extract_context(headers: Iterable[tuple[str, bytes]] | None) -> otel_context.Context:
    carrier = {name: value.decode("utf-8", "replace") for name, value in (headers or []) if value is not None}
    return propagate.extract(carrier)


def headers_as_text(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    return {name: (value or b"").decode("utf-8", "replace") for name, value in (headers or [])}
