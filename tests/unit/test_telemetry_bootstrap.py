"""Every entry point bootstraps telemetry under its service name; the bootstrap is idempotent; once it
has run, the labeling API's requests are SERVER spans (FastAPI's own) continuing the caller's trace;
Ray Serve's exporter hook exports as the services do.

The entry points run as the operator calls them, in a probe process whose OpenTelemetry state is reset
before each (a process has one tracer provider), each stopped early by a configuration it refuses; then
the probe reports the service name of the provider it left (none: the entry point did not bootstrap)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from samx_core.telemetry import RAY_SERVE_EXPORTER, bootstrap_telemetry, ray_serve_span_processors, tracer

from tests.support.tracing import in_memory_spans

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs each entry point named on its command line in turn, in one process (the imports are the cost),
# from a fresh process's OpenTelemetry state (as opentelemetry's own test utilities reset it), and
# prints the service name of the tracer provider each one left.
PROBE = """
import importlib, json, os, sys
from opentelemetry import trace
from opentelemetry.util._once import Once
for module, attr, argv, env in json.loads(sys.argv[1]):
    trace._TRACER_PROVIDER_SET_ONCE, trace._TRACER_PROVIDER = Once(), None
    os.environ.update(env)
    try:
        entry = getattr(importlib.import_module(module), attr)
        entry(argv, prog_name="samx") if attr == "app" else entry(argv)
    except BaseException as stopped:  # each one stops early by design here
        print(f"{module} {argv}: stopped by {type(stopped).__name__}", file=sys.stderr)
    for name in env:
        del os.environ[name]
    resource = getattr(trace.get_tracer_provider(), "resource", None)
    print(json.dumps([argv, resource.attributes.get("service.name") if resource else None]))
"""

# What makes each stop right after its start: an object-store endpoint the S3 client refuses to build
# (ingest needs its settings first), no S3 credentials (trainer, serving sort), no tokens (labeling,
# serving deploy), a path that does not exist (samx send).
_S3 = {"SAMX_S3_ENDPOINT": "127.0.0.1:9/refused", "SAMX_S3_ACCESS_KEY": "probe", "SAMX_INGEST_DEID_SECRET": "p" * 32}
ENTRY_POINTS = [  # (service name, module, attribute, arguments, environment): every console script's roles
    ("samx-cli", "samx_cli.main", "app", ["send", "/nonexistent/radiographs"], {}),
    ("samx-ingest", "samx_ingest.__main__", "main", ["worker"], _S3),
    ("samx-cstore", "samx_ingest.__main__", "main", ["cstore"], _S3),
    ("samx-labeling", "samx_labeling.__main__", "main", ["serve"], {}),
    ("samx-trainer", "samx_trainer.__main__", "main", ["consume"], {}),
    ("samx-serving-sort", "samx_serving.__main__", "main", ["sort"], {}),
    ("samx-serving-deploy", "samx_serving.__main__", "main", ["deploy"], {}),
]


def test_every_entry_point_bootstraps_telemetry_under_its_service_name():
    """No SAMX_* or OTEL_* of the developer's shell reaches the probe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAMX_", "OTEL_"))}
    env["SAMX_S3_SECRET_KEY"] = "probe-" + uuid.uuid4().hex  # only ingest has the rest of _S3
    runs = [[module, attr, argv, extra] for _, module, attr, argv, extra in ENTRY_POINTS]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(runs)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    reported = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(reported) == len(ENTRY_POINTS), done.stderr[-3000:]
    assert [service for _, service in reported] == [service for service, *_ in ENTRY_POINTS], done.stderr[-3000:]


def test_bootstrap_is_idempotent_and_keeps_the_first_provider():
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    provider = bootstrap_telemetry("samx-test", extra_processors=[SimpleSpanProcessor(first)], log_records=False)
    again = bootstrap_telemetry("samx-other", extra_processors=[SimpleSpanProcessor(second)], log_records=False)
    assert again is provider is trace.get_tracer_provider() and isinstance(provider, TracerProvider)
    with tracer().start_as_current_span("probe") as span:
        trace_id = span.get_span_context().trace_id
    for exporter in (first, second):
        assert [s.name for s in exporter.get_finished_spans() if s.context.trace_id == trace_id] == ["probe"]


def test_labeling_requests_are_server_spans_by_route_template(tmp_path):
    """The real labeling app on SQLite (its object store and broker are not reached by these routes)."""
    from samx_core.settings import KafkaSettings, S3Settings
    from samx_labeling.api.app import build_context, create_app
    from samx_labeling.db.setup import prepare_database
    from samx_labeling.settings import LabelingSettings, ServiceSettings

    spans = in_memory_spans()
    token = "viewer-" + uuid.uuid4().hex
    url = f"sqlite:///{tmp_path}/labeling.db"
    prepare_database(url)
    settings = ServiceSettings(
        labeling=LabelingSettings(database_url=url, tokens=json.dumps({token: {"user": "vera", "role": "viewer"}})),
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        s3=S3Settings(endpoint="127.0.0.1:9", access_key="probe", secret_key="probe-" + uuid.uuid4().hex),
    )
    context = build_context(settings)
    caller_trace = uuid.uuid4().hex
    headers = {"Authorization": f"Bearer {token}", "traceparent": f"00-{caller_trace}-{'2' * 16}-01"}
    try:
        with TestClient(create_app(context, max_request_bytes=4096)) as client:
            assert client.get("/api/v1/runs/run-0042", headers=headers).status_code == 404
            assert client.post("/api/v1/runs", content=b"x" * 10_000, headers=headers).status_code == 413
    finally:
        context.close()
    mine = {s.name: s for s in spans.get_finished_spans() if s.context.trace_id == int(caller_trace, 16)}
    read = mine["GET /api/v1/runs/{run_id}"]  # FastAPI's own span: the route template, not the path
    assert read.kind is SpanKind.SERVER and format(read.parent.span_id, "016x") == "2" * 16
    assert read.attributes["http.response.status_code"] == 404
    assert mine["POST"].attributes["http.response.status_code"] == 413  # the size limit answers inside it


def test_ray_serve_exports_as_the_services_do(monkeypatch):
    """The hook named in serving's TracingConfig (samx_serving.app: importing it here costs Ray and torch;
    a wrong name would stop every replica's start in tests/integration/test_serving.py)."""
    module, attr = RAY_SERVE_EXPORTER.split(":")
    assert getattr(importlib.import_module(module), attr) is ray_serve_span_processors
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("SAMX_OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert ray_serve_span_processors() == []
    assert os.environ["OTEL_SERVICE_NAME"] == "samx-serving"
    monkeypatch.setenv("SAMX_OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    (processor,) = ray_serve_span_processors()
    assert isinstance(processor, BatchSpanProcessor)
    processor.shutdown()


def test_a_failing_span_records_the_error_by_type_without_its_message():
    """An exception escaping a span (a pydicom error quoting a header, say) marks it failed by type
    only: no message in the status, no exception event with message or stack trace."""
    from samx_core.telemetry import span as traced

    spans = in_memory_spans()
    planted = "DOE^JANE MRN-0042"
    with contextlib.suppress(ValueError), traced("decode") as span:
        trace_id = span.get_span_context().trace_id
        raise ValueError(f"bad header value {planted!r}")
    (failed,) = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id]
    assert failed.status.status_code is trace.StatusCode.ERROR and failed.status.description == "ValueError"
    assert [e.attributes.get("exception.type") for e in failed.events] == ["ValueError"]
    assert planted not in json.dumps([dict(e.attributes or {}) for e in failed.events]) + str(failed.status)
