"""Finding the processes a test's own local Ray started (from /proc), so that fault tests kill those and
nothing else on the machine."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path


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
