"""Spans of this test process in memory (attached to the process's one tracer provider through the same
bootstrap the services call, so that any number of test modules can each have their exporter), and the
trace context of events as they lie in Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kafka import KafkaConsumer, TopicPartition
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from samx_core.events import Event
from samx_core.settings import KafkaSettings, TelemetrySettings
from samx_core.telemetry import bootstrap_telemetry

E = TypeVar("E", bound=Event)


def in_memory_spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    bootstrap_telemetry(
        "samx-test", TelemetrySettings(), extra_processors=[SimpleSpanProcessor(exporter)], log_records=False
    )
    return exporter


def trace_parent(headers: list[tuple[str, bytes]] | None) -> tuple[int, int] | None:
    """(trace id, parent span id) of a Kafka message's W3C ``traceparent`` header, or None."""
    for name, value in headers or []:
        if name == "traceparent":
            _, trace_id, span_id, _ = value.decode().split("-")
            return int(trace_id, 16), int(span_id, 16)
    return None


def read_with_headers(
    kafka: KafkaSettings, event_type: type[E], wanted: Callable[[E], bool], *, timeout_s: float
) -> tuple[E, list[tuple[str, bytes]]]:
    """The first event of the type's topic (from the beginning) that ``wanted`` accepts, with its headers."""
    consumer = KafkaConsumer(**kafka.client_kwargs(), group_id=None, enable_auto_commit=False)
    try:
        topic = kafka.topic(event_type.TOPIC)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=250).values():
                for record in records:
                    event = event_type.from_bytes(record.value)
                    if wanted(event):
                        return event, list(record.headers or [])
        raise AssertionError(f"no wanted {event_type.TOPIC} event within {timeout_s:.0f} s")
    finally:
        consumer.close()
