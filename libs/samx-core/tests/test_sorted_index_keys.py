"""The sorted index's keys (``samx_core.archive.sorted_index``): labels are free names ('thoracic spine',
'knee (lateral)', 'a/p') keyed as one safe segment, no key part reaches outside its folder, and what a
key names is read back from it."""

from __future__ import annotations

import pytest
from samx_core.archive import (
    SortedIndexRecord,
    image_id_of_sorted_key,
    label_of_sorted_key,
    sorted_index_job_key,
    sorted_index_label_key,
    sorted_index_record_key,
)
from samx_core.archive.sorted_index import sorted_index_label_part
from samx_core.events import ClassificationFlags, ScoredLabel

IMAGE, VERSION = "img-" + "0" * 31 + "1", "v3"


@pytest.mark.parametrize("label", ["thoracic spine", "knee (lateral)", "a/p", "hüfte", "..x", ".."])
def test_every_vocabulary_name_is_one_key_segment_and_reads_back(label):
    part = sorted_index_label_part(label)
    assert "/" not in part and " " not in part and part not in (".", "..")
    key = sorted_index_label_key(VERSION, label, IMAGE)
    assert key == f"index/classified/{VERSION}/labels/{part}/{IMAGE}.json"
    assert label_of_sorted_key(key, VERSION) == label


def test_empty_and_overlong_labels_are_refused():
    for label in ("", "x" * 65):
        with pytest.raises(ValueError, match="1 to 64"):
            sorted_index_label_part(label)


@pytest.mark.parametrize("part", ["../v1", "a/b", "", ".hidden", "x" * 65])
def test_versions_and_image_ids_that_would_leave_their_folder_are_refused(part):
    with pytest.raises(ValueError, match="cannot be part of an index key"):
        sorted_index_record_key(part, IMAGE)
    with pytest.raises(ValueError, match="cannot be part of an index key"):
        sorted_index_record_key(VERSION, part)
    with pytest.raises(ValueError, match="cannot be part of an index key"):
        sorted_index_job_key(part)


def test_record_keys_name_their_image_and_other_keys_name_none():
    assert image_id_of_sorted_key(sorted_index_record_key(VERSION, IMAGE), VERSION) == IMAGE
    assert image_id_of_sorted_key(sorted_index_record_key("v4", IMAGE), VERSION) is None  # another version
    assert image_id_of_sorted_key(sorted_index_job_key(VERSION), VERSION) is None
    assert label_of_sorted_key(sorted_index_record_key(VERSION, IMAGE), VERSION) is None


def test_a_record_round_trips_as_stored():
    record = SortedIndexRecord(
        image_id=IMAGE,
        model_version=VERSION,
        label="lumbar spine",
        probability=0.9,
        top=[ScoredLabel(label="lumbar spine", probability=0.9), ScoredLabel(label="pelvis", probability=0.05)],
        flags=ClassificationFlags(uncertain=False, not_msk=False, tag_mismatch=True),
    )
    assert SortedIndexRecord.model_validate(record.model_dump(mode="json")) == record
