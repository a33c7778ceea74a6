"""``samx stack status``: every process the stack started, by its PID file, with its ports and health.

Kafka, MinIO and Ray are checked as ``stack up`` checks them before it reports them ready; the services
started against the stack (``samx demo``: ingest workers, labeling, the trainer's consumer, serving and
the streaming sort) by their own HTTP readiness endpoint where they have one, on the port recorded when
they were started. Nothing here signals or touches a process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from samx_cli.stack.processes import ManagedProcess

#: The services' HTTP ports (the variable their start set) and readiness paths; processes not named
#: here (the trainer's consumer, the streaming sort) have no HTTP endpoint: alive is all there is.
_SERVICE_HEALTH = {
    "ingest": ("SAMX_INGEST_HEALTH_PORT", "/readyz"),
    "labeling": ("SAMX_LABELING_PORT", "/readyz"),
    "serving": ("SAMX_SERVING_HTTP_PORT", "/readyz"),
}
#: Ports of the stack's components in ``stack.json``: the main one first, then the side ones.
COMPONENT_PORTS = {
    "kafka": ("kafka_port", {"controller": "kafka_controller_port"}),
    "minio": ("minio_port", {"console": "minio_console_port"}),
    "ray": ("ray_port", {"dashboard": "ray_dashboard_port", "agent": "ray_agent_port"}),
}


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    kind: str  # "stack" (Kafka, MinIO, Ray) or "service"
    pid: int | None  # the recorded PID (also of a process that has exited since)
    alive: bool
    port: int | None
    health: str  # "ready", "not ready: <why>", "no answer: <why>", "-" (no endpoint) or "down"
    log: Path
    side_ports: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.alive and self.health in {"ready", "-"}

    @property
    def ports_text(self) -> str:
        if self.port is None:
            return "-"
        return " ".join([str(self.port), *(f"{name} {port}" for name, port in self.side_ports.items())])


def component_status(name: str, process: ManagedProcess, config: dict, ready: Callable[[], bool]) -> ProcessStatus:
    """Kafka, MinIO or Ray: ports from ``stack.json``, health from the component's own readiness check."""
    main, side = COMPONENT_PORTS.get(name, ("", {}))
    alive = process.running()
    return ProcessStatus(
        name=name,
        kind="stack",
        pid=process.recorded_pid(),
        alive=alive,
        port=config.get(main),
        side_ports={label: config[key] for label, key in side.items() if key in config},
        health=_checked(ready) if alive else "down",
        log=process.log_file,
    )


def service_status(process: ManagedProcess) -> ProcessStatus:
    """A service process: its recorded port and, where it has one, its HTTP readiness endpoint."""
    variable, path = _SERVICE_HEALTH.get(_service_kind(process.name), (None, None))
    port = process.recorded_ports().get(variable) if variable else None
    alive = process.running()
    if not alive:
        health = "down"
    elif port is None or path is None:
        health = "-"
    else:
        health = http_readiness(f"http://127.0.0.1:{port}{path}")
    return ProcessStatus(
        name=process.name,
        kind="service",
        pid=process.recorded_pid(),
        alive=alive,
        port=port,
        health=health,
        log=process.log_file,
    )


def _service_kind(name: str) -> str:
    """``ingest-0`` -> ``ingest``; ``serving-sort`` is a kind of its own (no endpoint)."""
    return "ingest" if name.startswith("ingest-") else name


def http_readiness(url: str, *, timeout_s: float = 3.0) -> str:
    """``ready`` on a 200; otherwise what the endpoint (or the connection) said, briefly."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (loopback URL we built)
            return "ready" if response.status == 200 else f"not ready: HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"not ready: HTTP {error.code}{_reason(error.read())}"
    except (urllib.error.URLError, OSError) as error:
        return f"no answer: {getattr(error, 'reason', error)}"


def _reason(body: bytes) -> str:
    """The readiness body's reason, when it is JSON that gives one (each service words it its own way)."""
    try:
        document = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    for key in ("reason", "detail", "status"):
        if isinstance(document.get(key), str):
            return f" ({document[key][:120]})"
    return ""


def _checked(ready: Callable[[], bool]) -> str:
    try:
        return "ready" if ready() else "not ready"
    except Exception as error:  # a readiness probe that cannot connect says so; status never fails on it
        return f"no answer: {type(error).__name__}"
