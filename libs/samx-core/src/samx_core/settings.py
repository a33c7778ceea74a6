"""Settings shared by every service, read from the environment (pydantic-settings).

Each service composes these into its own ``Settings`` with its own env prefix and builds them in a
``get_settings()`` function, never at import time, so tests and the local stack can hand in their own.
"""

from __future__ import annotations

from typing import Literal, TypedDict, cast

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER_SECRETS = {"changethis", "changeme", "minioadmin", "password", "secret", ""}

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "GSSAPI", "OAUTHBEARER", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaClientKwargs(TypedDict, total=False):
    """The keyword arguments of ``KafkaSettings.client_kwargs``, as kafka-python's clients type them."""

    bootstrap_servers: list[str]
    client_id: str
    security_protocol: KafkaSecurityProtocol
    request_timeout_ms: int
    sasl_mechanism: KafkaSaslMechanism
    sasl_plain_username: str | None
    sasl_plain_password: str | None


class KafkaSettings(BaseSettings):
    """Where the event bus is. ``SAMX_KAFKA_BOOTSTRAP_SERVERS=broker-1:9092,broker-2:9092`` points SAM-X
    at an existing cluster instead of the local stack."""

    model_config = SettingsConfigDict(env_prefix="SAMX_KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "samx"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    topic_namespace: str = Field(
        default="", pattern=r"^[A-Za-z0-9_-]*$", description="Prefix for every topic, for installs that share a cluster"
    )
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    request_timeout_s: float = Field(default=30.0, gt=0)
    # A consumer that does not poll for this long leaves its group and its partitions are re-assigned.
    # Long work does not belong in the poll loop (training goes through samx_trainer.launch), so the
    # bound covers one batch of handlers; 10 minutes leaves a slow object store room.
    max_poll_interval_s: float = Field(default=600.0, gt=0)
    session_timeout_s: float = Field(default=15.0, gt=0, description="Heartbeats missed this long: member gone")

    def topic(self, name: str) -> str:
        """The topic as named on the broker: ``<namespace>.<name>`` when a namespace is set."""
        return f"{self.topic_namespace}.{name}" if self.topic_namespace else name

    def client_kwargs(self) -> KafkaClientKwargs:
        """Keyword arguments common to kafka-python's producer, consumer and admin client. The protocol and
        mechanism are passed on as configured (plain strings); kafka-python itself refuses unknown ones."""
        kwargs: KafkaClientKwargs = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": self.client_id,
            "security_protocol": cast(KafkaSecurityProtocol, self.security_protocol),
            "request_timeout_ms": int(self.request_timeout_s * 1000),
        }
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = cast(KafkaSaslMechanism, self.sasl_mechanism)
            kwargs["sasl_plain_username"] = self.sasl_username
            kwargs["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        return kwargs


class S3Settings(BaseSettings):
    """Where objects live (MinIO or any S3). Keys have no defaults: a deployment must hand them in, and
    well-known placeholders are refused so that a default MinIO login never reaches a hospital."""

    model_config = SettingsConfigDict(env_prefix="SAMX_S3_", extra="ignore")

    endpoint: str = "127.0.0.1:9000"
    access_key: str
    secret_key: SecretStr
    secure: bool = False
    region: str | None = None
    incoming_bucket: str = "samx-incoming"
    archive_bucket: str = "samx-archive"

    @field_validator("secret_key")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value().lower() in _PLACEHOLDER_SECRETS or len(value.get_secret_value()) < 8:
            raise ValueError("SAMX_S3_SECRET_KEY is a placeholder or too short; set a real secret")
        return value


class TelemetrySettings(BaseSettings):
    """OpenTelemetry export. Without an endpoint, spans are still created (and propagated over Kafka)
    but not exported."""

    model_config = SettingsConfigDict(env_prefix="SAMX_OTEL_", extra="ignore")

    exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"
