"""Phase 1's writers against every reader of what they write: the trainer's ``assignments.csv``,
``clusters.json`` and image manifest, read back by labeling (the session) and phase 2 (label injection,
training images), all through ``samx_core.archive`` over the real MinIO; and each reader's clear error on a
bad payload."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from samx_core.archive import (
    ClustersDocument,
    ImageManifest,
    ManifestImage,
    RadiographRecord,
    assignments_key,
    clusters_key,
    manifest_key,
    radiograph_record_key,
    radiograph_record_ref,
    run_prefix,
    thumbnail_key,
)
from samx_core.events import ClusteringCompleted, ObjectRef
from samx_core.radiograph import RadiographTags, SourceFormat
from samx_core.storage import ObjectStore
from samx_labeling.adapters.phase1_store import ObjectStorePhase1Artifacts
from samx_labeling.domain.errors import InvalidInputError
from samx_trainer.phase1.artifacts import RunArtifacts, assignments_csv, cluster_summaries
from samx_trainer.phase1.clusters import Clustering
from samx_trainer.phase2.archive import read_manifest
from samx_trainer.phase2.data import Phase2DataError, parse_assignments

pytestmark = pytest.mark.integration

RUN = "r1"
IDS = [f"img-{i:032x}" for i in range(4)]


def _record(bucket: str, image_id: str, patient: str) -> RadiographRecord:
    return RadiographRecord(
        image_id=image_id, received_event_id=uuid.uuid4(), site_id="site-a", sha256="c" * 64,
        source_format=SourceFormat("png"),
        tags=RadiographTags(modality="DX", body_part_examined="KNEE", rows=20, columns=30, bits_stored=8,
                            patient_id=patient),
        raw=ObjectRef(bucket=bucket, key=f"raw/{image_id}.png"),
        derivative=ObjectRef(bucket=bucket, key=f"derived/{image_id}.png"),
        thumbnail=ObjectRef(bucket=bucket, key=thumbnail_key(image_id)),
        metadata=radiograph_record_ref(bucket, image_id), derivative_bits=8,
    )  # fmt: skip


@pytest.fixture
def bucket(s3_settings) -> str:
    name = f"seams-{uuid.uuid4().hex[:12]}"
    ObjectStore(s3_settings).ensure_buckets(name)
    return name


@pytest.fixture
def written(s3_settings, bucket) -> tuple[ObjectStore, ClusteringCompleted]:
    """What ``samx_trainer.phase1.job`` writes for a run, by the same functions."""
    store = ObjectStore(s3_settings)
    prefix = run_prefix("runs/phase1", RUN)
    out = RunArtifacts(store, bucket, prefix)
    c = Clustering(
        2, np.array([0, 0, 1, 0]), np.array([0.9, 0.5, 0.7, 1.0]), np.array([1, 1, 0, 1]),
        np.zeros((4, 2), np.float32), {}, 0.0,
    )  # fmt: skip
    out.put(out.name_of(assignments_key(prefix)), assignments_csv(IDS, c), "text/csv")
    summaries = cluster_summaries(IDS, c, 2, 1)
    out.put_payload(
        clusters_key(prefix), ClustersDocument.model_validate({"run_id": RUN, "k": 2, "clusters": summaries})
    )
    records = [_record(bucket, i, f"p{n % 2}") for n, i in enumerate(IDS)]
    out.put_payload(
        manifest_key(prefix), ImageManifest(run_id=RUN, images=[ManifestImage.from_record(r) for r in records])
    )
    refs = out.refs
    event = ClusteringCompleted(
        run_id=RUN, profile="ci", n_images=4, n_clusters=2, artifacts_prefix=prefix,
        assignments=refs["assignments.csv"], clusters=refs["clusters.json"], embeddings=refs["clusters.json"],
        image_ids=refs["clusters.json"], report=refs["clusters.json"],
    )  # fmt: skip
    return store, event


def test_what_phase_1_writes_every_reader_accepts(written, bucket):
    store, event = written
    labeling = ObjectStorePhase1Artifacts(store, event)
    assert [(a.image_id, a.cluster) for a in labeling.assignments()] == list(zip(IDS, [0, 0, 1, 0], strict=True))
    assert [s.size for s in labeling.clusters()] == [3, 1]
    images = labeling.image_records(IDS)
    assert images[IDS[2]].thumbnail_key == thumbnail_key(IDS[2]) and images[IDS[2]].body_part == "KNEE"
    assert images[IDS[2]].facts == {"modality": "DX", "rows": 20, "columns": 30, "site": "site-a"}
    assert parse_assignments(store.get_bytes(bucket, event.assignments.key)) == dict(
        zip(IDS, [0, 0, 1, 0], strict=True)
    )
    manifest = read_manifest(store, bucket, event.artifacts_prefix, RUN)
    assert manifest is not None
    groups = {i: manifest[i].patient_group for i in IDS}
    assert groups[IDS[0]] == groups[IDS[2]] != groups[IDS[1]] and all(g.startswith("p:") for g in groups.values())
    stored = [store.get_bytes(bucket, k) for k in store.list_keys(bucket, "")]
    assert stored and not any(b"p0" in data or b"p1" in data for data in stored)  # no patient id stored


def test_a_run_without_a_manifest_falls_back_to_the_records(written, bucket):
    store, event = written
    store.delete(bucket, manifest_key(event.artifacts_prefix))
    store.put_bytes(bucket, radiograph_record_key(IDS[0]), _record(bucket, IDS[0], "p0").to_bytes())
    images = ObjectStorePhase1Artifacts(store, event).image_records(IDS[:2])
    assert images[IDS[0]].body_part == "KNEE" and images[IDS[0]].derivative_key == f"derived/{IDS[0]}.png"
    assert images[IDS[1]].body_part is None and images[IDS[1]].thumbnail_key == thumbnail_key(IDS[1])
    assert read_manifest(store, bucket, event.artifacts_prefix, RUN) is None


def test_each_reader_keeps_its_clear_error_on_a_bad_payload(written, bucket):
    store, event = written
    store.put_bytes(bucket, event.assignments.key, b"image_id,cluster,confidence,second\na,0,0.5,1\nb,-1,0.5,1\n")
    labeling = ObjectStorePhase1Artifacts(store, event)
    with pytest.raises(InvalidInputError, match="assignments.csv line 3 is malformed"):
        labeling.assignments()
    with pytest.raises(Phase2DataError, match="assignments.csv line 3 is malformed"):
        parse_assignments(store.get_bytes(bucket, event.assignments.key))
    store.put_bytes(bucket, event.clusters.key, b'{"run_id": "r1", "k": 2}')
    with pytest.raises(InvalidInputError, match="clusters.json does not have the expected shape"):
        labeling.clusters()
    store.put_bytes(bucket, manifest_key(event.artifacts_prefix), b'{"run_id": "other", "images": []}')
    with pytest.raises(InvalidInputError, match="manifest.json belongs to another run"):
        labeling.image_records(IDS)
    with pytest.raises(Phase2DataError, match="belongs to run 'other'"):
        read_manifest(store, bucket, event.artifacts_prefix, RUN)
