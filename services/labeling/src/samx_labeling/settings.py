"""Settings of the labeling service (``SAMX_LABELING_*``), built by ``get_settings()``, never at import.

Tokens are the only credentials this service hands out: a JSON mapping ``token -> {user, role}``, inline
or in a file (a Kubernetes Secret mounted as a file). There is no default, and tokens that are short or
well-known placeholders are refused, so a demo token never reaches a hospital."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.settings import KafkaSettings, S3Settings

_PLACEHOLDERS = {"changethis", "changeme", "token", "secret", "password", "admin", "test"}
MIN_TOKEN_LENGTH = 16


class Role(IntEnum):
    """Ordered: each role may do what the ones below it may."""

    viewer = 1
    labeler = 2
    admin = 3


class TokenGrant(BaseModel):
    user: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: str = Field(pattern=r"^(viewer|labeler|admin)$")

    @property
    def level(self) -> Role:
        return Role[self.role]


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

    def token_grants(self) -> dict[str, TokenGrant]:
        """The token table, validated. Raises ``ValueError`` with a message fit for an operator."""
        if self.tokens is None:
            raise ValueError("SAMX_LABELING_TOKENS is not set: give a JSON mapping token -> {user, role} or a file")
        raw = self.tokens.get_secret_value().strip()
        if not raw.startswith("{"):
            path = Path(raw)
            if not path.is_file():
                raise ValueError("SAMX_LABELING_TOKENS is neither JSON nor the path of a readable file")
            raw = path.read_text(encoding="utf-8")
        try:
            table = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"SAMX_LABELING_TOKENS is not valid JSON (line {exc.lineno})") from None
        if not isinstance(table, dict) or not table:
            raise ValueError("SAMX_LABELING_TOKENS must map at least one token to {user, role}")
        grants: dict[str, TokenGrant] = {}
        for token, grant in table.items():
            if len(token) < MIN_TOKEN_LENGTH or token.lower() in _PLACEHOLDERS or len(set(token)) < 6:
                raise ValueError(f"a token in SAMX_LABELING_TOKENS is a placeholder or shorter than {MIN_TOKEN_LENGTH}")
            try:
                grants[token] = TokenGrant.model_validate(grant)
            except ValidationError:
                raise ValueError("each token must map to {user: <name>, role: viewer|labeler|admin}") from None
        return grants


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
