"""Free loopback ports and readiness waits (no sleeps: poll until ready or time out)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    log_hint: str = "",
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError(f"{what} exited during start-up{log_hint}")
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not up yet: connection refused and the like
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s{log_hint}")


def tcp_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
