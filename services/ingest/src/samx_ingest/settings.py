"""Ingest service settings (env prefix ``SAMX_INGEST_``), built by ``get_settings()``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.settings import KafkaSettings, S3Settings, TelemetrySettings


class IdentifiablePolicy(StrEnum):
    """What ingest does with a DICOM header's identifying attributes."""

    DEIDENTIFY = "deidentify"  # the default: the PS3.15 Basic Profile with keyed pseudonyms (deidentify.py)
    REJECT = "reject"  # only headers marked PatientIdentityRemoved=YES, and without a patient name
    ALLOW = "allow"  # stored as sent: for a hospital that de-identifies downstream, inside its own network


class BurnedInPolicy(StrEnum):
    """BurnedInAnnotation=YES: text (often the patient's name) in the pixels, which no header edit removes."""

    REJECT = "reject"
    FLAG = "flag"  # ingested with tags.burned_in_annotation true and PatientIdentityRemoved NO


class DeidentificationSecretMissing(ValueError):
    pass


class IngestPolicy(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_INGEST_", extra="ignore")

    # Projection radiography only: CR and DX (DR). Fluoroscopy (RF/XA), CT, MR and the rest are turned away.
    allowed_modalities: frozenset[str] = frozenset({"CR", "DX"})
    identifiable: IdentifiablePolicy = IdentifiablePolicy.DEIDENTIFY
    burned_in_annotation: BurnedInPolicy = BurnedInPolicy.REJECT
    # The key of the pseudonyms: the same secret keeps one patient's pseudonym across workers and years;
    # a new one starts new pseudonyms. No default, on purpose: a shared default would be no secret.
    deid_secret: SecretStr | None = None
    deid_secret_file: Path | None = Field(default=None, description="a file holding the secret (a mounted Secret)")
    # Rejected originals (identifying ones among them) are kept this long for an operator, then expire.
    quarantine_retention_days: int = Field(default=30, ge=1, le=3650)
    # A claim-check object whose outcome never came (a crashed sender) expires after this many days.
    incoming_retention_days: int = Field(default=7, ge=1, le=3650)
    max_object_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    thumbnail_side_px: int = Field(default=256, ge=32, le=1024)
    min_side_px: int = Field(default=32, ge=1, description="Smaller images are refused (too_small)")

    def deidentification_secret(self) -> bytes:
        """The secret's bytes; raises with what to set when de-identifying without one."""
        if self.deid_secret is not None:
            secret = self.deid_secret.get_secret_value().encode()
        elif self.deid_secret_file is not None:
            secret = self.deid_secret_file.read_bytes().strip()
        else:
            raise DeidentificationSecretMissing(
                "SAMX_INGEST_IDENTIFIABLE=deidentify needs a secret for its pseudonyms: set SAMX_INGEST_DEID_SECRET "
                "or SAMX_INGEST_DEID_SECRET_FILE (e.g. `openssl rand -hex 32`), and keep it: a new one starts "
                "new pseudonyms"
            )
        if len(secret) < 16:
            raise DeidentificationSecretMissing("the de-identification secret must have at least 16 bytes")
        return secret


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_INGEST_", extra="ignore")

    consumer_group: str = "samx-ingest"
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=8081, ge=0, le=65535, description="0 picks a free port")
    max_batch: int = Field(default=32, ge=1)
    # Bounds on dependency calls: each /readyz check, and one object store read or write (a socket
    # timeout; the Kafka clients' is SAMX_KAFKA_REQUEST_TIMEOUT_S).
    readiness_timeout_s: float = Field(default=1.0, gt=0)
    object_store_timeout_s: float = Field(default=30.0, gt=0)
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
