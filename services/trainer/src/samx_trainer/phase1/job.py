"""Phase 1 end to end: archive -> pretext on Ray Train -> SCAN clustering -> artifacts -> event."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import ray
from samx_core.archive import (
    ClustersDocument,
    ImageManifest,
    assignments_key,
    backbone_key,
    clusters_key,
    manifest_key,
    run_report_key,
)
from samx_core.bus import EventPublisher, ensure_topics
from samx_core.events import ClusteringCompleted
from samx_core.storage import ObjectStore
from samx_ml.pretrained import resolve_init
from samx_ml.profiles import Profile, get_profile
from samx_ml.runtime import pick_device

from samx_trainer.common.image_cache import ImageSource, remove_cache
from samx_trainer.common.progress import TrainingProgress
from samx_trainer.common.ray_connection import connect_ray
from samx_trainer.common.storage_fs import archive_storage
from samx_trainer.phase1.artifacts import (
    RunArtifacts,
    assignments_csv,
    backbone_bytes,
    cluster_summaries,
    histogram_png,
    montage,
    npy_bytes,
)
from samx_trainer.phase1.clusters import cluster_radiographs, number_of_clusters
from samx_trainer.phase1.data import load_radiographs
from samx_trainer.phase1.embedding_map import embedding_map_png
from samx_trainer.phase1.labels import clustering_metrics, label_sets_for, read_labels
from samx_trainer.phase1.pretext import frozen_pretext, run_pretext
from samx_trainer.phase1.report import render_report
from samx_trainer.settings import Settings

log = logging.getLogger(__name__)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run_phase1(
    settings: Settings,
    profile_name: str,
    *,
    run_id: str | None = None,
    labels_csv: Path | None = None,
    publish: bool = True,
) -> ClusteringCompleted:
    t0 = time.perf_counter()
    run_id = run_id or new_run_id()
    ts = settings.trainer
    profile = get_profile(profile_name)
    if ts.pretext_epochs:
        profile = replace(profile, pretext=replace(profile.pretext, epochs=ts.pretext_epochs))
    table = read_labels(labels_csv) if labels_csv else None  # fail early on a bad file

    cache = ts.spool_dir / f"phase1-{run_id}-{profile.pretext.image_size}px.u8"
    try:
        return _run_phase1(settings, profile, run_id, cache, table, publish, t0)
    finally:
        remove_cache(cache)  # the run's working copy of the archive; the archive itself stays in MinIO


def _run_phase1(
    settings: Settings, profile: Profile, run_id: str, cache: Path, table, publish: bool, t0: float
) -> ClusteringCompleted:
    ts, s3 = settings.trainer, settings.s3
    store = ObjectStore(s3)
    size = profile.pretext.image_size
    data = load_radiographs(store, s3.archive_bucket, size, cache, threads=ts.load_threads, trim_frame=ts.trim_frame)
    k = number_of_clusters(len(data.image_ids), ts.n_clusters)
    log.info("run %s: %d radiographs (%d skipped), K=%d", run_id, len(data.image_ids), len(data.skipped), k)

    prefix = f"{ts.runs_prefix.strip('/')}/{run_id}"
    source = ImageSource(tuple(data.derivatives), size, str(cache), s3, ts.load_threads, ts.trim_frame)
    init = resolve_init(ts.init)  # fails here, before any work, on an unknown name or a bad file
    if init is not None:
        log.info("run %s: starting from the shipped backbone %s (%s)", run_id, init.name, ts.init_mode)
    started_ray = connect_ray(settings.ray)
    try:
        if init is not None and ts.init_mode == "frozen":
            pretext = frozen_pretext(init)
        else:
            pretext = run_pretext(source, profile.pretext, ts, run_id, *archive_storage(s3, prefix), init=init)
        c = cluster_radiographs(  # on the driver; connected to Ray so that its progress gauges export
            pretext.backbone, data.images, profile, k, pick_device(ts.device),
            with_self_label=ts.self_label, seed=ts.seed, progress=TrainingProgress(run_id),
        )  # fmt: skip
    finally:
        if started_ray:
            ray.shutdown()

    metrics = None
    if table is not None:
        metrics = clustering_metrics(c.cluster, label_sets_for(data.image_ids, data.sha256, table), k)

    out = RunArtifacts(store, s3.archive_bucket, prefix)
    out.put(out.name_of(assignments_key(prefix)), assignments_csv(data.image_ids, c), "text/csv")
    clusters = cluster_summaries(data.image_ids, c, ts.exemplars, ts.least_confident)
    document = ClustersDocument.model_validate({"run_id": run_id, "k": k, "clusters": clusters})
    out.put_payload(clusters_key(prefix), document)
    # Once, from the records phase 1 read anyway: labeling, phase 2 and exports need not read them again.
    out.put_payload(manifest_key(prefix), ImageManifest(run_id=run_id, images=data.manifest))
    for entry in clusters:
        if entry["size"]:
            members = np.flatnonzero(c.cluster == entry["cluster"])
            best = members[np.argsort(-c.confidence[members], kind="stable")].tolist()
            out.put(f"montages/cluster-{entry['cluster']:04d}.png", montage(data.images, best), "image/png")
    out.put("embeddings.npy", npy_bytes(c.embeddings), "application/octet-stream")
    backbone = backbone_bytes(pretext.backbone, profile.pretext.arch, profile.pretext.image_size)
    out.put(out.name_of(backbone_key(prefix)), backbone, "application/octet-stream")  # phase 2 starts from it
    out.put_json("image_ids.json", data.image_ids)
    out.put("cluster_sizes.png", histogram_png(np.bincount(c.cluster, minlength=k), 20, "cluster sizes"), "image/png")
    out.put("confidence.png", histogram_png(c.confidence, 20, "assignment confidence", (0.0, 1.0)), "image/png")
    out.put("embedding_map.png", embedding_map_png(c.embeddings, c.cluster), "image/png")
    if metrics is not None:
        out.put_json("metrics.json", metrics)
    summary = {
        "run_id": run_id,
        "profile": profile.name,
        "n_images": len(data.image_ids),
        "n_skipped": len(data.skipped),
        "n_clusters": k,
        "num_workers": ts.num_workers,
        "init": init.name if init is not None else "scratch",
        "init_mode": ts.init_mode if init is not None else None,
        "pretext_epochs": pretext.epochs,
        "pretext_final_loss": pretext.losses[-1] if pretext.losses else None,
        "pretext_images_per_s": float(np.mean(pretext.images_per_s)) if pretext.images_per_s else None,
        "pretext_compute": pretext.compute,
        # epochs a restarted worker group continued from (a lost rank or node): empty on an undisturbed run
        "pretext_resumed_at": pretext.resumed_at,
        "checkpoint": pretext.checkpoint_path,
        "scan": c.scan,
        "seconds": time.perf_counter() - t0,
    }
    out.put_json("summary.json", {**summary, "skipped": data.skipped, "losses": pretext.losses})
    out.put(out.name_of(run_report_key(prefix)), render_report(summary, clusters, metrics).encode(), "text/markdown")

    event = ClusteringCompleted(
        run_id=run_id,
        profile=profile.name,
        n_images=len(data.image_ids),
        n_skipped=len(data.skipped),
        n_clusters=k,
        artifacts_prefix=prefix + "/",
        assignments=out.refs[out.name_of(assignments_key(prefix))],
        clusters=out.refs[out.name_of(clusters_key(prefix))],
        embeddings=out.refs["embeddings.npy"],
        image_ids=out.refs["image_ids.json"],
        report=out.refs["report.md"],
        metrics_file=out.refs.get("metrics.json"),
        metrics={k_: float(v) for k_, v in metrics.items()} if metrics else None,
    )
    if publish:
        ensure_topics(settings.kafka, [ClusteringCompleted.TOPIC])
        with EventPublisher(settings.kafka) as publisher:
            publisher.publish_and_wait(event, key=run_id)
    log.info("run %s done in %.0fs: %s", run_id, time.perf_counter() - t0, prefix)
    return event
