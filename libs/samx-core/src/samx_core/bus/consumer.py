"""Consuming events at least once.

Offsets are committed only after the handler's work and every event it published are durable, so a
crash at any point re-delivers the message and never loses it. Handlers must therefore be idempotent.
Per message: a CONSUMER span continuing the producer's trace; a message that is not a valid event, or
that makes the handler fail, goes to the dead-letter topic whole; an infrastructure outage
(``RetryableError``) is retried with back-off and never dead-letters anything.

``concurrency`` > 1 handles the records of one poll in that many threads (for handlers that wait on the
network, such as the streaming sort's HTTP call): offsets still move only over a partition's records that
were all handled, so a stop mid-batch re-delivers the rest, and handlers (and ``on_outcome``) must be
thread-safe as well as idempotent. The order in which a partition's records are handled is then not their
order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata
from opentelemetry import trace
from pydantic import ValidationError

from samx_core.bus.errors import PublishFailedError, RetryableError
from samx_core.bus.producer import EventPublisher
from samx_core.bus.propagation import extract_context, headers_as_text
from samx_core.events import DeadLetter, Event
from samx_core.settings import KafkaSettings
from samx_core.telemetry import record_error
from samx_core.telemetry import span as traced

if TYPE_CHECKING:
    from kafka.consumer.fetcher import ConsumerRecord

log = logging.getLogger(__name__)


class HandlerOutcome(StrEnum):
    HANDLED = "handled"
    DEAD_LETTERED = "dead_lettered"


E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Subscription(Generic[E]):
    event_type: type[E]
    handler: Callable[[E], object]


class EventConsumer:
    """Runs handlers for the subscribed event types until ``stop`` is set."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        group_id: str,
        subscriptions: list[Subscription[Any]],  # each its own event type
        publisher: EventPublisher,
        max_batch: int = 64,
        max_backoff_s: float = 30.0,
        on_outcome: Callable[[str, HandlerOutcome, float], None] | None = None,
        on_batch_done: Callable[[], None] | None = None,
        concurrency: int = 1,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._routes = {settings.topic(s.event_type.TOPIC): s for s in subscriptions}
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix=group_id) if concurrency > 1 else None
        self._group_id = group_id
        self._publisher = publisher
        self._max_batch = max_batch
        self._max_backoff_s = max_backoff_s
        self._on_outcome = on_outcome or (lambda topic, outcome, seconds: None)
        # What handlers deferred to the end of a batch (ingest deletes its claim checks in one request)
        self._on_batch_done = on_batch_done
        self._consumer = KafkaConsumer(
            *self._routes,
            **settings.client_kwargs(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=int(settings.max_poll_interval_s * 1000),
            session_timeout_ms=int(settings.session_timeout_s * 1000),
            heartbeat_interval_ms=max(1, int(settings.session_timeout_s * 1000) // 5),
        )

    # -- the loop ---------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                batches = self._consumer.poll(timeout_ms=500, max_records=self._max_batch)
            except KafkaError as exc:  # broker restarting or unreachable: wait, never crash the worker
                log.warning("poll failed (%s); retrying", type(exc).__name__)
                stop.wait(1.0)
                continue
            records = [record for partition_records in batches.values() for record in partition_records]
            first = {partition: rs[0].offset for partition, rs in batches.items() if rs}
            done: dict[TopicPartition, OffsetAndMetadata] = {}
            held: set[TopicPartition] = set()  # a record not handled holds its partition's offset there
            for record, handled in zip(records, self._handle(records, stop), strict=True):
                partition = TopicPartition(record.topic, record.partition)
                if not handled:
                    held.add(partition)  # stopping mid-retry: this record and the rest stay uncommitted
                elif partition not in held:
                    done[partition] = OffsetAndMetadata(record.offset + 1, "", -1)
            if done:
                self._batch_done()
                self._commit(done, first)

    def _handle(self, records: list[ConsumerRecord], stop: threading.Event) -> list[bool]:
        """Whether each record was handled (False: asked to stop first), in the records' order."""
        if self._pool is not None:
            return list(self._pool.map(lambda record: self._process(record, stop), records))
        handled: list[bool] = []
        for record in records:
            handled.append(self._process(record, stop))
            if not handled[-1]:
                break  # the rest are not started: they stay uncommitted too
        return handled + [False] * (len(records) - len(handled))

    def _batch_done(self) -> None:
        if self._on_batch_done is None:
            return
        try:
            self._on_batch_done()
        except Exception as exc:  # deferred work is best effort by contract: the batch's outcomes stand
            log.warning("end-of-batch work failed (%s); continuing", type(exc).__name__)

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata], first: dict[TopicPartition, int]) -> None:
        try:
            self._publisher.flush()  # what the handlers published must be durable before we move on
        except PublishFailedError:
            log.warning("some outcome events were not acknowledged; re-processing the batch")
            for partition, offset in first.items():
                self._consumer.seek(partition, offset)
            return
        try:
            self._consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced under us: the new owner re-delivers these, and handlers are idempotent.
            log.warning("offset commit lost to a rebalance; messages will be re-delivered")
        except KafkaError as exc:
            # Broker unreachable: the work is durable, a later commit (offsets only grow) covers it, and a
            # restart before that re-delivers it to idempotent handlers.
            log.warning("offset commit failed (%s); continuing", type(exc).__name__)

    def _process(self, record: ConsumerRecord, stop: threading.Event) -> bool:
        """Returns False only when asked to stop before the record was handled."""
        route = self._routes[record.topic]
        parent = extract_context(record.headers)
        span_name = f"{record.topic} process"
        with traced(span_name, context=parent, kind=trace.SpanKind.CONSUMER) as span:
            span.set_attribute("messaging.system", "kafka")
            span.set_attribute("messaging.operation.type", "process")
            span.set_attribute("messaging.destination.name", record.topic)
            span.set_attribute("messaging.consumer.group.name", self._group_id)
            span.set_attribute("messaging.kafka.offset", record.offset)
            span.set_attribute("messaging.destination.partition.id", str(record.partition))
            started = time.perf_counter()
            try:
                event = route.event_type.from_bytes(record.value or b"")
            except (ValidationError, ValueError) as exc:
                self._dead_letter(record, "invalid_event", exc)
                self._on_outcome(record.topic, HandlerOutcome.DEAD_LETTERED, time.perf_counter() - started)
                return True
            span.set_attribute("messaging.message.id", str(event.event_id))
            backoff = 0.2
            while True:
                try:
                    route.handler(event)
                    self._on_outcome(record.topic, HandlerOutcome.HANDLED, time.perf_counter() - started)
                    return True
                except (RetryableError, KafkaError) as exc:
                    log.warning(
                        "retrying %s offset %s after %s: %s", record.topic, record.offset, type(exc).__name__, exc
                    )
                    if stop.wait(backoff):
                        return False
                    backoff = min(backoff * 2, self._max_backoff_s)
                except Exception as exc:  # a handler bug must not stop the stream: park the message
                    log.exception("handler failed on %s offset %s; dead-lettering", record.topic, record.offset)
                    record_error(span, exc)  # by type: handler messages can quote the event's content
                    self._dead_letter(record, "handler_error", exc)
                    self._on_outcome(record.topic, HandlerOutcome.DEAD_LETTERED, time.perf_counter() - started)
                    return True

    def _dead_letter(self, record: ConsumerRecord, reason: str, exc: Exception) -> None:
        self._publisher.publish(
            DeadLetter(
                consumer_group=self._group_id,
                original_topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                headers=headers_as_text(record.headers),
                reason=reason,
                error_type=type(exc).__name__,
                # Validation messages can echo input values: keep only the error locations and types.
                detail=_safe_detail(exc),
            ),
            key=f"{record.topic}:{record.partition}:{record.offset}",
        )

    # -- observability --------------------------------------------------------------------------------
    def lag(self) -> int:
        """Messages not yet consumed over the assigned partitions (for metrics and autoscaling)."""
        assigned = self._consumer.assignment()
        if not assigned:
            return 0
        ends = self._consumer.end_offsets(list(assigned))
        lag = 0
        for tp in assigned:
            position = self._consumer.position(tp)
            if position is None:
                raise RuntimeError(f"no fetch position yet for partition {tp.partition} of {tp.topic}")
            lag += max(0, ends[tp] - position)
        return lag

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._consumer.close()


def _safe_detail(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())[:2000]
    return f"{type(exc).__name__}"[:2000]
