"""Ray's process priority, set wherever SAM-X starts a Ray node (the local stack's head, a trainer or
serving deploy that starts its own local Ray, the tests and benchmarks that call ``ray.init``; the chart
sets the same on every Ray pod). A plain mapping of environment variables: importing this needs no Ray.

Ray starts every worker process at nice 15 (its ``worker_niceness``) so that its own daemons stay
responsive; but in SAM-X the workers are the job (the training ranks, the serving replicas), and the
daemons at nice 0 (dashboard, its agents, log monitor, GCS) then preempt a training rank's two
lock-stepped OpenMP threads whenever they wake. Measured on the 2-core dev VM (``bench/train_speed.py``,
product / bare loop, runs alternated): SimCLR at 128 px 0.79-0.88 at nice 15 against 0.90-1.02 at nice 0
(three runs each); at 96 px no difference the VM's noise lets us see (0.85-0.95 against 0.80-1.02, two
each); phase 2 at 128 px 0.82-0.97 against 0.86-0.98 (``bench/results/README.md``). The raylet reads it
when it starts, so it must be in the environment of ``ray start`` or of the ``ray.init`` starting a node."""

from __future__ import annotations

import os
from collections.abc import MutableMapping

#: Ray workers at the priority of everything else on the node (Ray's default: nice 15).
RAY_WORKER_PRIORITY_ENV = {"RAY_worker_niceness": "0"}


def prefer_full_priority_workers(environ: MutableMapping[str, str] = os.environ) -> None:
    """Before a ``ray.init`` that may start a node: its workers at nice 0, unless the caller's environment
    already says otherwise (``RAY_worker_niceness=15`` restores Ray's default)."""
    for name, value in RAY_WORKER_PRIORITY_ENV.items():
        environ.setdefault(name, value)


__all__ = ["RAY_WORKER_PRIORITY_ENV", "prefer_full_priority_workers"]
