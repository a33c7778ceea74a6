"""The sorted index in the archive bucket, read and written by the sort, the reclassification job, the
browse routes and ``export``. Its layout, records and keys are a contract of their own
(``samx_core.archive.sorted_index``); this module only does the object-store round trips.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from samx_core.archive import (
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
from samx_core.storage import ObjectStore


class SortedIndex:
    def __init__(self, store: ObjectStore, bucket: str, *, read_threads: int = 8) -> None:
        self._store, self._bucket, self._threads = store, bucket, read_threads

    def put(self, record: SortedIndexRecord) -> None:
        version, image_id = record.model_version, record.image_id
        doc = record.model_dump(mode="json")
        self._store.put_json(self._bucket, sorted_index_label_key(version, record.label, image_id), doc)
        self._store.put_json(self._bucket, sorted_index_record_key(version, image_id), doc)  # last: marks it done

    def get(self, version: str, image_id: str) -> SortedIndexRecord | None:
        doc = self._store.get_json_or_none(self._bucket, sorted_index_record_key(version, image_id))
        return None if doc is None else SortedIndexRecord.model_validate(doc)

    def indexed_ids(self, version: str) -> set[str]:
        keys = self._store.list_keys(self._bucket, sorted_index_images_prefix(version))
        return {image_id for image_id in (image_id_of_sorted_key(k, version) for k in keys) if image_id}

    def by_label(
        self, version: str, label: str, *, offset: int = 0, limit: int = 100
    ) -> tuple[int, list[SortedIndexRecord]]:
        """(total, records[offset:offset+limit]) of one top-1 label, in image id order."""
        keys = sorted(self._store.list_keys(self._bucket, sorted_index_label_prefix(version, label)))
        return len(keys), self._read(keys[offset : offset + limit])

    def all(self, version: str) -> list[SortedIndexRecord]:
        return self._read(sorted(self._store.list_keys(self._bucket, sorted_index_images_prefix(version))))

    def counts(self, version: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key in self._store.list_keys(self._bucket, sorted_index_labels_prefix(version)):
            label = label_of_sorted_key(key, version)
            if label is not None:
                counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items()))

    def put_progress(self, progress: SortedIndexJob) -> None:
        self._store.put_json(
            self._bucket, sorted_index_job_key(progress.model_version), progress.model_dump(mode="json")
        )

    def progress(self, version: str) -> SortedIndexJob | None:
        doc = self._store.get_json_or_none(self._bucket, sorted_index_job_key(version))
        return None if doc is None else SortedIndexJob.model_validate(doc)

    def _read(self, keys: list[str]) -> list[SortedIndexRecord]:
        with ThreadPoolExecutor(self._threads) as pool:
            docs = list(pool.map(lambda k: self._store.get_json(self._bucket, k), keys))
        return [SortedIndexRecord.model_validate(d) for d in docs]
