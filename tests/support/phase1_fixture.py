"""A realistic phase-1 run in MinIO without training: for tests of labeling, phase 2 and serving.

From real radiographs of ``data/sample/`` it writes what the ingest service writes per image (raw,
derivative, thumbnail, ``meta/<id>.json`` record; see services/ingest archive.py) and what
``samx-trainer phase1`` writes per run (``assignments.csv``, ``clusters.json``, montages, embeddings,
``image_ids.json``, report; see services/trainer job.py and artifacts.py), with a clustering made from the
images' known labels plus noise: each region becomes one or more clusters (over-clustering, as SCAN
does), a fraction of the images lands in a wrong cluster with a lower confidence, and one cluster is
empty. It returns the ``ClusteringCompleted`` event (and can publish it) and the ground truth.

    run = build_phase1_run(store, s3.archive_bucket, n_images=60, seed=1)
    publish_clustering_completed(kafka_settings, run.event)
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from samx_core.archive import (
    AssignmentRow,
    ClustersDocument,
    ClusterSummary,
    ImageManifest,
    ManifestImage,
    RadiographRecord,
    assignments_key,
    clusters_key,
    derivative_key,
    manifest_key,
    radiograph_record_key,
    radiograph_record_ref,
    raw_key,
    thumbnail_key,
    write_assignments,
)
from samx_core.bus import EventPublisher, ensure_topics
from samx_core.events import ClusteringCompleted, ObjectRef
from samx_core.ids import image_id_for
from samx_core.imaging.decode import decode_radiograph
from samx_core.imaging.derivatives import encode_derivative_png, encode_thumbnail_png
from samx_core.radiograph import RadiographTags
from samx_core.settings import KafkaSettings
from samx_core.storage import ObjectStore

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
# DICOM BodyPartExamined values as modalities write them, for the labels that have one.
BODY_PART_TAGS = {
    "chest": "CHEST",
    "hand": "HAND",
    "foot": "FOOT",
    "knee": "KNEE",
    "pelvis": "PELVIS",
    "skull": "SKULL",
    "shoulder": "SHOULDER",
    "elbow": "ELBOW",
    "ankle": "ANKLE",
    "wrist": "WRIST",
    "hip": "HIP",
    "abdomen": "ABDOMEN",
    "cervical_spine": "CSPINE",
    "lumbar_spine": "LSPINE",
    "thoracic_spine": "TSPINE",
}


@dataclass(frozen=True)
class SampleImage:
    path: Path
    labels: tuple[str, ...]


@dataclass
class Phase1Run:
    event: ClusteringCompleted
    image_ids: list[str]
    labels: dict[str, tuple[str, ...]]  # image id -> ground-truth regions
    sha256: dict[str, str]  # image id -> SHA-256 of the file as sent
    cluster_of: dict[str, int]
    cluster_truth: dict[int, str] = field(default_factory=dict)  # majority primary label per non-empty cluster
    body_part: dict[str, str] = field(default_factory=dict)  # image id -> BodyPartExamined, where given
    files: dict[str, Path] = field(default_factory=dict)  # image id -> the sample file it was ingested from

    def known_labels_csv(self, *, key: str = "image_id", fraction: float = 1.0, seed: int = 0) -> str:
        """A CSV of known labels for ``fraction`` of the images (columns ``<key>,labels``)."""
        rng = random.Random(seed)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([key, "labels"])
        for image_id in self.image_ids:
            if rng.random() < fraction:
                writer.writerow(
                    [image_id if key == "image_id" else self.sha256[image_id], ";".join(self.labels[image_id])]
                )
        return out.getvalue()


def sample_images(limit: int | None = None, seed: int = 0) -> list[SampleImage]:
    """Labeled images of ``data/sample`` (a seeded, class-stratified subset when ``limit`` is set)."""
    rows = []
    with (SAMPLE_DIR / "labels.csv").open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["labels"] and (SAMPLE_DIR / row["image"]).is_file():
                rows.append(SampleImage(SAMPLE_DIR / row["image"], tuple(row["labels"].split(";"))))
    rng = random.Random(seed)
    rng.shuffle(rows)
    if limit is None or limit >= len(rows):
        return rows
    by_class: dict[str, list[SampleImage]] = defaultdict(list)
    for image in rows:
        by_class[image.labels[0]].append(image)
    picked: list[SampleImage] = []
    while len(picked) < limit:  # round robin over classes: small classes are represented too
        for members in by_class.values():
            if members and len(picked) < limit:
                picked.append(members.pop())
    return picked


def _ingest_record(store: ObjectStore, bucket: str, data: bytes, body_part: str | None) -> RadiographRecord:
    """Writes one radiograph the way the ingest service does; returns its record."""
    sha = hashlib.sha256(data).hexdigest()
    image_id = image_id_for(sop_instance_uid=None, content_sha256=sha)
    decoded = decode_radiograph(data)
    raw = store.put_bytes(bucket, raw_key(image_id, "png"), data, content_type="image/png", sha256=sha)
    derivative = store.put_bytes(
        bucket, derivative_key(image_id), encode_derivative_png(decoded), content_type="image/png"
    )
    thumb = store.put_bytes(bucket, thumbnail_key(image_id), encode_thumbnail_png(decoded), content_type="image/png")
    tags = RadiographTags(
        modality="CR",
        body_part_examined=body_part,
        rows=decoded.pixels.shape[0],
        columns=decoded.pixels.shape[1],
        bits_stored=decoded.bits,
        patient_identity_removed=True,
    )
    record = RadiographRecord(
        image_id=image_id,
        received_event_id=uuid.uuid4(),
        site_id="fixture",
        sha256=sha,
        source_format=decoded.source_format,
        tags=tags,
        raw=raw.ref(),
        derivative=derivative.ref(),
        thumbnail=thumb.ref(),
        metadata=radiograph_record_ref(bucket, image_id),
        derivative_bits=decoded.bits,
    )
    store.put_bytes(bucket, radiograph_record_key(image_id), record.to_bytes(), content_type="application/json")
    return record  # no content index: ingest keeps one for DICOM only (a PNG's id is its content's)


def _montage(thumbnails: list[bytes], grid: int = 4, side: int = 64) -> bytes:
    canvas = Image.new("L", (grid * side, grid * side))
    for t, png in enumerate(thumbnails[: grid * grid]):
        with Image.open(io.BytesIO(png)) as image:
            tile = image.convert("L").resize((side, side))
        canvas.paste(tile, ((t % grid) * side, (t // grid) * side))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def build_phase1_run(
    store: ObjectStore,
    bucket: str,
    *,
    n_images: int = 60,
    seed: int = 0,
    run_id: str | None = None,
    split_above: int = 6,
    noise: float = 0.1,
    body_part_fraction: float = 0.5,
    exemplars: int = 8,
) -> Phase1Run:
    """Writes the images and one run's artifacts under ``runs/phase1/<run id>/`` in ``bucket``."""
    rng = random.Random(seed)
    store.ensure_buckets(bucket)
    run_id = run_id or f"fixture-{uuid.uuid4().hex[:8]}"
    images = sample_images(n_images, seed)

    ids, labels, shas, body_parts, primary, files, records = [], {}, {}, {}, {}, {}, []
    for image in images:
        tag = BODY_PART_TAGS.get(image.labels[0]) if rng.random() < body_part_fraction else None
        record = _ingest_record(store, bucket, image.path.read_bytes(), tag)
        records.append(record)
        image_id, sha = record.image_id, record.sha256
        ids.append(image_id)
        labels[image_id], shas[image_id], primary[image_id] = image.labels, sha, image.labels[0]
        files[image_id] = image.path
        if tag:
            body_parts[image_id] = tag

    # Clusters from the truth: big classes split in two, a few images misplaced, one cluster left empty.
    by_class: dict[str, list[str]] = defaultdict(list)
    for image_id in ids:
        by_class[primary[image_id]].append(image_id)
    cluster_of, confidence, next_cluster = {}, {}, 0
    for name in sorted(by_class):
        members = by_class[name]
        parts = 2 if len(members) > split_above else 1
        for i, image_id in enumerate(members):
            cluster_of[image_id] = next_cluster + i % parts
            confidence[image_id] = rng.uniform(0.75, 0.99)
        next_cluster += parts
    k = next_cluster + 1  # the last cluster stays empty, as SCAN leaves some
    for image_id in ids:
        if rng.random() < noise:
            cluster_of[image_id] = rng.randrange(next_cluster)
            confidence[image_id] = rng.uniform(0.3, 0.6)

    prefix = f"runs/phase1/{run_id}/"
    refs: dict[str, ObjectRef] = {}

    def put(name: str, data: bytes, content_type: str) -> None:
        refs[name] = store.put_bytes(bucket, prefix + name, data, content_type=content_type).ref()

    def name(key: str) -> str:
        return key[len(prefix) :]

    rows = [
        AssignmentRow(image_id=i, cluster=cluster_of[i], confidence=confidence[i], second=(cluster_of[i] + 1) % k)
        for i in ids
    ]
    put(name(assignments_key(prefix)), write_assignments(rows), "text/csv")
    manifest = ImageManifest(run_id=run_id, images=[ManifestImage.from_record(r) for r in records])
    put(name(manifest_key(prefix)), manifest.model_dump_json(indent=1).encode(), "application/json")

    summaries, truth = [], {}
    for c in range(k):
        members = sorted((i for i in ids if cluster_of[i] == c), key=lambda i: -confidence[i])
        summaries.append(
            ClusterSummary(
                cluster=c,
                size=len(members),
                mean_confidence=float(np.mean([confidence[i] for i in members])) if members else None,
                exemplars=members[:exemplars],
                least_confident=members[::-1][:4],
            )
        )
        if members:
            truth[c] = Counter(primary[i] for i in members).most_common(1)[0][0]
            thumbs = [store.get_bytes(bucket, thumbnail_key(i)) for i in members[:16]]
            put(f"montages/cluster-{c:04d}.png", _montage(thumbs), "image/png")
    document = ClustersDocument(run_id=run_id, k=k, clusters=summaries)
    put(name(clusters_key(prefix)), document.model_dump_json(indent=1).encode(), "application/json")
    put("image_ids.json", json.dumps(ids).encode(), "application/json")
    # Embeddings follow the true region (what a good pretext learns) with a pull toward the assigned
    # cluster and some noise: a cluster holding misplaced radiographs separates when split.
    rng_np = np.random.default_rng(seed)
    region_centre = {name: 3.0 * rng_np.normal(size=16) for name in sorted(by_class)}
    cluster_pull = rng_np.normal(size=(k, 16))
    embeddings = np.stack(
        [region_centre[primary[i]] + 0.3 * cluster_pull[cluster_of[i]] + 0.1 * rng_np.normal(size=16) for i in ids]
    )
    buffer = io.BytesIO()
    np.save(buffer, embeddings.astype(np.float32), allow_pickle=False)
    put("embeddings.npy", buffer.getvalue(), "application/octet-stream")
    put(
        "report.md",
        f"# Fixture run {run_id}\n\n{len(ids)} radiographs, {k} clusters (from known labels).\n".encode(),
        "text/markdown",
    )

    event = ClusteringCompleted(
        run_id=run_id,
        profile="fixture",
        n_images=len(ids),
        n_clusters=k,
        artifacts_prefix=prefix,
        assignments=refs[name(assignments_key(prefix))],
        clusters=refs[name(clusters_key(prefix))],
        embeddings=refs["embeddings.npy"],
        image_ids=refs["image_ids.json"],
        report=refs["report.md"],
    )
    return Phase1Run(
        event=event,
        image_ids=ids,
        labels=labels,
        sha256=shas,
        cluster_of=cluster_of,
        cluster_truth=truth,
        body_part=body_parts,
        files=files,
    )


def publish_clustering_completed(kafka: KafkaSettings, event: ClusteringCompleted) -> None:
    ensure_topics(kafka, [ClusteringCompleted.TOPIC])
    with EventPublisher(kafka) as publisher:
        publisher.publish_and_wait(event, key=event.run_id)
