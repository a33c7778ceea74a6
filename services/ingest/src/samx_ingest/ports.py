"""What the ingest domain needs from the outside world. The MinIO and Kafka adapters implement these;
the domain (``pipeline.py``) never imports either."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from samx_core.archive import QuarantineRecord
from samx_core.events import Event, ObjectRef


class RadiographArchive(Protocol):
    def fetch_incoming(self, ref: ObjectRef) -> bytes | None:
        """The file behind a claim check, or None when it is not (or no longer) there."""

    def find_record(self, image_id: str) -> dict | None:
        """The stored record of this radiograph, if any."""

    def find_by_content(self, sha256: str) -> dict | None:
        """The stored record of the DICOM file with these exact bytes, if any (the content index)."""

    def find_by_sop_instance(self, sop_instance_uid: str) -> dict | None:
        """The stored record of this DICOM instance, if any."""

    def store_radiograph(
        self,
        image_id: str,
        *,
        original: bytes,
        original_ext: str,
        original_type: str,
        derivative_png: bytes,
        thumbnail_png: bytes,
        sha256: str,
    ) -> dict[str, ObjectRef]:
        """Stores original, derivative and thumbnail; returns refs keyed raw/derivative/thumbnail."""

    def record_ref(self, image_id: str) -> ObjectRef:
        """Where the metadata record of this radiograph lives (known before it is written)."""

    def store_record(
        self, image_id: str, record: dict, *, sha256: str, sop_instance_uid: str | None, index_content: bool
    ) -> None:
        """Writes the metadata record, then the lookup indexes (last, so an index never points at
        a half-written radiograph): the SOP Instance UID's if there is one, the content's if asked
        (DICOM only: a PNG or JPEG's record is found by the id its content gives)."""

    def quarantine(self, record: QuarantineRecord, data: bytes) -> ObjectRef:
        """Keeps a rejected original and its record (why, and which input it was) for a bounded time;
        returns where the original is."""

    def store_outcome(self, received_event_id: str, event: dict) -> None:
        """Remembers the duplicate or rejected outcome of a received event, for its replays."""

    def find_outcome(self, received_event_id: str) -> dict | None:
        """The duplicate or rejected outcome stored for this received event, if any."""

    def release_incoming(self, refs: Sequence[ObjectRef]) -> None:
        """Deletes claim-check objects whose outcomes are durable, in as few requests as the store
        allows (absent already: nothing to do)."""


class EventSink(Protocol):
    def publish(self, event: Event, *, key: str | None = None) -> object: ...
