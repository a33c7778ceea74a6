"""Starting and stopping stack processes by PID file, never by process name.

Each process gets its own session (process group), so stopping it also stops the children it spawned
(Ray's raylet and workers, for example), and nothing else on the machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

# How long a process gets to exit after SIGTERM before its group is killed.
DEFAULT_STOP_TIMEOUT_S = 20.0


class ManagedProcess:
    def __init__(self, name: str, pid_dir: Path, log_dir: Path) -> None:
        self.name = name
        self.pid_file = pid_dir / f"{name}.pid"
        # The ports it was told to listen on (``SAMX_*_PORT`` of its environment), for ``stack status``.
        self.ports_file = pid_dir / f"{name}.ports.json"
        self.log_file = log_dir / f"{name}.log"

    def recorded_pid(self) -> int | None:
        """The PID in the PID file, running or not (``pid`` is the one to signal: it checks)."""
        try:
            return int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def recorded_ports(self) -> dict[str, int]:
        try:
            ports = json.loads(self.ports_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return {k: v for k, v in ports.items() if isinstance(v, int)} if isinstance(ports, dict) else {}

    def pid(self) -> int | None:
        pid = self.recorded_pid()
        return pid if pid is not None and _alive(pid) and self._started_by_us(pid) else None

    def _started_by_us(self, pid: int) -> bool:
        # Guards against a recycled PID: the recorded start time must match the running process's.
        recorded = self.pid_file.read_text().split()
        return len(recorded) > 1 and recorded[1] == str(_start_time(pid))

    def running(self) -> bool:
        return self.pid() is not None

    def start(self, command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        if (existing := self.pid()) is not None:
            return existing
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid} {_start_time(process.pid)}\n")
        # Port numbers only: the rest of the environment (keys, tokens) stays out of the state folder.
        ports = {
            k: int(v) for k, v in (env or {}).items() if k.startswith("SAMX_") and k.endswith("_PORT") and v.isdigit()
        }
        self.ports_file.unlink(missing_ok=True)
        if ports:
            self.ports_file.write_text(json.dumps(ports))
        return process.pid

    def stop(self, *, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> bool:
        """SIGTERM to the process group, SIGKILL after the timeout. Returns True if it was running."""
        return bool(stop_together([(self, timeout_s)]))

    def kill_hard(self) -> None:
        """kill -9 the process (fault tests): no clean shutdown, the PID file stays for ``stop``."""
        pid = self.pid()
        if pid is not None:
            _signal_group(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)


def stop_together(processes: Sequence[tuple[ManagedProcess, float]]) -> list[ManagedProcess]:
    """Stops several processes at once: SIGTERM to every group, then each gets until its own timeout
    (seconds) to exit before its group is killed. The wall time is the slowest one's, not the sum (a
    stack of nine processes stopped one by one waited for each in turn). Returns those that were running."""
    running = [(process, pid, timeout_s) for process, timeout_s in processes if (pid := process.pid()) is not None]
    for _, pid, _ in running:
        _signal_group(pid, signal.SIGTERM)
    started = time.monotonic()
    waiting = list(running)
    while waiting:
        elapsed = time.monotonic() - started
        for entry in list(waiting):
            _, pid, timeout_s = entry
            if not _alive(pid) or elapsed >= timeout_s:
                waiting.remove(entry)
        if waiting:
            time.sleep(0.1)
    for _, pid, _ in running:
        _signal_group(pid, signal.SIGKILL)  # one that outstayed its timeout, and leftovers of every group
    for process, _ in processes:
        process.pid_file.unlink(missing_ok=True)
        process.ports_file.unlink(missing_ok=True)
    return [process for process, _, _ in running]


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the group id is the PID: started with start_new_session
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except OSError:
        return True


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return "unknown"
