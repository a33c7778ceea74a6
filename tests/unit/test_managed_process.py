"""Stack processes are stopped by their PID files, with their children, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from samx_cli.stack.processes import ManagedProcess

SPAWNS_A_CHILD = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
    " time.sleep(60)",
]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


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
        for gone in (pid, child):
            deadline = time.monotonic() + 5
            while (
                time.monotonic() < deadline
                and os.path.exists(f"/proc/{gone}")
                and open(f"/proc/{gone}/stat").read().split(") ")[-1][0] != "Z"
            ):
                time.sleep(0.05)
            assert not os.path.exists(f"/proc/{gone}") or open(f"/proc/{gone}/stat").read().split(") ")[-1][0] == "Z"
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
