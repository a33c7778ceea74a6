"""Publishing events: acks from all in-sync replicas, idempotent producer, a PRODUCER span per message
and the W3C context in the headers."""

from __future__ import annotations

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata
from opentelemetry import trace

from samx_core.bus.errors import PublishFailedError
from samx_core.bus.propagation import inject_headers
from samx_core.events import Event
from samx_core.settings import KafkaSettings
from samx_core.telemetry import span as traced


class EventPublisher:
    """Thin, typed wrapper around ``KafkaProducer``. ``publish`` is asynchronous; callers that must know
    the event is durable (before committing their own input offsets) call ``flush``, which raises
    ``PublishFailedError`` if any event since the previous flush was not acknowledged."""

    def __init__(self, settings: KafkaSettings, *, linger_ms: int = 5, max_block_s: float = 60.0) -> None:
        """``max_block_s``: how long ``publish`` may wait for the broker's metadata (a down broker)."""
        self._settings = settings
        self._producer = KafkaProducer(
            **settings.client_kwargs(),
            max_block_ms=int(max_block_s * 1000),
            acks="all",
            enable_idempotence=True,
            retries=2**31 - 1,
            linger_ms=linger_ms,
            max_request_size=2 * 1024 * 1024,
        )
        self._failures: list[BaseException] = []

    def publish(self, event: Event, *, key: str | None = None) -> FutureRecordMetadata:
        payload = event.to_bytes()
        topic = self._settings.topic(event.TOPIC)
        with traced(f"{topic} publish", kind=trace.SpanKind.PRODUCER) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.operation.type", "publish")
            span.set_attribute("messaging.destination.name", topic)
            span.set_attribute("messaging.message.id", str(event.event_id))
            span.set_attribute("messaging.message.body.size", len(payload))
            future = self._producer.send(
                topic,
                value=payload,
                key=key.encode() if key else None,
                headers=inject_headers([("samx-event-type", type(event).__name__.encode())]),
            )
            future.add_errback(self._failures.append)
            return future

    def publish_and_wait(self, event: Event, *, key: str | None = None, timeout_s: float = 30.0) -> None:
        self.publish(event, key=key).get(timeout=timeout_s)

    def flush(self, timeout_s: float | None = 120.0) -> None:
        self._producer.flush(timeout=timeout_s)
        if self._failures:
            failures, self._failures = self._failures, []
            raise PublishFailedError(f"{len(failures)} event(s) were not acknowledged: {failures[0]!r}")

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
