"""OpenTelemetry and logging set-up, called by each service's entry point (never at import time).

``bootstrap_telemetry`` is the one call every entry point makes: logging, then a tracer provider that
exports over OTLP/HTTP when ``SAMX_OTEL_EXPORTER_OTLP_ENDPOINT`` is set (spans are still made and
propagated over Kafka without it). Ray Serve replicas install their provider themselves and take their
processors from ``ray_serve_span_processors``. FastAPI (the labeling API, serving's ingress) makes a
SERVER span per request by itself, continuing the caller's ``traceparent``, once a provider is set; it
records errors by type only and exports no logs without a logger provider (none is set up here).

Spans and log lines carry opaque ids only (see ``samx_core.ids.opaque``): no patient name, patient id,
UID or file name of a radiograph ever reaches a trace, a metric or a log. Errors are recorded by type
only (``record_error``): exception messages can quote header values or request bodies.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from samx_core.settings import TelemetrySettings

TRACER_NAME = "samx"
#: service.name of the serving replicas and proxies (Ray Serve's provider reads OTEL_SERVICE_NAME).
RAY_SERVE_SERVICE_NAME = "samx-serving"
#: ``TracingConfig.exporter_import_path`` of the serving app (a light module: proxies import it too).
RAY_SERVE_EXPORTER = "samx_core.telemetry:ray_serve_span_processors"
log = logging.getLogger(__name__)


def span_processors(settings: TelemetrySettings) -> list[SpanProcessor]:
    """The exporting processors the settings ask for: OTLP/HTTP when an endpoint is set, else none."""
    if not settings.exporter_otlp_endpoint:
        return []
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings.exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    return [BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint))]


def configure_tracing(
    service_name: str, settings: TelemetrySettings, extra_processors: list[SpanProcessor] | None = None
) -> TracerProvider:
    """Install a new tracer provider for this process (OpenTelemetry keeps the first one installed:
    entry points call ``bootstrap_telemetry``, which reuses it). ``extra_processors`` lets tests attach
    an in-memory exporter."""
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    for processor in [*span_processors(settings), *(extra_processors or [])]:
        provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider


def bootstrap_telemetry(
    service_name: str,
    settings: TelemetrySettings | None = None,
    *,
    extra_processors: list[SpanProcessor] | None = None,
    log_records: bool = True,
) -> TracerProvider:
    """Logging and tracing for this process; what every entry point calls first.

    Idempotent: a process has one tracer provider, so a second call (an entry point started in a
    process that already has one, a test that bootstrapped first) keeps it, service name included, and
    only adds ``extra_processors``. ``log_records`` False leaves logging alone (the ``samx`` CLI talks
    through its console)."""
    settings = settings if settings is not None else TelemetrySettings()
    if log_records:
        # Not forced: where the root logger has handlers already, the host owns logging (pytest, for
        # the tests that run an entry point in-process); a service's own process starts with none.
        configure_logging(settings.log_level, force=False)
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        for processor in extra_processors or []:
            current.add_span_processor(processor)
        return current
    provider = configure_tracing(service_name, settings, extra_processors)
    endpoint = settings.exporter_otlp_endpoint
    log.info("%s: traces %s", service_name, f"exported to {endpoint}" if endpoint else "not exported (no endpoint)")
    return provider


def ray_serve_span_processors() -> list[SpanProcessor]:
    """Ray Serve's tracing exporter hook (``TracingConfig.exporter_import_path``): Serve calls it in each
    replica and proxy process, then installs its own provider (with its sampler) around what it returns.
    The same export as every other SAM-X process, from that process's ``SAMX_OTEL_*``; the service name
    through OpenTelemetry's ``OTEL_SERVICE_NAME``, which that provider reads (an operator's value wins)."""
    os.environ.setdefault("OTEL_SERVICE_NAME", RAY_SERVE_SERVICE_NAME)
    return span_processors(TelemetrySettings())


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def span(name: str, **kwargs: Any) -> Iterator[trace.Span]:
    """``tracer().start_as_current_span`` without the SDK's default of exporting an escaping exception's
    message and stack trace (``record_exception``) and of putting the message in the status
    description: both may quote a DICOM header or a request body. The error is recorded by type."""
    with tracer().start_as_current_span(name, record_exception=False, set_status_on_exception=False, **kwargs) as s:
        try:
            yield s
        except BaseException as exc:
            record_error(s, exc)
            raise


def record_error(span: trace.Span, exc: BaseException) -> None:
    """Mark the span failed with the exception's type only (its message may quote patient data)."""
    span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
    span.add_event("exception", {"exception.type": type(exc).__name__})


def configure_logging(level: str = "INFO", *, force: bool = True) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=force,
    )
    # kafka-python is chatty at INFO about every reconnect; its warnings are what matter.
    logging.getLogger("kafka").setLevel(logging.WARNING)
