"""Ingest service settings (env prefix ``SAMX_INGEST_``), built by ``get_settings()``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.settings import KafkaSettings, S3Settings, TelemetrySettings


class IdentifiablePolicy(StrEnum):
    REJECT = "reject"  # the default: SAM-X takes pseudonymized data only
    ALLOW = "allow"  # for a hospital that de-identifies downstream, inside its own network


class IngestPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_INGEST_", extra="ignore")

    # Projection radiography only: CR and DX (DR). Fluoroscopy (RF/XA), CT, MR and the rest are turned away.
    allowed_modalities: frozenset[str] = frozenset({"CR", "DX"})
    identifiable: IdentifiablePolicy = IdentifiablePolicy.REJECT
    max_object_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    thumbnail_side_px: int = Field(default=256, ge=32, le=1024)


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_INGEST_", extra="ignore")

    consumer_group: str = "samx-ingest"
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8081, ge=0, le=65535, description="0 picks a free port")
    max_batch: int = Field(default=32, ge=1)
    cstore_host: str = "127.0.0.1"
    cstore_port: int = Field(default=11112, ge=0, le=65535)
    cstore_ae_title: str = "SAMX"
    cstore_site_id: str = "pacs"

    policy: IngestPolicy = Field(default_factory=IngestPolicy)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)


def get_settings() -> IngestSettings:
    return IngestSettings()
