"""Connecting a training job's driver to Ray, and how many of the cluster's CPUs its workers take."""

from __future__ import annotations

import logging
import time

import ray

from samx_trainer.settings import RaySettings, TrainerSettings

log = logging.getLogger(__name__)


def connect_ray(settings: RaySettings, *, attempts: int = 4, pause_s: float = 10.0) -> bool:
    """Connect to the configured cluster, or start a local one; True when this call connected.

    A driver can arrive while the head is still coming up (a fresh local stack, a restarted KubeRay
    head pod): Ray gives it one fixed window to find GCS and the head's raylet and then raises
    ``ConnectionError``. A job should outwait a slow start, so a failed connection is retried a
    bounded number of times before it ends the job.
    """
    if ray.is_initialized():
        return False
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=settings.address, include_dashboard=False, log_to_driver=True)
            return True
        except ConnectionError as exc:
            ray.shutdown()  # drop what the failed attempt set up before trying again
            if attempt == attempts:
                raise
            log.warning("Ray not reachable yet (%s); attempt %d of %d, next in %.0f s", exc, attempt, attempts, pause_s)
            time.sleep(pause_s)
    raise AssertionError("unreachable")


def worker_cpus(trainer: TrainerSettings) -> int:
    """CPUs each Ray Train worker reserves and uses as torch threads.

    ``SAMX_TRAINER_CPUS_PER_WORKER`` when set. By default the job takes every CPU the connected cluster
    has free right now, split over its workers and capped at the largest node (a worker is one
    process on one node): on a 2-core machine one worker trains on both cores, and with a Serve
    replica holding a CPU it takes the one left instead of waiting for one that never frees."""
    if trainer.cpus_per_worker is not None:
        return max(1, int(trainer.cpus_per_worker))
    free = ray.available_resources().get("CPU", 1.0)
    largest_node = max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n.get("Alive")), default=1.0)
    return max(1, int(min(largest_node, free // trainer.num_workers)))
