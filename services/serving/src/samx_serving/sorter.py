"""The streaming sort: every ingested radiograph is classified with the served model, recorded in the
sorted index and announced as ``radiograph.classified``; a newly published model reclassifies the whole
archive (a resumable job with progress in the index).

Idempotent under at-least-once delivery: the classified event's id is derived from (image, version),
and index records are overwritten with the same content; a re-run job skips images already indexed
for its version."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Protocol

from opentelemetry import context as otel_context
from pydantic import ValidationError
from samx_core.archive import (
    RADIOGRAPH_RECORD_PREFIX,
    RadiographRecord,
    SortedIndexJob,
    SortedIndexRecord,
    image_id_of_record_key,
    radiograph_record_key,
    short_body_part,
)
from samx_core.bus import RetryableError
from samx_core.events import Event, ModelPublished, RadiographClassified, RadiographIngested
from samx_core.ids import opaque
from samx_core.storage import ObjectStore
from samx_core.telemetry import span as traced

from samx_serving.api_models import ArchivedRadiograph, Classification
from samx_serving.index import SortedIndex

log = logging.getLogger(__name__)
_NAMESPACE = uuid.UUID("0b9f5e3c-7d1a-4b8e-a6c2-3f4d5e6a7b8c")


class Classifier(Protocol):
    def classify_image(self, image_id: str, archived: ArchivedRadiograph | None = None) -> Classification: ...
    def served_version(self) -> str | None: ...


class EventSink(Protocol):
    def publish(self, event: Event, *, key: str | None = None) -> object: ...


class RadiographSorter:
    def __init__(
        self,
        classifier: Classifier,
        index: SortedIndex,
        events: EventSink,
        store: ObjectStore,
        archive_bucket: str,
        *,
        concurrency: int = 8,
        swap_timeout_s: float = 300.0,
    ) -> None:
        self._classifier, self._index, self._events = classifier, index, events
        self._store, self._bucket = store, archive_bucket
        self._concurrency, self._swap_timeout_s = concurrency, swap_timeout_s

    # -- one radiograph ---------------------------------------------------------------------------------
    def on_ingested(self, event: RadiographIngested) -> Classification:
        return self._sort(event.image_id, event)

    def _sort(
        self, image_id: str, ingested: RadiographIngested | None, parent: otel_context.Context | None = None
    ) -> Classification:
        """One radiograph, in a span of the trace it came in (the consumer's span of the ingested
        event, which continues that event's headers; or the reclassification job's, ``parent``, from a
        worker thread) so that the classified event carries that trace on. The ingested event (or its
        stored record) gives serving the derivative's place, so serving reads no record again."""
        with traced("radiograph sort", context=parent) as span:
            span.set_attribute("samx.image_id", image_id)
            archived = None
            if ingested is not None:
                body_part = short_body_part(ingested.tags)
                archived = ArchivedRadiograph(derivative=ingested.derivative, body_part_examined=body_part)
            result = self._classifier.classify_image(image_id, archived)
            span.set_attribute("samx.model_version", result.model_version)
            site_id, source_format = (ingested.site_id, ingested.source_format.value) if ingested else (None, None)
            self._record(image_id, site_id, source_format, result)
            return result

    def _record(self, image_id: str, site_id: str | None, source_format: str | None, result: Classification) -> None:
        best = result.top[0]
        self._index.put(
            SortedIndexRecord(
                image_id=image_id,
                model_version=result.model_version,
                label=best.label,
                probability=best.probability,
                top=result.top,
                flags=result.flags,
                site_id=site_id,
                source_format=source_format,
            )
        )
        self._events.publish(
            RadiographClassified(
                event_id=uuid.uuid5(_NAMESPACE, f"classified:{image_id}:{result.model_version}"),
                image_id=image_id,
                model_version=result.model_version,
                top=result.top,
                flags=result.flags,
            ),
            key=image_id,
        )

    # -- a new model: reclassify everything ---------------------------------------------------------------
    def on_model_published(self, event: ModelPublished, stop: threading.Event | None = None) -> SortedIndexJob:
        version = event.model_version
        self._wait_until_served(version, stop)
        return self.reclassify_all(version)

    def _wait_until_served(self, version: str, stop: threading.Event | None) -> None:
        deadline = time.monotonic() + self._swap_timeout_s
        while self._classifier.served_version() != version:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                raise RetryableError(f"serving does not serve {version} yet")  # the consumer retries later
            time.sleep(0.5)

    def reclassify_all(self, version: str) -> SortedIndexJob:
        keys = self._store.list_keys(self._bucket, RADIOGRAPH_RECORD_PREFIX)
        ids = sorted({i for i in map(image_id_of_record_key, keys) if i is not None})
        done_before = self._index.indexed_ids(version)
        todo = [i for i in ids if i not in done_before]
        started = datetime.now(UTC)
        progress = SortedIndexJob(
            model_version=version, state="running", total=len(ids), done=len(ids) - len(todo),
            started_at=started, updated_at=started,
        )  # fmt: skip
        self._index.put_progress(progress)
        log.info("reclassifying %d of %d radiographs with model %s", len(todo), len(ids), version)
        lock, last_write = threading.Lock(), time.monotonic()
        job_context = otel_context.get_current()  # the pool's threads do not inherit it

        def one(image_id: str) -> None:
            nonlocal progress, last_write
            failed = 0
            try:
                found = self._store.get_json_or_none(self._bucket, radiograph_record_key(image_id))
                record = RadiographRecord.model_validate(found) if found is not None else None
            except (ValueError, ValidationError):  # an unreadable record costs the index its site and format
                record = None
            try:
                self._sort(image_id, record, job_context)
            except (RetryableError, ValueError) as exc:
                failed = 1  # counted and logged; a re-run of the job picks it up again
                log.warning("reclassifying image %s failed: %s", opaque(image_id), type(exc).__name__)
            with lock:
                progress = progress.model_copy(
                    update={"done": progress.done + 1 - failed, "failed": progress.failed + failed,
                            "updated_at": datetime.now(UTC)}
                )  # fmt: skip
                if time.monotonic() - last_write > 1.0:
                    self._index.put_progress(progress)
                    last_write = time.monotonic()

        with ThreadPoolExecutor(self._concurrency) as pool:
            list(pool.map(one, todo))
        progress = progress.model_copy(update={"state": "done", "updated_at": datetime.now(UTC)})
        self._index.put_progress(progress)
        log.info("model %s: %d reclassified, %d failed", version, progress.done, progress.failed)
        return progress
