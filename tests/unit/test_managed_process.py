"""Stack processes are stopped by their PID files, with their children, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from samx_cli.stack.processes import ManagedProcess, stop_together

SPAWNS_A_CHILD = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    " time.sleep(60)",
]


IGNORES_SIGTERM = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _gone_soon(pid: int) -> bool:
    """Exited (or a zombie) within 5 s: a killed process takes a moment to go."""
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split(") ")[-1][0] != "Z":
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_stop_ends_the_process_and_its_children_by_pid(tmp_path):
    process = ManagedProcess("server", tmp_path / "pids", tmp_path / "logs")
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        pid = process.start(SPAWNS_A_CHILD)
        deadline = time.monotonic() + 10
        while not _children(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = _children(pid)[0]
        assert process.running() and process.pid_file.exists()
        assert process.start(SPAWNS_A_CHILD) == pid, "a second start reuses the running process"
        assert process.stop() is True
        assert not process.pid_file.exists()
        assert _gone_soon(pid) and _gone_soon(child)
        assert bystander.poll() is None, "a process the stack did not start is left alone"
        assert process.stop() is False
    finally:
        bystander.kill()
        bystander.wait()


def test_a_recycled_pid_is_not_mistaken_for_ours(tmp_path):
    process = ManagedProcess("server", tmp_path / "pids", tmp_path / "logs")
    process.pid_file.parent.mkdir(parents=True)
    # Our own PID is alive, but its start time differs from the one recorded: not a stack process.
    process.pid_file.write_text(f"{os.getpid()} 1\n")
    assert process.pid() is None
    assert process.stop() is False


def test_processes_stopped_together_wait_for_the_slowest_not_the_sum(tmp_path):
    """Two processes that ignore SIGTERM, 3 s of grace each: stopped together, both are killed once their
    own grace is over, about 3 s in all (one after the other took 6); one not running is skipped."""
    stubborn = [ManagedProcess(f"stubborn-{i}", tmp_path / "pids", tmp_path / "logs") for i in range(2)]
    never_started = ManagedProcess("never-started", tmp_path / "pids", tmp_path / "logs")
    pids = [process.start(IGNORES_SIGTERM) for process in stubborn]
    for process in stubborn:  # the handler is installed before the first line of output
        deadline = time.monotonic() + 20
        while "ready" not in (process.log_file.read_text() if process.log_file.exists() else ""):
            assert time.monotonic() < deadline, "the test process did not start"
            time.sleep(0.05)
    started = time.monotonic()
    stopped = stop_together([(stubborn[0], 3.0), (never_started, 3.0), (stubborn[1], 3.0)])
    took = time.monotonic() - started
    assert [process.name for process in stopped] == ["stubborn-0", "stubborn-1"]
    assert 3.0 <= took < 5.5, took
    assert all(_gone_soon(pid) for pid in pids) and not any(p.pid_file.exists() for p in stubborn)
