"""not_msk from the OOD calibration a version carries: the model replica's scoring (``classify_batch``,
``load_ood``) over a version stored in the real registry (MinIO), then the flags the ingress sets.

The model is the shipped backbone with a random head, calibrated as phase 2 calibrates (Mahalanobis on
the training radiographs' features, the threshold on held-out ones): a blank page and noise are flagged,
the sample's held-out radiographs are kept. No Ray: the replica's functions are called directly."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from samx_core.imaging import decode_radiograph
from samx_core.model_registry import ModelRegistry
from samx_core.storage import ObjectStore
from samx_ml.bundle import ModelManifest
from samx_serving.batched_model import LoadedModel, classify_batch, load_ood
from samx_serving.engine import ModelEngine
from samx_serving.flags import OODPolicy, score

from tests.support.serving_models import SAMPLE_CLASSES, publish_calibrated_model, publish_random_model

pytestmark = pytest.mark.integration
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def _sample(n: int) -> list[tuple[np.ndarray, int]]:
    """The first n labeled sample radiographs of the serving classes: (display pixels, class index)."""
    out = []
    with (SAMPLE / "labels.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            label = row["labels"].split(";")[0].replace("_", " ")
            if label in SAMPLE_CLASSES:
                out.append(
                    (decode_radiograph((SAMPLE / row["image"]).read_bytes()).pixels, SAMPLE_CLASSES.index(label))
                )
            if len(out) == n:
                break
    return out


def _registry(s3_settings) -> ModelRegistry:
    store = ObjectStore(s3_settings)
    store.ensure_buckets(s3_settings.archive_bucket)
    return ModelRegistry(store, s3_settings.archive_bucket)


def _degenerate() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        np.full((256, 256), 128, np.uint8),  # blank (the HTTP API refuses one value earlier; the model flags it too)
        np.clip(128 + rng.normal(0, 2, (300, 240)), 0, 255).astype(np.uint8),  # a nearly blank page
        rng.integers(0, 256, (256, 256)).astype(np.uint8),  # uniform noise
        np.clip(rng.normal(128, 60, (512, 384)), 0, 255).astype(np.uint8),  # Gaussian noise
    ]


def test_a_calibrated_version_flags_blank_and_noise_not_msk_and_keeps_radiographs(s3_settings):
    registry = _registry(s3_settings)
    radiographs = _sample(200)
    train, held_out, kept = radiographs[:120], radiographs[120:170], radiographs[170:]
    manifest = publish_calibrated_model(registry, "ood-v1", train, [p for p, _ in held_out], seed=3)
    assert registry.ood("ood-v1") is not None and np.isfinite(manifest.metrics["ood_threshold"])

    engine = ModelEngine.from_registry(registry, "ood-v1")
    loaded = LoadedModel(engine, load_ood(registry, engine.manifest, OODPolicy()))
    assert loaded.ood is not None and loaded.ood.threshold == manifest.metrics["ood_threshold"]
    outputs = classify_batch(loaded, _degenerate() + [p for p, _ in kept])
    scored = [score(out, engine.manifest, top_k=3) for out in outputs]
    degenerate, real = scored[:4], scored[4:]
    assert all(s.flags.not_msk for s in degenerate), [s.ood_score for s in degenerate]
    kept_share = np.mean([not s.flags.not_msk for s in real])
    assert kept_share >= 0.9, [round(s.ood_score or 0, 1) for s in real]
    assert all(s.ood_score is not None and np.isfinite(s.ood_score) for s in scored)  # it travels to the answer
    assert min(s.ood_score or 0 for s in degenerate) > max(s.ood_score or 0 for s in real)

    # the settings: off, an explicit threshold, another rate of the stored calibration
    off = LoadedModel(engine, load_ood(registry, engine.manifest, OODPolicy(enabled=False)))
    assert not any(score(o, engine.manifest, top_k=1).flags.not_msk for o in classify_batch(off, _degenerate()))
    lenient = load_ood(registry, engine.manifest, OODPolicy(threshold=1e12))
    assert lenient is not None and lenient.threshold == 1e12
    strict = load_ood(registry, engine.manifest, OODPolicy(in_flag_rate=0.2))
    assert strict is not None and strict.threshold < loaded.ood.threshold


def test_versions_without_a_calibration_serve_without_the_score_and_broken_ones_are_refused(s3_settings):
    registry = _registry(s3_settings)
    publish_random_model(registry, "plain-v1", seed=1, promote=False)
    plain = ModelManifest.from_dict(registry.manifest("plain-v1"))
    assert load_ood(registry, plain, OODPolicy()) is None
    engine = ModelEngine.from_registry(registry, "plain-v1")
    (out,) = classify_batch(LoadedModel(engine, None), [_degenerate()[2]])
    assert out.ood_score is None and not out.out_of_distribution
    publish_random_model(registry, "broken-v1", seed=1, promote=False, metrics={"ood_threshold": 10.0})
    broken = ModelManifest.from_dict(registry.manifest("broken-v1"))
    with pytest.raises(ValueError, match="no ood.npz"):
        load_ood(registry, broken, OODPolicy())
