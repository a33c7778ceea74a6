"""Settings of the labeling service (``SAMX_LABELING_*``), built by ``get_settings()``, never at import.

Tokens are the only credentials this service hands out: a JSON mapping ``token -> {user, role}``, inline
or in a file (a Kubernetes Secret mounted as a file). There is no default, and tokens that are short or
well-known placeholders are refused, so a demo token never reaches a hospital."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.auth import MIN_TOKEN_LENGTH, Role, TokenGrant, parse_token_grants
from samx_core.settings import KafkaSettings, S3Settings

# The token model lives in samx_core.auth (serving uses the same); these names stay importable from here.
__all__ = [
    "MIN_TOKEN_LENGTH",
    "LabelingSettings",
    "Role",
    "ServiceSettings",
    "TokenGrant",
    "get_labeling_settings",
    "get_settings",
]


class LabelingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_LABELING_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///.samx/labeling.db",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host:port/db",
    )
    tokens: SecretStr | None = Field(
        default=None,
        description='JSON {"<token>": {"user": ..., "role": viewer|labeler|admin}} or a path to such a file',
    )
    max_request_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, description="Larger bodies get 413")
    consumer_group: str = "samx-labeling"
    consumer_enabled: bool = Field(default=True, description="Run the clustering.completed consumer in serve")
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=0, le=65535)
    url_expiry_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600, description="Lifetime of presigned image URLs")
    web_dir: Path | None = Field(default=None, description="UI folder; defaults to the packaged web/")
    # A suggestion that fewer of a cluster's known radiographs agree with names a mixed cluster: accepting
    # it takes an explicit confirmation (API and page), and the unattended demo leaves it alone.
    suggestion_min_share: float = Field(default=0.6, ge=0.0, le=1.0)
    announce_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="Wait for Kafka's ack of labels.published"
    )
    announce_retry_s: float = Field(default=10.0, gt=0, description="How often pending label sets are announced again")
    # The classifier the page shows a prediction and its Grad-CAM from (serving's POST /v1/explain). Both
    # unset: the page says "no classifier connected".
    serving_url: str | None = Field(default=None, description="Serving's base URL, e.g. http://127.0.0.1:8000")
    serving_token: SecretStr | None = Field(default=None, description="A bearer token of SAMX_SERVING_TOKENS")
    serving_token_file: Path | None = Field(default=None, description="A file holding it (a mounted Secret)")
    serving_timeout_s: float = Field(default=30.0, gt=0, le=300, description="One explain call to serving")

    @field_validator("serving_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("SAMX_LABELING_SERVING_URL must be an http(s) URL")
        return value or None

    def serving_client_token(self) -> str | None:
        """The token labeling sends to serving (inline wins over the file); None: none configured."""
        if self.serving_token is not None:
            return self.serving_token.get_secret_value().strip() or None
        if self.serving_token_file is not None:
            return self.serving_token_file.read_text(encoding="utf-8").strip() or None
        return None

    def token_grants(self) -> dict[str, TokenGrant]:
        """The token table, validated. Raises ``ValueError`` with a message fit for an operator."""
        raw = self.tokens.get_secret_value() if self.tokens is not None else None
        return parse_token_grants(raw, setting_name="SAMX_LABELING_TOKENS")


@dataclass(frozen=True)
class ServiceSettings:
    """Everything ``samx-labeling serve`` needs: its own settings plus the shared bus and store."""

    labeling: LabelingSettings
    kafka: KafkaSettings
    s3: S3Settings


def get_labeling_settings() -> LabelingSettings:
    return LabelingSettings()


def get_settings() -> ServiceSettings:
    return ServiceSettings(labeling=LabelingSettings(), kafka=KafkaSettings(), s3=S3Settings())
