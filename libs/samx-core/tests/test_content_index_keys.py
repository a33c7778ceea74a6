"""Ingest's lookups (``samx_core.archive.content_index``): no DICOM UID in a key name, content keys read
back, and an index entry that names no image is refused on read."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from samx_core.archive import (
    ContentPointer,
    content_index_key,
    outcome_key,
    sha256_of_content_index_key,
    sop_index_key,
)

UID = "1.2.826.0.1.3680043.8.498.10036150326276641158002573300029848125"


def test_an_instance_key_hides_its_uid_and_ignores_padding():
    key = sop_index_key(UID)
    assert UID not in key and key.startswith("index/sop/") and key.endswith(".json")
    assert sop_index_key(f" {UID} ") == key


def test_content_keys_read_back_and_other_keys_name_no_content():
    digest = "a" * 64
    assert sha256_of_content_index_key(content_index_key(digest)) == digest
    assert sha256_of_content_index_key(sop_index_key(UID)) is None
    assert sha256_of_content_index_key(outcome_key(uuid.UUID(int=1))) is None


def test_a_pointer_without_an_image_is_refused():
    assert ContentPointer.model_validate({"image_id": "img-1"}).image_id == "img-1"
    for doc in ({}, {"image_id": ""}):
        with pytest.raises(ValidationError):
            ContentPointer.model_validate(doc)
