"""Handing radiographs to SAM-X: the sending side of the claim check.

Used by ``samx send`` and by the DICOM C-STORE receiver. Small files may travel inline in the event;
anything larger is put into the incoming bucket first and the event carries a reference to it. Object
keys are made from the event id, never from a file name (names of exported files often hold patient
names)."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import UTC, datetime

import pydicom
from opentelemetry import trace
from pydicom.errors import InvalidDicomError

from samx_core.bus.producer import EventPublisher
from samx_core.events import MAX_INLINE_BYTES, ObjectRef, RadiographReceived
from samx_core.storage import ObjectStore
from samx_core.telemetry import span as traced


class RadiographSender:
    def __init__(
        self,
        store: ObjectStore,
        publisher: EventPublisher,
        *,
        incoming_bucket: str,
        site_id: str,
        sent_by: str,
        inline_max_bytes: int = 64 * 1024,
    ) -> None:
        if inline_max_bytes > MAX_INLINE_BYTES:
            raise ValueError(f"inline_max_bytes may be at most {MAX_INLINE_BYTES}")
        self._store = store
        self._publisher = publisher
        self._bucket = incoming_bucket
        self._site_id = site_id
        self._sent_by = sent_by
        self._inline_max = inline_max_bytes

    def send(self, data: bytes, *, content_type: str | None = None, wait: bool = False) -> RadiographReceived:
        """Stores (if needed) and announces one file. Without ``wait`` the event is published
        asynchronously: call ``flush`` before reporting success to a user. ``wait`` returns only once
        the broker has it (a C-STORE must not be acknowledged before that)."""
        with traced("radiograph send", kind=trace.SpanKind.CLIENT) as span:
            event_id = uuid.uuid4()
            digest = hashlib.sha256(data).hexdigest()
            span.set_attribute("samx.size_bytes", len(data))
            inline_data: bytes | None = None
            claim_check: ObjectRef | None = None
            if len(data) <= self._inline_max:
                inline_data = data
            else:
                day = datetime.now(UTC).strftime("%Y/%m/%d")
                stored = self._store.put_bytes(
                    self._bucket,
                    f"{self._site_id}/{day}/{event_id}",
                    data,
                    content_type=content_type or "application/octet-stream",
                    sha256=digest,
                )
                claim_check = stored.ref()
            event = RadiographReceived(
                event_id=event_id,
                site_id=self._site_id,
                sha256=digest,
                size_bytes=len(data),
                content_type=content_type,
                sent_by=self._sent_by,
                object=claim_check,
                inline_data=inline_data,
            )
            future = self._publisher.publish(event, key=partition_key(data, digest))
            if wait:
                future.get(timeout=30)
            return event

    def flush(self) -> None:
        """Returns once every event sent so far is acknowledged; raises ``PublishFailedError`` if not."""
        self._publisher.flush()


def partition_key(data: bytes, content_sha256: str) -> str:
    """Kafka key of a received radiograph. Everything that ingest would treat as the same radiograph
    must land on the same partition, hence the same worker, one after the other: otherwise two
    encodings of one DICOM instance, handled at once by two workers, would both pass the duplicate
    check. So DICOM files are keyed by their SOP Instance UID (hashed), anything else by content."""
    if data[128:132] == b"DICM":
        try:
            header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=["SOPInstanceUID"])
            uid = str(header.get("SOPInstanceUID", "")).strip()
        except (InvalidDicomError, ValueError, EOFError, OSError):
            uid = ""  # unreadable headers are ingest's business; key by content
        if uid:
            return "sop-" + hashlib.sha256(uid.encode()).hexdigest()
    return content_sha256
