"""Stable identifiers. An image id must not reveal anything about the patient, must be the same each
time the same radiograph arrives, and must be computable by any service from what the event carries."""

from __future__ import annotations

import hashlib

_ID_LENGTH = 32  # hex characters: 128 bits, collision-free at any archive size


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def image_id_for(*, sop_instance_uid: str | None, content_sha256: str) -> str:
    """The DICOM SOP Instance UID identifies a radiograph across re-encodings (a PACS may resend the
    same instance as JPEG 2000 after first sending it uncompressed), so it wins when present; PNG and
    JPEG exports only have their content."""
    basis = (
        f"sop:{sop_instance_uid.strip()}"
        if sop_instance_uid and sop_instance_uid.strip()
        else f"sha256:{content_sha256}"
    )
    return "img-" + hashlib.sha256(basis.encode()).hexdigest()[:_ID_LENGTH]


def opaque(value: str) -> str:
    """A short one-way token for logs and span attributes where a raw identifier would be identifying."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]
