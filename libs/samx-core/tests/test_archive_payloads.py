"""The stored payloads' contracts (``samx_core.archive``): each round-trips, rejects a bad payload with a
message that says where, and keys are built in one place."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from samx_core.archive import (
    AssignmentRow,
    AssignmentsError,
    ClustersDocument,
    ImageManifest,
    ManifestImage,
    RadiographRecord,
    assignments_key,
    backbone_key,
    clusters_key,
    image_id_of_record_key,
    manifest_key,
    patient_group,
    radiograph_record_key,
    radiograph_record_ref,
    read_assignments,
    run_prefix,
    run_report_key,
    thumbnail_key,
    write_assignments,
)
from samx_core.events import RadiographIngested
from samx_core.events.base import ObjectRef
from samx_core.radiograph import RadiographTags, SourceFormat

IMAGE = "img-" + "0" * 31 + "1"


def _record(patient_id: str | None = "pseudo-7", body_part: str | None = "HAND") -> RadiographRecord:
    ref = ObjectRef(bucket="archive", key=f"derived/{IMAGE}.png")
    return RadiographRecord(
        image_id=IMAGE,
        received_event_id=uuid.UUID(int=3),
        site_id="site-a",
        sha256="b" * 64,
        source_format=SourceFormat("png"),
        tags=RadiographTags(
            modality="CR", body_part_examined=body_part, rows=10, columns=12, bits_stored=8, patient_id=patient_id
        ),
        raw=ObjectRef(bucket="archive", key=f"raw/{IMAGE}.png"),
        derivative=ref,
        thumbnail=ObjectRef(bucket="archive", key=thumbnail_key(IMAGE)),
        metadata=radiograph_record_ref("archive", IMAGE),
        derivative_bits=8,
    )


def test_the_record_is_the_ingested_event_and_reads_what_ingest_stored():
    record = _record()
    stored = RadiographIngested.model_validate(record.model_dump()).model_dump(mode="json")  # what ingest writes
    assert RadiographRecord.model_validate(stored) == record
    assert RadiographRecord.model_validate({**stored, "added_later": 1}) == record  # additive fields ignored
    with pytest.raises(ValidationError, match="image_id"):
        RadiographRecord.model_validate({**stored, "image_id": "../x"})
    assert radiograph_record_key(IMAGE) == f"meta/{IMAGE}.json" == record.metadata.key
    assert image_id_of_record_key(radiograph_record_key(IMAGE)) == IMAGE
    assert image_id_of_record_key("meta/nested/x.json") is None and image_id_of_record_key("meta/x.txt") is None


def test_clusters_document_round_trips_and_rejects_a_bad_one():
    doc = ClustersDocument.model_validate(
        {"run_id": "r1", "k": 2, "clusters": [
            {"cluster": 0, "size": 1, "mean_confidence": 0.9, "exemplars": [IMAGE], "least_confident": [IMAGE]},
            {"cluster": 1, "size": 0, "mean_confidence": None},
        ]}
    )  # fmt: skip
    assert ClustersDocument.model_validate_json(doc.model_dump_json()) == doc
    with pytest.raises(ValidationError, match=r"clusters\.0\.size"):
        ClustersDocument.model_validate({"run_id": "r1", "k": 2, "clusters": [{"cluster": 0, "size": -1}]})
    with pytest.raises(ValidationError, match="run_id"):
        ClustersDocument.model_validate({"run_id": "../r", "k": 2, "clusters": []})
    assert clusters_key(run_prefix("/runs/phase1/", "r1")) == "runs/phase1/r1/clusters.json"
    assert assignments_key("runs/phase1/r1") == "runs/phase1/r1/assignments.csv"
    assert backbone_key("runs/phase1/r1/") == "runs/phase1/r1/backbone.pt"
    assert run_report_key(run_prefix("runs/phase1", "r1")) == "runs/phase1/r1/report.md"


def test_assignments_round_trip_and_a_bad_row_names_its_line():
    rows = [
        AssignmentRow(image_id=IMAGE, cluster=3, confidence=0.25, second=1),
        AssignmentRow(image_id="b", cluster=0, confidence=1.0),
    ]
    assert read_assignments(write_assignments(rows)) == rows
    assert read_assignments(b"image_id,cluster,confidence,second,extra\nx,1,0.5,2,z\n")[0].cluster == 1
    with pytest.raises(AssignmentsError, match=r"line 3 is malformed \(confidence\)"):
        read_assignments(b"image_id,cluster,confidence,second\na,0,0.5,1\nb,0,1.5,1\n")
    with pytest.raises(AssignmentsError, match=r"line 2 is malformed \(cluster\)"):
        read_assignments(b"image_id,cluster,confidence\na,x,0.5\n")
    with pytest.raises(AssignmentsError, match="needs the columns"):
        read_assignments(b"id,c\n1,2\n")
    with pytest.raises(AssignmentsError, match="UTF-8"):
        read_assignments(b"\xff\xfe")


def test_the_manifest_carries_no_patient_identifier_and_round_trips():
    record = _record()
    entry = ManifestImage.from_record(record)
    manifest = ImageManifest(run_id="r1", images=[entry])
    text = manifest.model_dump_json()
    assert "pseudo-7" not in text  # only the hash of the patient travels
    assert entry.patient_group == patient_group(record) and entry.patient_group.startswith("p:")
    assert entry.body_part == "HAND" and entry.thumbnail.key == thumbnail_key(IMAGE)
    assert ImageManifest.model_validate_json(text) == manifest
    assert manifest.by_id()[IMAGE] == entry
    assert ManifestImage.from_record(_record(patient_id=None, body_part=" ")).patient_group == f"i:{IMAGE}"
    assert ManifestImage.from_record(_record(body_part=" ")).body_part is None
    with pytest.raises(ValidationError, match="patient_group"):
        ManifestImage.model_validate({**entry.model_dump(), "patient_group": "pseudo-7"})
    with pytest.raises(ValidationError, match="sha256"):
        ManifestImage.model_validate({**entry.model_dump(), "sha256": "x"})
    assert manifest_key("runs/phase1/r1/") == "runs/phase1/r1/manifest.json"
