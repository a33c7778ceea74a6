"""Stored payloads that events point to (claim checks): one typed model and one key builder each, used by
the writer, every reader and the test fixtures alike, so that a change to a payload is a change to a type."""

from samx_core.archive.labelset import (
    LabelSetCluster,
    LabelSetDecisions,
    LabelSetDocument,
    label_set_key,
)

# Payload name -> model; the JSON Schemas are exported with the events' (``samx dev export-schemas``).
ALL_PAYLOADS = {"labelset": LabelSetDocument}

__all__ = ["ALL_PAYLOADS", "LabelSetCluster", "LabelSetDecisions", "LabelSetDocument", "label_set_key"]
