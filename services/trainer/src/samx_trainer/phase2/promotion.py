"""Promotion: point the registry's ``current`` at a version and tell serving (``model.published``).

Explicit (``samx-trainer promote VERSION``) or by the policy in settings right after training
(``SAMX_TRAINER_AUTO_PROMOTE``, optionally only when the cross-validated top-1 reaches
``SAMX_TRAINER_MIN_CV_TOP1``)."""

from __future__ import annotations

import hashlib

from samx_core.bus import EventPublisher, ensure_topics
from samx_core.events import ModelPublished
from samx_core.events.base import ObjectRef
from samx_core.model_registry import ModelRegistry
from samx_core.settings import KafkaSettings
from samx_core.storage import ObjectStore

from samx_trainer.settings import TrainerSettings


def should_auto_promote(settings: TrainerSettings, metrics: dict[str, float]) -> tuple[bool, str]:
    if not settings.auto_promote:
        return False, "auto-promotion is off"
    if settings.min_cv_top1 is not None and metrics.get("cv_top1", 0.0) < settings.min_cv_top1:
        return False, f"cv top-1 {metrics.get('cv_top1', 0.0):.4f} is below {settings.min_cv_top1:.4f}"
    return True, "policy"


def _ref(bucket: str, key: str, data: bytes, content_type: str) -> ObjectRef:
    return ObjectRef(
        bucket=bucket, key=key, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), content_type=content_type
    )


def promote(store: ObjectStore, registry: ModelRegistry, kafka: KafkaSettings, version: str) -> ModelPublished:
    """Promote ``version`` (raises ``ModelNotFoundError`` when absent) and publish ``model.published``."""
    manifest = registry.manifest(version)
    weights = registry.weights(version)
    registry.promote(version)
    manifest_bytes = store.get_bytes(registry.bucket, registry.manifest_key(version))
    event = ModelPublished(
        model_version=version,
        manifest=_ref(registry.bucket, registry.manifest_key(version), manifest_bytes, "application/json"),
        weights=_ref(registry.bucket, registry.weights_key(version), weights, "application/octet-stream"),
        classes=list(manifest["classes"]),
        run_id=str(manifest["run_id"]),
        labelset_version=int(manifest["labelset_version"]),
        metrics={k: float(v) for k, v in (manifest.get("metrics") or {}).items()},
    )
    ensure_topics(kafka, [ModelPublished.TOPIC])
    with EventPublisher(kafka) as publisher:
        publisher.publish_and_wait(event, key=version)
    return event
