"""What the routes of the serving deployment are built with: the ``SAMX_SERVING_*`` settings it needs (app.py copies
them in), as a frozen model that travels in the Serve config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from samx_core.auth import TokenTable
from samx_core.settings import S3Settings


class IngressArgs(BaseModel):
    model_config = ConfigDict(frozen=True)

    s3: S3Settings
    top_k: int = 3
    max_body_bytes: int = 64 * 1024 * 1024
    max_batch_images: int = 32
    allowed_modalities: frozenset[str] = frozenset({"CR", "DX"})
    min_side_px: int = 32
    ood_min_max_probability: float | None = None
    ood_min_logsumexp: float | None = None
    cam_long_side_px: int = 768
    # Bounds on each dependency call (SAMX_SERVING_*_TIMEOUT_S): past them, a 503 with a reason.
    object_store_timeout_s: float = 10.0
    model_timeout_s: float = 30.0
    readiness_timeout_s: float = 2.0
    # Bearer tokens, as digests (the raw tokens never reach the Serve config, its logs or Ray objects).
    auth_required: bool = True
    tokens: TokenTable = Field(default_factory=lambda: TokenTable({}))
