"""Trainer settings (``SAMX_TRAINER_*``), composed with the shared Kafka and S3 settings and built by
``get_settings()`` (never at import time), so tests and the CLI hand in their own."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.settings import KafkaSettings, S3Settings

from samx_trainer.launch.settings import LauncherSettings


def _node_spool() -> Path:
    return Path(tempfile.gettempdir()) / "samx-cache"


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_TRAINER_", extra="ignore")

    num_workers: int = Field(default=1, ge=1, description="Ray Train workers (DDP ranks) of the pretext step")
    cpus_per_worker: int | None = Field(
        default=None, ge=1, description="CPUs (and torch threads) of each Ray Train worker; default: the free CPUs"
    )
    precision: Literal["auto", "bf16", "fp32"] = Field(
        default="auto", description="Training precision; auto: bf16 + channels_last where measured faster"
    )
    checkpoint_every: int = Field(default=5, ge=1, description="Pretext epochs between checkpoints")
    init: str = Field(
        default="default",
        description="Phase 1's starting weights: a shipped backbone (samx_ml.pretrained), 'default' (the newest "
        "shipped one) or 'scratch'",
    )
    init_mode: Literal["adapt", "frozen"] = Field(
        default="adapt",
        description="adapt: SimCLR goes on from the init on the archive; frozen: its features as they are "
        "(no pretext; SCAN heads only, minutes on a CPU)",
    )
    max_failures: int = Field(default=2, ge=-1, description="Worker-group restarts before the run fails (-1: no end)")
    runs_prefix: str = Field(default="runs/phase1", description="Key prefix of the runs in the archive bucket")
    self_label: bool = Field(default=False, description="SCAN self-labeling step; off: it lowered merged NMI (H200)")
    n_clusters: int | None = Field(default=None, ge=2, description="K; default: samx_ml.k_rule.choose_k")
    pretext_epochs: int | None = Field(default=None, ge=1, description="Overrides the profile's pretext epochs")
    exemplars: int = Field(default=16, ge=1, description="Most confident members listed (and in the montage)")
    least_confident: int = Field(default=8, ge=0, description="Least confident members listed per cluster")
    load_threads: int = Field(default=8, ge=1, description="Parallel derivative downloads")
    trim_frame: bool = Field(
        default=True, description="Cut uniform frames (letterbox, collimation masks) off before resizing"
    )
    spool_dir: Path = Field(
        default_factory=_node_spool, description="Local disk for a run's image cache (the archive at working size)"
    )
    device: str | None = Field(default=None, description="Torch device of the clustering steps (default: auto)")
    seed: int = 0
    # -- phase 2 (classifier) ----------------------------------------------------------------------
    phase2_prefix: str = Field(default="runs/phase2", description="Key prefix of phase-2 runs (per model version)")
    discard_as_class: bool = Field(default=False, description="Discarded clusters train a 'not_msk' class")
    not_msk_class: str = Field(default="not_msk", description="Name of that class")
    cv_folds: int | None = Field(default=None, ge=2, description="Cross-validation folds (default: 3 ci, 5 otherwise)")
    holdout_fraction: float = Field(default=0.2, gt=0, lt=0.5, description="Patients kept out for the final test")
    classifier_epochs: int | None = Field(default=None, ge=1, description="Overrides the profile's classifier epochs")
    classifier_batch_size: int | None = Field(
        default=None, ge=2, description="Overrides the profile's classifier batch size (all workers together)"
    )
    classifier_image_size: int | None = Field(
        default=None, ge=16, description="Overrides the profile's classifier input size (pixels)"
    )
    uncertain_target_accuracy: float = Field(
        default=0.95, gt=0, le=1, description="Calibration: accuracy the confident predictions must keep"
    )
    uncertain_min_coverage: float = Field(
        default=0.5, gt=0, le=1, description="Calibration: share of images the threshold must leave confident"
    )
    # serving's not_msk: samx_ml.ood's methods (the default measured best in bench/ood.py)
    ood_method: Literal["mahalanobis_layers", "mahalanobis", "knn"] = Field(
        default="mahalanobis_layers", description="Out-of-distribution score fitted in phase 2"
    )
    ood_in_flag_rate: float = Field(
        default=0.025, gt=0, lt=0.5, description="Share of hold-out MSK radiographs the OOD threshold flags"
    )
    auto_promote: bool = Field(default=False, description="Promote a new model right after training")
    min_cv_top1: float | None = Field(default=None, ge=0, le=1, description="Auto-promotion only above this")
    consumer_group: str = Field(default="samx-trainer-phase2", description="Kafka group of 'samx-trainer consume'")


class RaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_RAY_", extra="ignore")

    address: str | None = Field(default=None, description="Ray cluster; none: a local Ray in this process")


@dataclass(frozen=True)
class Settings:
    trainer: TrainerSettings
    s3: S3Settings
    kafka: KafkaSettings
    ray: RaySettings
    launcher: LauncherSettings = field(default_factory=LauncherSettings)


def get_settings() -> Settings:
    return Settings(TrainerSettings(), S3Settings(), KafkaSettings(), RaySettings(), LauncherSettings())
