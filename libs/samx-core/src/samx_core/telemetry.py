"""OpenTelemetry and logging set-up, called by each service's entry point (never at import time).

Spans and log lines carry opaque ids only (see ``samx_core.ids.opaque``): no patient name, patient id,
UID or file name of a radiograph ever reaches a trace, a metric or a log.
"""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from samx_core.settings import TelemetrySettings

TRACER_NAME = "samx"


def configure_tracing(
    service_name: str, settings: TelemetrySettings, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Install a tracer provider for this process. OTLP/HTTP export only when an endpoint is set;
    ``extra_processors`` lets tests attach an in-memory exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if settings.exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    for processor in extra_processors or []:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    # kafka-python is chatty at INFO about every reconnect; its warnings are what matter.
    logging.getLogger("kafka").setLevel(logging.WARNING)
