"""The launcher a consumer gets from its settings, and the environment a Ray job is handed."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings

from samx_trainer.launch.port import Launcher
from samx_trainer.launch.settings import LauncherSettings
from samx_trainer.settings import Settings

#: Ray's own switches the consumer runs with that the job's driver and workers need as well
_PASSED_ON = ("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "ARROW_DEFAULT_MEMORY_POOL")


def make_launcher(settings: Settings, launcher: LauncherSettings) -> Launcher:
    backend = launcher.backend
    if backend == "auto":
        backend = "ray-jobs" if launcher.ray_jobs_address else "in-process"
    if backend == "ray-jobs":
        if not launcher.ray_jobs_address:
            raise ValueError("SAMX_LAUNCHER_BACKEND=ray-jobs needs SAMX_LAUNCHER_RAY_JOBS_ADDRESS (the Ray dashboard)")
        from samx_trainer.launch.ray_jobs import RayJobsLauncher

        return RayJobsLauncher(
            launcher.ray_jobs_address, job_env(settings), launcher.entrypoint, launcher.ray_token_file
        )
    if backend == "kuberay":
        from samx_trainer.launch.kuberay import KubeRayLauncher

        return KubeRayLauncher(launcher.templates, dry_run=launcher.dry_run)
    from samx_trainer.launch.in_process import InProcessLauncher

    return InProcessLauncher(settings)


def settings_env(settings: BaseSettings) -> dict[str, str]:
    """A settings object as the ``SAMX_*`` variables that rebuild it (unset optionals left out)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, (list, tuple, set, dict)):  # pydantic-settings reads complex values as JSON
            value = json.dumps(sorted(value) if isinstance(value, set) else value)
        env[f"{prefix}{name}".upper()] = str(value)
    return env


def job_env(settings: Settings) -> dict[str, str]:
    """What a Ray job's driver needs to act like this consumer: its trainer, S3 and Kafka settings as
    it has them (tests hand them in as objects, not environment) and its telemetry. The driver finds
    its cluster through RAY_ADDRESS, which the job manager sets. Credentials ride along: the local
    stack's dashboard listens on loopback and asks for the head's token."""
    env = {**settings_env(settings.trainer), **settings_env(settings.s3), **settings_env(settings.kafka)}
    env |= {k: v for k, v in os.environ.items() if k.startswith("SAMX_OTEL_") or k in _PASSED_ON}
    return env
