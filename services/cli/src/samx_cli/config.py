"""Where the CLI finds the stack and how it builds settings.

The stack's ``stack.env`` supplies ``SAMX_*`` defaults; variables already in the environment win, so
``SAMX_KAFKA_BOOTSTRAP_SERVERS=... samx send`` talks to another cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.settings import KafkaSettings, S3Settings


class CliSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_", extra="ignore")

    home: Path = Field(default=Path(".samx"), description="Build products and local stack state")
    build: Path | None = Field(default=None, description="Build products (default <home>/build); shareable")
    site_id: str = "local"

    @property
    def build_dir(self) -> Path:
        return (self.build or self.home / "build").resolve()

    @property
    def state_dir(self) -> Path:
        return self.home.resolve() / "stack"


def get_cli_settings() -> CliSettings:
    return CliSettings()


def stack_environment(settings: CliSettings) -> dict[str, str]:
    """The stack's variables overlaid with the process environment."""
    env: dict[str, str] = {}
    env_file = settings.state_dir / "stack.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                env[key] = value
    return env | {k: v for k, v in os.environ.items() if k.startswith("SAMX_")}


def kafka_settings(env: dict[str, str]) -> KafkaSettings:
    return KafkaSettings(**_fields(env, "SAMX_KAFKA_"))


def s3_settings(env: dict[str, str]) -> S3Settings:
    fields = _fields(env, "SAMX_S3_")
    if "access_key" not in fields:
        raise SystemExit(
            "no object store configured: run 'samx stack up' or set SAMX_S3_ENDPOINT, "
            "SAMX_S3_ACCESS_KEY and SAMX_S3_SECRET_KEY"
        )
    return S3Settings(**fields)


def _fields(env: dict[str, str], prefix: str) -> dict[str, Any]:
    """Keyword arguments of a settings class: the variables' strings, which pydantic converts."""
    return {k[len(prefix) :].lower(): v for k, v in env.items() if k.startswith(prefix)}
