"""Stored payloads that events point to (claim checks): one typed model and one key builder each, used by
the writer, every reader and the test fixtures alike, so that a change to a payload is a change to a type."""

from pydantic import BaseModel

from samx_core.archive.labelset import (
    LabelSetCluster,
    LabelSetDecisions,
    LabelSetDocument,
    label_set_key,
)
from samx_core.archive.quarantine import (
    QUARANTINE_PREFIX,
    QuarantineRecord,
    quarantine_original_key,
    quarantine_record_key,
)

# Payload name -> model; the JSON Schemas are exported with the events' (``samx dev export-schemas``).
ALL_PAYLOADS: dict[str, type[BaseModel]] = {"labelset": LabelSetDocument, "quarantine": QuarantineRecord}

__all__ = [
    "ALL_PAYLOADS",
    "QUARANTINE_PREFIX",
    "LabelSetCluster",
    "LabelSetDecisions",
    "LabelSetDocument",
    "QuarantineRecord",
    "label_set_key",
    "quarantine_original_key",
    "quarantine_record_key",
]
