"""Stored payloads that events point to (claim checks): one typed model and one key builder each, used by
the writer, every reader and the test fixtures alike, so that a change to a payload is a change to a type."""

from pydantic import BaseModel

from samx_core.archive.labelset import (
    LabelSetCluster,
    LabelSetDecisions,
    LabelSetDocument,
    label_set_key,
)
from samx_core.archive.manifest import ImageManifest, ManifestImage, manifest_key, patient_group, short_body_part
from samx_core.archive.phase1_run import (
    AssignmentRow,
    AssignmentsError,
    ClustersDocument,
    ClusterSummary,
    assignments_key,
    backbone_key,
    clusters_key,
    read_assignments,
    run_prefix,
    run_report_key,
    write_assignments,
)
from samx_core.archive.quarantine import (
    QUARANTINE_PREFIX,
    QuarantineRecord,
    quarantine_original_key,
    quarantine_record_key,
)
from samx_core.archive.radiograph import (
    RADIOGRAPH_RECORD_PREFIX,
    RadiographRecord,
    derivative_key,
    image_id_of_record_key,
    radiograph_record_key,
    radiograph_record_ref,
    raw_key,
    thumbnail_key,
)
from samx_core.archive.sorted_index import (
    SORTED_INDEX_PREFIX,
    SortedIndexJob,
    SortedIndexRecord,
    image_id_of_sorted_key,
    label_of_sorted_key,
    sorted_index_images_prefix,
    sorted_index_job_key,
    sorted_index_label_key,
    sorted_index_label_prefix,
    sorted_index_labels_prefix,
    sorted_index_record_key,
)

# Payload name -> model; the JSON Schemas are exported with the events' (``samx dev export-schemas``).
ALL_PAYLOADS: dict[str, type[BaseModel]] = {
    "labelset": LabelSetDocument,
    "quarantine": QuarantineRecord,
    "radiograph_record": RadiographRecord,
    "clusters": ClustersDocument,
    "assignments_row": AssignmentRow,
    "image_manifest": ImageManifest,
    "sorted_index_record": SortedIndexRecord,
    "sorted_index_job": SortedIndexJob,
}

__all__ = [
    "ALL_PAYLOADS",
    "QUARANTINE_PREFIX",
    "RADIOGRAPH_RECORD_PREFIX",
    "SORTED_INDEX_PREFIX",
    "AssignmentRow",
    "AssignmentsError",
    "ClusterSummary",
    "ClustersDocument",
    "ImageManifest",
    "LabelSetCluster",
    "LabelSetDecisions",
    "LabelSetDocument",
    "ManifestImage",
    "QuarantineRecord",
    "RadiographRecord",
    "SortedIndexJob",
    "SortedIndexRecord",
    "assignments_key",
    "backbone_key",
    "clusters_key",
    "derivative_key",
    "image_id_of_record_key",
    "image_id_of_sorted_key",
    "label_of_sorted_key",
    "label_set_key",
    "manifest_key",
    "patient_group",
    "quarantine_original_key",
    "quarantine_record_key",
    "radiograph_record_key",
    "radiograph_record_ref",
    "raw_key",
    "read_assignments",
    "run_prefix",
    "run_report_key",
    "short_body_part",
    "sorted_index_images_prefix",
    "sorted_index_job_key",
    "sorted_index_label_key",
    "sorted_index_label_prefix",
    "sorted_index_labels_prefix",
    "sorted_index_record_key",
    "thumbnail_key",
    "write_assignments",
]
