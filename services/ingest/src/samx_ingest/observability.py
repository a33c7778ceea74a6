"""Health, readiness and Prometheus metrics of an ingest worker, on one small HTTP server.

Readiness reports each dependency (the consumer loop, Kafka, the object store) and is 503 when one is
down; the checks run side by side, each bounded by its own timeout, so a probe answers in about that
long whatever the dependencies do. Metric labels are outcome and reason codes only: never an id, a
site's file name or a tag value."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from samx_core.reachability import readiness_answer


class IngestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "samx_ingest_radiographs", "Received radiographs by outcome", ["outcome"], registry=self.registry
        )
        self.rejections = Counter(
            "samx_ingest_rejected", "Rejected inputs by reason code", ["reason"], registry=self.registry
        )
        self.dead_letters = Counter(
            "samx_ingest_dead_letters", "Messages sent to the dead-letter topic", registry=self.registry
        )
        self.latency = Histogram(
            "samx_ingest_latency_seconds",
            "Time to handle one received radiograph",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.lag = Gauge(
            "samx_ingest_consumer_lag", "Messages waiting on the assigned partitions", registry=self.registry
        )


Checks = Mapping[str, Callable[[], bool]]


def readiness(checks: Checks) -> tuple[int, dict]:
    """Runs every check at once; (status, body) with each dependency's state, 503 when one is down. A
    check that raises counts as down: a probe answers whatever happens."""

    def run(check: Callable[[], bool]) -> bool:
        try:
            return bool(check())
        except Exception:
            return False

    with ThreadPoolExecutor(max(1, len(checks)), thread_name_prefix="readyz") as pool:
        states = dict(zip(checks, pool.map(run, checks.values()), strict=True))
    return readiness_answer(states)


class HealthServer:
    """``/healthz`` (the process is alive), ``/readyz`` (each dependency), ``/metrics``."""

    def __init__(self, host: str, port: int, metrics: IngestMetrics, checks: Checks) -> None:
        handler = _make_handler(metrics, checks)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _make_handler(metrics: IngestMetrics, checks: Checks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path == "/healthz":
                self._send(200, "application/json", json.dumps({"status": "ok"}).encode())
            elif self.path == "/readyz":
                status, body = readiness(checks)
                self._send(status, "application/json", json.dumps(body).encode())
            elif self.path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
            else:
                self._send(404, "application/json", json.dumps({"detail": "not found"}).encode())

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # probes every few seconds would drown the log

    return Handler
