"""Starting ingest workers as their own processes (services are run, never imported)."""

from __future__ import annotations

import functools
import json
import shutil
import sys
import urllib.request
from pathlib import Path

from samx_cli.stack.ports import free_port, wait_until
from samx_cli.stack.processes import ManagedProcess


def ingest_command() -> list[str]:
    executable = shutil.which("samx-ingest") or str(Path(sys.executable).parent / "samx-ingest")
    return [executable, "worker"]


def start_ingest_workers(state_dir: Path, env: dict[str, str], count: int) -> list[tuple[ManagedProcess, int]]:
    workers = []
    for index in range(count):
        process = ManagedProcess(f"ingest-{index}", state_dir / "pids", state_dir / "logs")
        process.stop()  # a worker left from an earlier run restarts with this run's settings and code
        port = free_port()
        process.start(ingest_command(), env={**env, "SAMX_INGEST_HEALTH_PORT": str(port)})
        workers.append((process, port))
    for process, port in workers:
        wait_until(
            functools.partial(_ready, port),
            timeout_s=90,
            what=process.name,
            alive=process.running,
            log_hint=f"; see {process.log_file}",
        )
    return workers


def _ready(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:  # noqa: S310
        return json.load(response)["status"] == "ready"
