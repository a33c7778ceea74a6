"""Connecting a training job's driver to Ray."""

from __future__ import annotations

import logging
import time

import ray

from samx_trainer.settings import RaySettings

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
