"""Trainer settings (``SAMX_TRAINER_*``), composed with the shared Kafka and S3 settings and built by
``get_settings()`` (never at import time), so tests and the CLI hand in their own."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.settings import KafkaSettings, S3Settings


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_TRAINER_", extra="ignore")

    num_workers: int = Field(default=1, ge=1, description="Ray Train workers (DDP ranks) of the pretext step")
    cpus_per_worker: float = Field(default=1.0, gt=0, description="CPUs each Ray Train worker reserves")
    checkpoint_every: int = Field(default=5, ge=1, description="Pretext epochs between checkpoints")
    max_failures: int = Field(default=2, ge=-1, description="Worker-group restarts before the run fails (-1: no end)")
    runs_prefix: str = Field(default="runs/phase1", description="Key prefix of the runs in the archive bucket")
    self_label: bool = Field(default=False, description="SCAN self-labeling step; off: it lowered merged NMI (H200)")
    n_clusters: int | None = Field(default=None, ge=2, description="K; default: samx_ml.k_rule.choose_k")
    pretext_epochs: int | None = Field(default=None, ge=1, description="Overrides the profile's pretext epochs")
    exemplars: int = Field(default=16, ge=1, description="Most confident members listed (and in the montage)")
    least_confident: int = Field(default=8, ge=0, description="Least confident members listed per cluster")
    load_threads: int = Field(default=8, ge=1, description="Parallel derivative downloads")
    device: str | None = Field(default=None, description="Torch device of the clustering steps (default: auto)")
    seed: int = 0


class RaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_RAY_", extra="ignore")

    address: str | None = Field(default=None, description="Ray cluster; none: a local Ray in this process")


@dataclass(frozen=True)
class Settings:
    trainer: TrainerSettings
    s3: S3Settings
    kafka: KafkaSettings
    ray: RaySettings


def get_settings() -> Settings:
    return Settings(TrainerSettings(), S3Settings(), KafkaSettings(), RaySettings())
