"""Bounded reachability checks for readiness probes: a TCP connection to a dependency, within a timeout.

A probe must answer in about a second whatever the dependency does: a client library's own calls retry
and back off for tens of seconds. Reachable is what a readiness probe can honestly say; whether the
credentials work shows in the first real request (a JSON 503 when not)."""

from __future__ import annotations

import socket
from collections.abc import Mapping


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    address = address.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return address, default_port
    return host.strip("[]"), int(port)


def tcp_reachable(address: str, *, default_port: int, timeout_s: float = 1.0) -> bool:
    try:
        with socket.create_connection(_host_port(address, default_port), timeout=timeout_s):
            return True
    except OSError:
        return False


def any_reachable(addresses: str, *, default_port: int, timeout_s: float = 1.0) -> bool:
    """For a comma-separated list (Kafka bootstrap servers): one that answers is enough."""
    return any(tcp_reachable(a.strip(), default_port=default_port, timeout_s=timeout_s) for a in addresses.split(","))


def object_store_reachable(endpoint: str, *, secure: bool, timeout_s: float = 1.0) -> bool:
    """An S3 endpoint as ``SAMX_S3_ENDPOINT`` gives it (``host[:port]``; no port: the scheme's)."""
    return tcp_reachable(endpoint, default_port=443 if secure else 80, timeout_s=timeout_s)


def kafka_reachable(bootstrap_servers: str, *, timeout_s: float = 1.0) -> bool:
    """``SAMX_KAFKA_BOOTSTRAP_SERVERS``: one broker that answers is enough."""
    return any_reachable(bootstrap_servers, default_port=9092, timeout_s=timeout_s)


def readiness_answer(states: Mapping[str, bool]) -> tuple[int, dict[str, object]]:
    """A ``/readyz`` answer from each dependency's state (True: up): 200, or 503 naming those down."""
    down = sorted(name for name, ok in states.items() if not ok)
    body: dict[str, object] = {
        "status": "ready" if not down else f"not ready: {', '.join(down)} down",
        "dependencies": {name: "ok" if ok else "down" for name, ok in states.items()},
    }
    return (503 if down else 200), body
