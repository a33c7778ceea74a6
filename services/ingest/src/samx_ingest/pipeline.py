"""The ingest domain: one received file in, exactly one outcome out (ingested, duplicate or rejected).

Idempotent by construction, because Kafka delivers at least once:
- a radiograph's id comes from its SOP Instance UID (or its bytes), so a re-send maps to the same id;
- event ids of outcomes are derived from their inputs (uuid5), so a replay re-publishes the same event
  and consumers dedupe on ``event_id``;
- the stored record remembers which received event created it, which tells a replay (same event
  again, re-publish) from a duplicate (another event with the same radiograph).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from samx_core.archive import QuarantineRecord
from samx_core.events import ObjectRef, RadiographDuplicate, RadiographIngested, RadiographReceived, RadiographRejected
from samx_core.ids import image_id_for, opaque, sha256_hex
from samx_core.imaging import DecodedRadiograph, InputRejected, check_usable, decode_radiograph
from samx_core.imaging.derivatives import encode_derivative_png, encode_thumbnail_png
from samx_core.imaging.sniff import Sniffed, sniff
from samx_core.radiograph import RadiographTags, RejectReason, SourceFormat
from samx_core.telemetry import span as traced

from samx_ingest.deidentify import DeidentificationFailed, Deidentifier
from samx_ingest.ports import EventSink, RadiographArchive
from samx_ingest.settings import BurnedInPolicy, IdentifiablePolicy, IngestPolicy

log = logging.getLogger(__name__)

_OUTCOME_NAMESPACE = uuid.UUID("6f1c3a52-9d55-4c1e-9a0b-5a3d8f1e2b77")
_RELEASE_BATCH = 1000  # queued claim checks released at once even without a batch end (one DeleteObjects holds 1,000)
_EXTENSIONS = {
    SourceFormat.DICOM: ("dcm", "application/dicom"),
    SourceFormat.PNG: ("png", "image/png"),
    SourceFormat.JPEG: ("jpg", "image/jpeg"),
}


class Outcome(StrEnum):
    INGESTED = "ingested"
    REPLAYED = "replayed"  # the same received event again: its outcome re-published, nothing stored
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    reason: RejectReason | None = None


def _outcome_id(kind: str, basis: str) -> uuid.UUID:
    return uuid.uuid5(_OUTCOME_NAMESPACE, f"{kind}:{basis}")


def _quarantine_record(received: RadiographReceived, reason: RejectReason, detail: str) -> QuarantineRecord:
    """Which input it was, by what the sender knows of it (event id, digest, size, claim-check key), and
    nothing from inside the file: its header may be the identifying one that got it rejected."""
    return QuarantineRecord(
        reason=reason,
        detail=detail[:500],
        rejected_at=datetime.now(UTC),
        received_event_id=received.event_id,
        received_at=received.occurred_at,
        site_id=received.site_id,
        sent_by=received.sent_by,
        sha256=received.sha256,
        size_bytes=received.size_bytes,
        content_type=received.content_type,
        claim_check=received.object,
    )


class IngestPipeline:
    def __init__(self, archive: RadiographArchive, events: EventSink, policy: IngestPolicy) -> None:
        self._archive = archive
        self._events = events
        self._policy = policy
        self._claim_checks: list[ObjectRef] = []  # handled, not yet released
        # Built here, so that a worker without its secret stops at start, not at its first DICOM.
        self._deidentify = (
            Deidentifier(policy.deidentification_secret())
            if policy.identifiable is IdentifiablePolicy.DEIDENTIFY
            else None
        )

    def handle(self, received: RadiographReceived) -> IngestResult:
        data = self._read_payload(received)
        if data is None:
            return self._replay_or_missing(received)
        result = self._decide(received, data)
        # The outcome is durable now (record or quarantine in the archive; a replay re-publishes it from
        # there), so the claim check has served: the file as sent, identifying or not, leaves the bucket
        # with the others of its batch (one request for all, see release_claim_checks).
        if received.object is not None:
            self._claim_checks.append(received.object)
            if len(self._claim_checks) >= _RELEASE_BATCH:
                self.release_claim_checks()
        return result

    def release_claim_checks(self) -> None:
        """Deletes the claim checks of the inputs handled since the last call, in one request per bucket.
        The worker calls it after each consumed batch; on failure they stay queued for the next call (a
        worker that dies first leaves them to their replays, which release them, and to the incoming
        bucket's expiry)."""
        pending, self._claim_checks = self._claim_checks, []
        if not pending:
            return
        try:
            self._archive.release_incoming(pending)
        except Exception:
            self._claim_checks = pending + self._claim_checks
            raise

    def _decide(self, received: RadiographReceived, data: bytes) -> IngestResult:
        sha256 = sha256_hex(data)
        if sha256 != received.sha256:
            return self._reject(
                received, data, RejectReason.CHECKSUM_MISMATCH, "the file's SHA-256 differs from the one in the event"
            )
        existing = self._find_same_content(sha256, dicom=sniff(data) in (Sniffed.DICOM_PART10, Sniffed.DICOM_RAW))
        if existing is not None:
            return self._replay_or_duplicate(received, existing, matched_on="content")
        stored = data  # what the archive keeps: the de-identified file, or the one sent
        try:
            with traced("decode") as span:
                decoded = decode_radiograph(data, max_bytes=self._policy.max_object_bytes)
                span.set_attribute("samx.source_format", decoded.source_format.value)
            check_usable(decoded.pixels, min_side_px=self._policy.min_side_px)
            self._check_policy(decoded.tags)
            if self._deidentify is not None and decoded.source_format is SourceFormat.DICOM:
                stored, decoded = self._deidentified(data, decoded)
        except InputRejected as rejected:
            return self._reject(received, data, rejected.reason, rejected.detail)
        if decoded.tags.sop_instance_uid:
            existing = self._archive.find_by_sop_instance(decoded.tags.sop_instance_uid)
            if existing is not None:
                return self._replay_or_duplicate(received, existing, matched_on="sop_instance_uid")
        return self._store_and_announce(received, stored, sha256 if stored is data else sha256_hex(stored), decoded)

    # -- steps ----------------------------------------------------------------------------------------
    def _find_same_content(self, sha256: str, *, dicom: bool) -> dict | None:
        """The record of a radiograph with these exact bytes. A PNG or JPEG's id is its content's, so its
        record is one lookup away; a DICOM's id is its SOP Instance UID's, so its content needs the
        index (two lookups). Sniffed the way the decoder does, so a file is looked up where it was stored."""
        if dicom:
            return self._archive.find_by_content(sha256)
        return self._archive.find_record(image_id_for(sop_instance_uid=None, content_sha256=sha256))

    def _read_payload(self, received: RadiographReceived) -> bytes | None:
        if received.inline_data is not None:
            return received.inline_data
        assert received.object is not None  # the event model guarantees exactly one payload
        return self._archive.fetch_incoming(received.object)

    def _check_policy(self, tags: RadiographTags) -> None:
        if tags.modality is not None and tags.modality.upper() not in self._policy.allowed_modalities:
            raise InputRejected(
                RejectReason.MODALITY_NOT_ALLOWED,
                f"modality {tags.modality} is not a projection radiograph "
                f"(allowed: {', '.join(sorted(self._policy.allowed_modalities))})",
            )
        policy = self._policy.identifiable
        if policy is IdentifiablePolicy.ALLOW:
            return
        if policy is IdentifiablePolicy.REJECT and (tags.has_patient_name or tags.patient_identity_removed is not True):
            raise InputRejected(
                RejectReason.IDENTIFYING_DATA,
                "the header carries a patient name or is not marked as de-identified "
                "(PatientIdentityRemoved is not YES); pseudonymize before sending",
            )
        if tags.burned_in_annotation and self._policy.burned_in_annotation is BurnedInPolicy.REJECT:
            raise InputRejected(
                RejectReason.BURNED_IN_ANNOTATION,
                "the header says the pixels carry burned-in text (BurnedInAnnotation YES), which "
                "de-identification cannot remove; send a version without it",
            )

    def _deidentified(self, data: bytes, decoded: DecodedRadiograph) -> tuple[bytes, DecodedRadiograph]:
        """The file as it will be stored, and the radiograph with the stored file's identifiers."""
        assert self._deidentify is not None
        with traced("deidentify"):
            try:
                result = self._deidentify(data)
            except DeidentificationFailed as failed:
                raise InputRejected(RejectReason.DEIDENTIFICATION_FAILED, str(failed)) from None
        return result.data, replace(decoded, tags=decoded.tags.model_copy(update=result.tags_update))

    def _store_and_announce(
        self, received: RadiographReceived, stored: bytes, stored_sha256: str, decoded: DecodedRadiograph
    ) -> IngestResult:
        """The event's ``sha256`` is the file as sent (the dedupe key, and what the sender knows); the raw
        object's is that of ``stored``, which differs when ingest de-identified it."""
        sha256 = received.sha256
        image_id = image_id_for(sop_instance_uid=decoded.tags.sop_instance_uid, content_sha256=sha256)
        with traced("store") as span:
            span.set_attribute("samx.image", opaque(image_id))
            derivative = encode_derivative_png(decoded)
            thumbnail = encode_thumbnail_png(decoded, max_side=self._policy.thumbnail_side_px)
            ext, content_type = _EXTENSIONS[decoded.source_format]
            refs = self._archive.store_radiograph(
                image_id,
                original=stored,
                original_ext=ext,
                original_type=content_type,
                derivative_png=derivative,
                thumbnail_png=thumbnail,
                sha256=stored_sha256,
            )
            event = RadiographIngested(
                event_id=_outcome_id("ingested", image_id),
                image_id=image_id,
                received_event_id=received.event_id,
                site_id=received.site_id,
                sha256=sha256,
                source_format=decoded.source_format,
                tags=decoded.tags,
                raw=refs["raw"],
                derivative=refs["derivative"],
                thumbnail=refs["thumbnail"],
                metadata=self._archive.record_ref(image_id),
                derivative_bits=16 if decoded.pixels.dtype.itemsize == 2 else 8,
            )
            # The record is the event itself, so a replay can re-publish it without decoding again.
            self._archive.store_record(
                image_id,
                event.model_dump(mode="json"),
                sha256=sha256,
                sop_instance_uid=decoded.tags.sop_instance_uid,
                index_content=decoded.source_format is SourceFormat.DICOM,
            )
        self._events.publish(event, key=image_id)
        return IngestResult(Outcome.INGESTED)

    def _replay_or_duplicate(
        self, received: RadiographReceived, record: dict, *, matched_on: Literal["sop_instance_uid", "content"]
    ) -> IngestResult:
        if record["received_event_id"] == str(received.event_id):
            return self._republish(record)
        duplicate = RadiographDuplicate(
            event_id=_outcome_id("duplicate", str(received.event_id)),
            received_event_id=received.event_id,
            site_id=received.site_id,
            sha256=received.sha256,
            image_id=record["image_id"],
            matched_on=matched_on,
        )
        self._archive.store_outcome(str(received.event_id), duplicate.model_dump(mode="json"))
        self._events.publish(duplicate, key=record["image_id"])
        return IngestResult(Outcome.DUPLICATE)

    def _replay_or_missing(self, received: RadiographReceived) -> IngestResult:
        """No file behind the claim check: normally a replay of an event whose object was released once
        its outcome was durable, which is re-published from the archive as it was."""
        earlier = self._archive.find_outcome(str(received.event_id))
        if earlier is not None:
            kind = RadiographDuplicate if earlier.get("matched_on") else RadiographRejected
            event = kind.model_validate(earlier)
            self._events.publish(event, key=earlier.get("image_id") or received.sha256)
            return IngestResult(Outcome.REPLAYED)
        # No bytes to sniff, so both places (rare: a replay after the claim check was released).
        record = self._find_same_content(received.sha256, dicom=False)
        if record is None:
            record = self._find_same_content(received.sha256, dicom=True)
        if record is not None and record["received_event_id"] == str(received.event_id):
            return self._republish(record)
        return self._reject(
            received,
            None,
            RejectReason.OBJECT_MISSING,
            "the claim check points at an object that is not in the incoming bucket",
        )

    def _republish(self, record: dict) -> IngestResult:
        event = RadiographIngested.model_validate(record)
        self._events.publish(event, key=event.image_id)
        return IngestResult(Outcome.REPLAYED)

    def _reject(
        self, received: RadiographReceived, data: bytes | None, reason: RejectReason, detail: str
    ) -> IngestResult:
        quarantine_ref = None
        if data is not None:
            quarantine_ref = self._archive.quarantine(_quarantine_record(received, reason, detail), data)
        log.info("rejected a radiograph from site %s: %s", received.site_id, reason.value)
        rejected = RadiographRejected(
            event_id=_outcome_id("rejected", str(received.event_id)),
            received_event_id=received.event_id,
            site_id=received.site_id,
            sha256=received.sha256,
            reason=reason,
            detail=detail[:500],
            quarantine=quarantine_ref,
        )
        self._archive.store_outcome(str(received.event_id), rejected.model_dump(mode="json"))
        self._events.publish(rejected, key=received.sha256)
        return IngestResult(Outcome.REJECTED, reason)
