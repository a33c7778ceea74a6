"""The radiograph archive on the object store (adapter for ``ports.RadiographArchive``).

Layout of the archive bucket::

    raw/<image_id>.<dcm|png|jpg>        the original, byte for byte
    derived/<image_id>.png              normalized single-channel PNG (8 or 16 bit)
    derived/<image_id>.thumb.png        8-bit thumbnail for the labeling UI
    meta/<image_id>.json                the record (the ``radiograph.ingested`` event as JSON;
                                        samx_core.archive.RadiographRecord; keys: samx_core.archive)
    index/sha256/<sha256>.json          DICOM content -> image id, index/sop/<sha256(SOP UID)>.json
                                        DICOM instance -> image id (samx_core.archive.ContentPointer)
    quarantine/<received event id>.bin + .json   rejected originals and why, with a non-identifying
                                        reference to the input (samx_core.archive.QuarantineRecord;
                                        expire: retention setting)
    outcomes/<received event id>.json   duplicate/rejected outcome of a received event, for its replays

Every key and payload is built and checked by ``samx_core.archive``; this module does the round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from samx_core.archive import (
    OUTCOMES_PREFIX,
    QUARANTINE_PREFIX,
    ContentPointer,
    QuarantineRecord,
    RadiographRecord,
    content_index_key,
    derivative_key,
    outcome_key,
    quarantine_original_key,
    quarantine_record_key,
    radiograph_record_key,
    radiograph_record_ref,
    raw_key,
    sop_index_key,
    thumbnail_key,
)
from samx_core.events import ObjectRef
from samx_core.storage import ObjectMissingError, ObjectStore


class ObjectStoreArchive:
    def __init__(self, store: ObjectStore, *, archive_bucket: str) -> None:
        self._store = store
        self._bucket = archive_bucket

    def fetch_incoming(self, ref: ObjectRef) -> bytes | None:
        try:
            return self._store.get_bytes(ref.bucket, ref.key)
        except ObjectMissingError:
            return None

    def find_record(self, image_id: str) -> dict | None:
        return cast("dict | None", self._store.get_json_or_none(self._bucket, radiograph_record_key(image_id)))

    def find_by_content(self, sha256: str) -> dict | None:
        return self._follow(content_index_key(sha256))

    def find_by_sop_instance(self, sop_instance_uid: str) -> dict | None:
        return self._follow(sop_index_key(sop_instance_uid))

    def _follow(self, index_key: str) -> dict | None:
        doc = self._store.get_json_or_none(self._bucket, index_key)
        return None if doc is None else self.find_record(ContentPointer.model_validate(doc).image_id)

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
        raw = self._store.put_bytes(
            self._bucket, raw_key(image_id, original_ext), original, content_type=original_type, sha256=sha256
        )
        derivative = self._store.put_bytes(
            self._bucket, derivative_key(image_id), derivative_png, content_type="image/png"
        )
        thumbnail = self._store.put_bytes(
            self._bucket, thumbnail_key(image_id), thumbnail_png, content_type="image/png"
        )
        return {"raw": raw.ref(), "derivative": derivative.ref(), "thumbnail": thumbnail.ref()}

    def record_ref(self, image_id: str) -> ObjectRef:
        return radiograph_record_ref(self._bucket, image_id)

    def store_record(
        self, image_id: str, record: dict, *, sha256: str, sop_instance_uid: str | None, index_content: bool
    ) -> None:
        # Through the payload's model: a record that would not read back is never written.
        checked = RadiographRecord.model_validate(record).model_dump(mode="json")
        self._store.put_json(self._bucket, radiograph_record_key(image_id), checked)
        pointer = ContentPointer(image_id=image_id).model_dump(mode="json")
        if index_content:
            self._store.put_json(self._bucket, content_index_key(sha256), pointer)
        if sop_instance_uid:
            self._store.put_json(self._bucket, sop_index_key(sop_instance_uid), pointer)

    def quarantine(self, record: QuarantineRecord, data: bytes) -> ObjectRef:
        # Its own digest, not the event's: they differ when the reason is a checksum mismatch.
        stored = self._store.put_bytes(self._bucket, quarantine_original_key(record.received_event_id), data)
        original = stored.ref()
        # The record last: one that exists always points at bytes that do.
        self._store.put_json(
            self._bucket,
            quarantine_record_key(record.received_event_id),
            record.model_copy(update={"original": original}).model_dump(mode="json"),
        )
        return original

    def store_outcome(self, received_event_id: str, event: dict) -> None:
        self._store.put_json(self._bucket, outcome_key(received_event_id), event)

    def find_outcome(self, received_event_id: str) -> dict | None:
        return cast("dict | None", self._store.get_json_or_none(self._bucket, outcome_key(received_event_id)))

    def release_incoming(self, refs: Sequence[ObjectRef]) -> None:
        for bucket in sorted({ref.bucket for ref in refs}):
            self._store.delete_many(bucket, [ref.key for ref in refs if ref.bucket == bucket])

    def set_retention(self, incoming_bucket: str, *, quarantine_days: int, incoming_days: int) -> None:
        """Rejected originals and replay markers expire; so does a claim check nobody handled."""
        self._store.expire_after(self._bucket, {QUARANTINE_PREFIX: quarantine_days, OUTCOMES_PREFIX: incoming_days})
        self._store.expire_after(incoming_bucket, {"": incoming_days})
