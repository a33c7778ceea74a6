"""Finding the processes a test's own local Ray started (from /proc), so that fault tests kill those and
nothing else on the machine."""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from samx_core.storage import ObjectStore


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid``."""
    parents: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(fields[1])].append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        out += children
        todo += children
    return out


def ray_train_worker_pids() -> list[int]:
    """The Ray Train worker processes (DDP ranks) below this test process."""
    pids = []
    for pid in descendants(os.getpid()):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::RayTrainWorker"):
                pids.append(pid)
        except OSError:
            continue
    return pids


def kill_a_rank_after_two_checkpoints(
    store: ObjectStore, bucket: str, prefix: str, state_file: str, finished: Callable[[], bool], limit_s: float = 300
) -> None:
    """SIGKILL one Ray Train worker once two checkpoints (``state_file`` under ``prefix``) were seen in
    MinIO: the first one is surely registered with the run by then; an upload alone is not (a kill
    between the two restarts the run from nothing). Seen, not present: a run may keep one at a time.
    ``limit_s`` bounds the wait (no hang); it is not a speed requirement."""
    deadline, seen = time.monotonic() + limit_s, set()
    while len(seen) < 2:
        assert time.monotonic() < deadline and not finished(), "no two checkpoints reached MinIO"
        seen |= {k for k in store.list_keys(bucket, prefix) if k.endswith(state_file)}
        time.sleep(0.1)
    victims = ray_train_worker_pids()
    assert victims and not finished(), "the run ended before a worker could be killed"
    os.kill(victims[-1], signal.SIGKILL)
