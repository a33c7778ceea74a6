"""Serving settings (env prefix ``SAMX_SERVING_``), built by ``get_settings()``, never at import time.

The HTTP API reads archived radiographs and lists the sorted archive, so it asks every /v1 caller for a
bearer token of ``SAMX_SERVING_TOKENS`` (the format of samx_core.auth, as labeling's); there is no
default. ``SAMX_SERVING_AUTH=off`` is the explicit way to run without, on a closed lab network."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.auth import TokenTable, parse_token_grants
from samx_core.settings import KafkaSettings, S3Settings

from samx_serving.flags import OODPolicy


class ServingSettings(BaseSettings):
    """What ``samx-serving deploy`` / ``sort`` / ``export`` read from the environment."""

    model_config = SettingsConfigDict(env_prefix="SAMX_SERVING_", extra="ignore")

    ray_address: str | None = Field(default=None, description="Ray cluster; none: SAMX_RAY_ADDRESS, else a local Ray")
    app_name: str = "samx-serving"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    model_version: str | None = Field(default=None, description="Pin a registry version; none: the promoted one")
    # Replicas: a fixed count, or autoscaling between min and max on ongoing requests per replica.
    model_replicas: int = Field(default=1, ge=1)
    autoscale_max_replicas: int | None = Field(default=None, ge=1)
    target_ongoing_requests: float = Field(default=16.0, gt=0)
    # How long load must stay above / below the target before replicas are added / removed (Serve's
    # defaults: adding fast enough for a morning's PACS burst, removing slowly enough not to flap).
    autoscale_upscale_delay_s: float = Field(default=30.0, ge=0)
    autoscale_downscale_delay_s: float = Field(default=600.0, ge=0)
    model_num_cpus: float = Field(default=1.0, ge=0)
    model_num_gpus: float = Field(default=0.0, ge=0)
    torch_threads: int | None = Field(default=None, ge=1, description="torch intra-op threads per model replica")
    max_batch_size: int = Field(default=32, ge=1)
    batch_wait_timeout_s: float = Field(default=0.01, ge=0)
    top_k: int = Field(default=3, ge=1)
    max_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    max_batch_images: int = Field(default=32, ge=1)
    cam_target_layer: str | None = Field(
        default=None, description="Grad-CAM layer; none: the deepest with a map of at least 6 x 6 at the input size"
    )
    cam_long_side_px: int = Field(default=768, ge=512, description="Long side of the explain overlay (<= the image's)")
    allowed_modalities: frozenset[str] = frozenset({"CR", "DX"})
    min_side_px: int = Field(default=32, ge=1, description="Smaller images get a 422 (too_small)")
    # Out-of-distribution: flag not_msk when the max softmax probability or the negative energy
    # (logsumexp of the logits; Liu et al., NeurIPS 2020) falls below these. None: off, unless the
    # manifest's metrics carry "ood_min_max_probability" / "ood_min_logsumexp" from calibration.
    ood_min_max_probability: float | None = Field(default=None, ge=0, le=1)
    ood_min_logsumexp: float | None = None
    # The feature-space OOD score phase 2 calibrated (samx_ml.ood, stored beside the weights), computed in
    # the model replica: on by default; "off" leaves not_msk to the discard class and the two rules above.
    ood_detection: Literal["on", "off"] = "on"
    ood_in_flag_rate: float | None = Field(
        default=None, gt=0, lt=1, description="Flag this share of phase 2's held-out MSK radiographs; none: its own"
    )
    ood_threshold: float | None = Field(default=None, description="An explicit OOD score threshold (beats the rate)")
    # Bounds on the HTTP API's dependency calls: past them the answer is a JSON 503 with a reason, never
    # a hang (the object store's client otherwise retries for tens of seconds).
    object_store_timeout_s: float = Field(default=10.0, gt=0, description="Reads of the archive and the index")
    model_timeout_s: float = Field(default=30.0, gt=0, description="One classify / explain / manifest call")
    readiness_timeout_s: float = Field(default=2.0, gt=0, description="Each dependency check of /readyz")
    sort_consumer_group: str = "samx-serving-sort"
    reclassify_consumer_group: str = "samx-serving-reclassify"
    watcher_consumer_group: str = "samx-serving-watcher"
    serving_url: str | None = Field(default=None, description="Where 'sort' reaches the HTTP API")
    sort_concurrency: int = Field(
        default=8, ge=1, description="Radiographs the sort classifies at once (streaming and reclassification)"
    )
    swap_timeout_s: float = Field(default=300.0, gt=0)
    tokens: SecretStr | None = Field(
        default=None,
        description='JSON {"<token>": {"user": ..., "role": viewer|labeler|admin}} or a path to such a file',
    )
    auth: Literal["required", "off"] = Field(
        default="required", description="off: the API answers anyone who reaches it (a closed lab network only)"
    )
    # What 'sort' (and any other client built from these settings) sends: one of the tokens above.
    client_token: SecretStr | None = Field(default=None, description="Bearer token the sort sends to the API")
    client_token_file: Path | None = Field(default=None, description="A file holding it (a mounted Secret)")

    def ood_policy(self) -> OODPolicy:
        return OODPolicy(
            enabled=self.ood_detection == "on", in_flag_rate=self.ood_in_flag_rate, threshold=self.ood_threshold
        )

    def url(self) -> str:
        return self.serving_url or f"http://{self.http_host}:{self.http_port}"

    def token_table(self) -> TokenTable | None:
        """The API's tokens as digests; None when auth is off. Raises ``ValueError`` with a message fit
        for an operator when auth is required and the tokens are missing or refused."""
        if self.auth == "off":
            return None
        raw = self.tokens.get_secret_value() if self.tokens is not None else None
        return TokenTable.from_tokens(parse_token_grants(raw, setting_name="SAMX_SERVING_TOKENS"))

    def client_bearer_token(self) -> str | None:
        if self.client_token is not None:
            return self.client_token.get_secret_value().strip() or None
        if self.client_token_file is not None:
            return self.client_token_file.read_text(encoding="utf-8").strip() or None
        return None


class RayAddress(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_RAY_", extra="ignore")

    address: str | None = None


def get_settings() -> ServingSettings:
    settings = ServingSettings()
    if settings.ray_address is None:
        settings = settings.model_copy(update={"ray_address": RayAddress().address})
    return settings


def get_kafka_settings() -> KafkaSettings:
    return KafkaSettings()


def get_s3_settings() -> S3Settings:
    return S3Settings()
