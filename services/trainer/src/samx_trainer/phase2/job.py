"""Phase 2 end to end: label set + phase-1 run -> injected labels -> patient-grouped splits ->
cross-validation and the final model on Ray Train -> metrics, threshold, report -> model registry ->
promotion (explicit or by policy) and ``model.published``."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import ray
from samx_core.events import ModelPublished
from samx_core.model_registry import ModelRegistry
from samx_core.storage import ObjectStore
from samx_ml.backbone import Backbone
from samx_ml.bundle import ModelManifest, weights_to_bytes
from samx_ml.classifier import Classifier
from samx_ml.profiles import get_profile

from samx_trainer.common.ray_connection import connect_ray
from samx_trainer.common.storage_fs import archive_storage
from samx_trainer.phase1.artifacts import RunArtifacts
from samx_trainer.phase2.archive import load_training_images, read_phase1_run
from samx_trainer.phase2.calibration import calibrate_threshold
from samx_trainer.phase2.data import LabelSet, Phase2DataError, inject_labels
from samx_trainer.phase2.ood import calibrate_ood, with_ood
from samx_trainer.phase2.promotion import promote, should_auto_promote
from samx_trainer.phase2.report import classification_metrics, confusion_png, render_report
from samx_trainer.phase2.splits import make_splits
from samx_trainer.phase2.train import Task, run_classifier_tasks
from samx_trainer.settings import Settings

log = logging.getLogger(__name__)


class ModelExistsError(ValueError):
    """The model version is in the registry already (versions are immutable)."""


@dataclass(frozen=True)
class Phase2Result:
    manifest: ModelManifest
    artifacts_prefix: str
    published: ModelPublished | None  # set when the model was promoted
    promotion_note: str


def default_model_version(run_id: str, labelset_version: int) -> str:
    """One version per (run, label set): a re-delivered ``labels.published`` finds its model trained."""
    version = f"{run_id}.ls{labelset_version}"
    if len(version) > 64:  # registry versions are at most 64 characters
        version = f"{run_id[:40]}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}.ls{labelset_version}"
    return version


def run_phase2(
    settings: Settings,
    profile_name: str,
    labelset: LabelSet,
    *,
    model_version: str | None = None,
    promote_now: bool = False,
) -> Phase2Result:
    t0 = time.perf_counter()
    ts, s3 = settings.trainer, settings.s3
    run_id = labelset.run_id
    version = model_version or default_model_version(run_id, labelset.version)
    store = ObjectStore(s3)
    registry = ModelRegistry(store, s3.archive_bucket)
    if store.exists(s3.archive_bucket, registry.manifest_key(version)):
        raise ModelExistsError(f"model version {version!r} is in the registry already")
    profile = get_profile(profile_name)
    cfg = profile.classifier
    if ts.classifier_epochs:
        cfg = replace(cfg, epochs=ts.classifier_epochs)
    if ts.classifier_image_size:
        cfg = replace(cfg, image_size=ts.classifier_image_size)
    if ts.classifier_batch_size:
        cfg = replace(cfg, batch_size=ts.classifier_batch_size)

    phase1 = read_phase1_run(store, s3.archive_bucket, ts.runs_prefix, run_id)
    injected = inject_labels(
        labelset, phase1.assignments, discard_as_class=ts.discard_as_class, not_msk_name=ts.not_msk_class
    )
    data = load_training_images(
        store,
        s3.archive_bucket,
        injected.image_ids,
        cfg.image_size,
        threads=ts.load_threads,
        trim_frame=ts.trim_frame,
        manifest=phase1.manifest,
    )
    by_id = dict(zip(injected.image_ids, injected.target, strict=True))
    y = np.array([by_id[i] for i in data.image_ids], dtype=np.int64)
    classes = injected.classes
    k = ts.cv_folds or (3 if profile.name == "ci" else 5)
    splits = make_splits(y, data.groups, k=k, holdout_fraction=ts.holdout_fraction, seed=ts.seed)
    log.info(
        "phase 2 %s: %d radiographs, %d classes, %d folds, hold-out %d",
        version, len(y), len(classes), k, len(splits.holdout),
    )  # fmt: skip

    tasks = [Task(f"fold-{i + 1}", tr, va) for i, (tr, va) in enumerate(splits.folds)]
    tasks.append(Task("final", splits.development, splits.holdout, keep_weights=True))
    storage_prefix = f"{ts.phase2_prefix.strip('/')}/{version}"
    started_ray = connect_ray(settings.ray)
    try:
        results = run_classifier_tasks(
            data.images, np.eye(len(classes), dtype=np.float32)[y], phase1.backbone_state, phase1.backbone_arch,
            cfg, tasks, ts, *archive_storage(s3, storage_prefix), run_id=version,
        )  # fmt: skip
    finally:
        if started_ray:
            ray.shutdown()

    majority = int(np.bincount(y[splits.development], minlength=len(classes)).argmax())
    val_idx = np.concatenate([va for _, va in splits.folds])
    oof = np.concatenate([r.probs for r in results[:-1]])
    cv = classification_metrics(oof, y[val_idx], classes, majority)
    final = results[-1]
    holdout = classification_metrics(final.probs, y[splits.holdout], classes, majority)
    threshold = calibrate_threshold(
        oof.max(1), oof.argmax(1) == y[val_idx], ts.uncertain_target_accuracy, ts.uncertain_min_coverage
    )
    headline = {
        "cv_top1": cv["top1"],
        "cv_top2": cv["top2"],
        "cv_macro_f1": cv["macro_f1"],
        "holdout_top1": holdout["top1"],
        "holdout_top2": holdout["top2"],
        "holdout_macro_f1": holdout["macro_f1"],
        "holdout_ece": holdout["ece"],
        "majority_rate": holdout["majority_rate"],
    }
    manifest = ModelManifest(
        version=version,
        arch=phase1.backbone_arch,
        image_size=cfg.image_size,
        load_size=cfg.image_size,
        trim_frame=ts.trim_frame,
        classes=classes,
        run_id=run_id,
        labelset_version=labelset.version,
        uncertain_threshold=threshold.threshold,
        not_msk_class=injected.not_msk_class,
        metrics={k_: float(v) for k_, v in headline.items()},
        training_compute=final.compute or {},
        created_at=datetime.now(UTC).isoformat(),
    )
    model = Classifier(Backbone(phase1.backbone_arch), len(classes))
    model.load_state_dict(final.weights or {}, strict=True)
    # not_msk in serving: the feature-space OOD score, fitted on what the model trained on and
    # thresholded on the hold-out (radiographs it never saw)
    detector = calibrate_ood(
        model, data.images, y, splits.development, splits.holdout, cfg.image_size,
        method=ts.ood_method, in_flag_rate=ts.ood_in_flag_rate,
    )  # fmt: skip
    manifest = with_ood(manifest, detector)

    out = RunArtifacts(store, s3.archive_bucket, storage_prefix)
    summary = {
        "model_version": version,
        "run_id": run_id,
        "labelset_version": labelset.version,
        "profile": profile.name,
        "classes": classes,
        "counts": injected.counts(),
        "n_images": len(y),
        "n_discarded": injected.n_discarded,
        "n_undecided": injected.n_undecided,
        "n_excluded": injected.n_excluded,
        "n_placed": injected.n_placed,
        "n_skipped": len(data.skipped),
        "not_msk_class": injected.not_msk_class,
        "k": k,
        "n_groups": len(set(data.groups)),
        "epochs": cfg.epochs,
        "balance": cfg.balance,
        "num_workers": ts.num_workers,
        "images_per_s": float(np.mean([r.images_per_s for r in results])),
        "compute": final.compute or {},
        # models taken from the checkpoint after the worker group restarted (a lost rank or node)
        "restored_tasks": [r.name for r in results if r.restored],
        "losses": {r.name: r.losses for r in results},
        "seconds": time.perf_counter() - t0,
    }
    out.put_json(
        "metrics.json",
        {"cv": cv, "holdout": holdout, "threshold": threshold.to_dict(), "ood": detector.describe(), **headline},
    )
    out.put_json("summary.json", summary)
    out.put("confusion_holdout.png", confusion_png(holdout["confusion"], classes, "hold-out"), "image/png")
    out.put("confusion_cv.png", confusion_png(cv["confusion"], classes, "cross-validation"), "image/png")
    out.put("report.md", render_report(summary, cv, holdout, threshold.to_dict()).encode(), "text/markdown")
    registry.put(version, manifest.to_dict(), weights_to_bytes(model), ood=detector.to_bytes())
    log.info("model %s in the registry: %s", version, {k_: round(v, 4) for k_, v in headline.items()})

    go, note = (True, "requested") if promote_now else should_auto_promote(ts, headline)
    published = promote(store, registry, settings.kafka, version) if go else None
    return Phase2Result(manifest, storage_prefix + "/", published, note if go else f"not promoted: {note}")


__all__ = ["ModelExistsError", "Phase2DataError", "Phase2Result", "default_model_version", "run_phase2"]
