"""The launcher's settings (``SAMX_LAUNCHER_*``): which backend turns an event into a training job, and
what each backend needs. The chart's trainer-launcher sets the kuberay ones; the local stack
(``samx stack up``) sets ``SAMX_LAUNCHER_RAY_JOBS_ADDRESS`` to its Ray head's dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Backend = Literal["auto", "ray-jobs", "kuberay", "in-process"]


class LauncherSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_LAUNCHER_", extra="ignore")

    backend: Backend = Field(
        default="auto",
        description="ray-jobs: the Ray Jobs API of a running cluster; kuberay: a RayJob per run; in-process: a "
        "thread of the consumer (no Ray cluster); auto: ray-jobs when ray_jobs_address is set, else in-process",
    )
    ray_jobs_address: str | None = Field(
        default=None, description="The Ray dashboard (Jobs API), e.g. http://127.0.0.1:8265"
    )
    ray_token_file: Path | None = Field(
        default=None,
        description="ray-jobs: the cluster's auth token (a Ray head with token auth, as the local stack's); "
        "default: $RAY_AUTH_TOKEN_PATH where set",
    )
    entrypoint: str | None = Field(
        default=None,
        description="ray-jobs: the command a job runs, before '<phase> --profile P --run-id R ...' (default: "
        "this interpreter's 'python -m samx_trainer'; the local stack's head runs on this machine)",
    )
    templates: Path = Field(
        default=Path("/etc/samx/launcher"), description="kuberay: folder of the reviewed <phase>.yaml RayJobs"
    )
    dry_run: bool = Field(default=False, description="kuberay: print each RayJob as JSON instead of creating it")
    consumer_group: str | None = Field(default=None, description="Kafka group (default: the trainer's)")
    max_events: int = Field(default=0, ge=0, description="Stop the consumer after N messages (tests); 0: never")
    track_every_s: float = Field(default=5.0, gt=0, description="How often the tracker asks for job states")
