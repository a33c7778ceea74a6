"""Ray's worker priority: set before a ``ray.init`` that may start a node, never over the caller's choice."""

from samx_core.ray_env import RAY_WORKER_PRIORITY_ENV, prefer_full_priority_workers


def test_workers_at_nice_zero_unless_the_environment_says_otherwise():
    empty: dict[str, str] = {}
    prefer_full_priority_workers(empty)
    assert empty == {"RAY_worker_niceness": "0"} == RAY_WORKER_PRIORITY_ENV

    ray_default = {"RAY_worker_niceness": "15"}
    prefer_full_priority_workers(ray_default)
    assert ray_default == {"RAY_worker_niceness": "15"}
