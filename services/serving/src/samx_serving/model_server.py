"""The model deployment: dynamic batching of classify requests and hot swap of the model version.

``reconfigure`` receives the user_config ``{"version": ...}``. It loads the new version beside the old
one (in a thread, so the replica keeps answering) and then replaces the engine reference in one
assignment: requests already running finish on the old engine, later ones use the new one, and none
fails during the swap. Each answer carries the manifest it was computed with."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from ray import serve
from samx_core.model_registry import ModelRegistry
from samx_core.settings import S3Settings
from samx_core.storage import ObjectStore
from samx_ml.bundle import ModelManifest

from samx_serving.engine import Explanation, ModelEngine

log = logging.getLogger(__name__)


class ModelNotLoaded(RuntimeError):
    """No version configured yet (nothing promoted): the API answers 503."""


class ModelArgs(BaseModel):
    model_config = ConfigDict(frozen=True)

    s3: S3Settings
    max_batch_size: int = 32
    batch_wait_timeout_s: float = 0.01
    cam_target_layer: str | None = None
    torch_threads: int | None = None


@serve.deployment(ray_actor_options={"num_cpus": 1}, max_ongoing_requests=128)
class ModelServer:
    def __init__(self, args: ModelArgs) -> None:
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        self._args = args
        self._registry = ModelRegistry(ObjectStore(args.s3), args.s3.archive_bucket)
        self._engine: ModelEngine | None = None
        self._logits_batch.set_max_batch_size(args.max_batch_size)
        self._logits_batch.set_batch_wait_timeout_s(args.batch_wait_timeout_s)

    async def reconfigure(self, config: dict) -> None:
        version = config.get("version")
        if not version or (self._engine is not None and self._engine.version == version):
            return
        engine = await asyncio.to_thread(
            ModelEngine.from_registry,
            self._registry,
            version,
            target_layer=self._args.cam_target_layer,
            device="cuda" if torch.cuda.is_available() else "cpu",
        )
        self._engine = engine  # the swap: one reference assignment
        log.info("serving model version %s", version)

    def _current(self) -> ModelEngine:
        if self._engine is None:
            raise ModelNotLoaded("no model version is configured; promote one and publish model.published")
        return self._engine

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def _logits_batch(self, images: list[np.ndarray]) -> list[tuple[ModelManifest, np.ndarray]]:
        engine = self._current()
        logits = await asyncio.to_thread(engine.logits, images)
        return [(engine.manifest, row) for row in logits]

    async def classify(self, pixels: np.ndarray) -> tuple[ModelManifest, np.ndarray]:
        """One display image (2-D) -> (manifest of the version used, logits (C,))."""
        self._current()  # fail fast, outside the batch, when nothing is loaded
        return await self._logits_batch(pixels)

    async def explain(self, pixels: np.ndarray, class_name: str | None) -> Explanation:
        engine = self._current()
        return await asyncio.to_thread(engine.explain, pixels, class_name)

    def manifest(self) -> dict | None:
        return None if self._engine is None else self._engine.manifest.to_dict()
