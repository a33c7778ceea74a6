"""The served model inside a replica: dynamic batching of classify calls and hot swap of the version.

It lives in the same process as the HTTP routes (ingress.py): the requests of one replica meet in its
``@serve.batch`` queue without a second deployment, so no request pays a handle call (serialising the
pixels, a hop through Ray's core) on its way to the network.

``reconfigure`` receives the user_config ``{"version": ...}``. It loads the new version beside the old
one (in a thread, so the replica keeps answering) and then replaces the engine reference in one
assignment: requests already running finish on the old engine, later ones use the new one, and none
fails during the swap. Each answer carries the manifest it was computed with.

The replica also scores each image out of distribution (``samx_ml.ood``: the statistics phase 2 fitted
on the training radiographs' penultimate features, with a threshold calibrated on held-out ones, stored
as ``models/<version>/ood.npz``): one forward pass gives the features, the logits and the score, and the
answer (``flags.ModelOutput``) carries the score and the threshold, so the routes set ``not_msk``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from ray import serve
from samx_core.model_registry import ModelRegistry
from samx_core.settings import S3Settings
from samx_core.storage import ObjectStore
from samx_ml.bundle import ModelManifest
from samx_ml.ood import OODDetector

from samx_serving.engine import Explanation, ModelEngine
from samx_serving.flags import ModelOutput, OODPolicy

log = logging.getLogger(__name__)

# Two batches in flight per replica: the next one forms and computes while the event loop answers the
# last one's requests. With one, the forward thread idled through that hand-over: on 2 cores, classify at
# 32 clients went from 0.54-0.65 of the bare forward rate to 0.75-1.03 (bench/results, "Serving: two
# batches in flight"). Serve reads it when the class is defined, so it is a constant, not a setting.
CONCURRENT_BATCHES = 2


class ModelNotLoaded(RuntimeError):
    """No version configured yet (nothing promoted): the API answers 503."""


class ModelArgs(BaseModel):
    model_config = ConfigDict(frozen=True)

    s3: S3Settings
    max_batch_size: int = 32
    batch_wait_timeout_s: float = 0.01
    cam_target_layer: str | None = None
    torch_threads: int | None = None
    ood: OODPolicy = OODPolicy()


@dataclass(frozen=True)
class LoadedModel:
    """One version as the replica serves it; swapped whole."""

    engine: ModelEngine
    ood: OODDetector | None  # None: the version has no OOD calibration, or the policy turned it off

    @property
    def version(self) -> str:
        return self.engine.version


def load_ood(registry: ModelRegistry, manifest: ModelManifest, policy: OODPolicy) -> OODDetector | None:
    """The version's OOD detector with the policy's threshold; None when off or never calibrated (models
    from before phase 2 calibrated one). A manifest that names a threshold without the statistics is a
    broken version: refused, rather than served without the flag it promises."""
    if not policy.enabled:
        return None
    data = registry.ood(manifest.version)
    if data is None:
        if "ood_threshold" in manifest.metrics:
            raise ValueError(f"model {manifest.version} names an OOD threshold but has no ood.npz")
        log.warning("model %s has no OOD calibration: not_msk comes only from a discard class", manifest.version)
        return None
    detector = OODDetector.from_bytes(data)
    if policy.threshold is not None:
        return replace(detector, threshold=policy.threshold)
    return detector.at_rate(policy.in_flag_rate) if policy.in_flag_rate is not None else detector


def classify_batch(loaded: LoadedModel, pixels: list[np.ndarray]) -> list[ModelOutput]:
    """N display images (2-D uint8/uint16, any size) -> their logits and OOD scores, in one forward pass."""
    engine, detector = loaded.engine, loaded.ood
    if detector is None:
        return [ModelOutput(row) for row in engine.logits(pixels)]
    features, rows = engine.features_and_logits(pixels)
    scores = detector.score(features)
    return [ModelOutput(row, float(s), detector.threshold) for row, s in zip(rows, scores, strict=True)]


class BatchedModel:
    """One replica's model: ``classify`` (batched), ``explain``, ``manifest``, ``reconfigure``."""

    def __init__(self, args: ModelArgs) -> None:
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        self._args = args
        self._registry = ModelRegistry(ObjectStore(args.s3), args.s3.archive_bucket)
        self._loaded: LoadedModel | None = None
        self._logits_batch.set_max_batch_size(args.max_batch_size)
        self._logits_batch.set_batch_wait_timeout_s(args.batch_wait_timeout_s)

    async def reconfigure(self, config: dict) -> None:
        version = config.get("version")
        if not version or (self._loaded is not None and self._loaded.version == version):
            return
        loaded = await asyncio.to_thread(self._load, version)
        self._loaded = loaded  # the swap: one reference assignment
        log.info("serving model version %s (OOD score: %s)", version, loaded.ood.method if loaded.ood else "none")

    def _load(self, version: str) -> LoadedModel:
        engine = ModelEngine.from_registry(
            self._registry,
            version,
            target_layer=self._args.cam_target_layer,
            device="cuda" if torch.cuda.is_available() else "cpu",
        )
        return LoadedModel(engine, load_ood(self._registry, engine.manifest, self._args.ood))

    def _current(self) -> LoadedModel:
        if self._loaded is None:
            raise ModelNotLoaded("no model version is configured; promote one and publish model.published")
        return self._loaded

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01, max_concurrent_batches=CONCURRENT_BATCHES)
    async def _logits_batch(self, images: list[np.ndarray]) -> list[tuple[ModelManifest, ModelOutput]]:
        loaded = self._current()
        outputs = await asyncio.to_thread(classify_batch, loaded, images)
        return [(loaded.engine.manifest, out) for out in outputs]

    async def classify(self, pixels: np.ndarray) -> tuple[ModelManifest, ModelOutput]:
        """One display image (2-D) -> (manifest of the version used, its logits (C,) and OOD score)."""
        self._current()  # fail fast, outside the batch, when nothing is loaded
        return await self._logits_batch(pixels)

    async def explain(self, pixels: np.ndarray, class_name: str | None) -> Explanation:
        engine = self._current().engine
        return await asyncio.to_thread(engine.explain, pixels, class_name)

    def manifest(self) -> dict | None:
        return None if self._loaded is None else self._loaded.engine.manifest.to_dict()
