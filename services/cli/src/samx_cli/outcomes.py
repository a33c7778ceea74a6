"""Waiting for what the ingest service made of the files we sent."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from samx_core.bus.reader import EventReader
from samx_core.events import RadiographDuplicate, RadiographIngested, RadiographRejected

OUTCOME_TOPICS = [RadiographIngested.TOPIC, RadiographRejected.TOPIC, RadiographDuplicate.TOPIC]


@dataclass
class IngestSummary:
    sent: int
    ingested: set[str] = field(default_factory=set)  # image ids
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0
    missing: int = 0

    @property
    def rate(self) -> float:
        return (len(self.ingested) + self.duplicates + sum(self.rejected.values())) / max(self.seconds, 1e-9)


def await_outcomes(
    reader: EventReader, sent_ids: set[UUID], *, started: float, timeout_s: float, show_progress: bool = True
) -> IngestSummary:
    """Reads outcome events until every sent event has one (replays of the same outcome count once)."""
    summary = IngestSummary(sent=len(sent_ids))
    pending = set(sent_ids)
    columns = (TextColumn("ingesting"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, disable=not show_progress) as progress:
        task = progress.add_task("ingest", total=len(sent_ids))
        for event in reader.events(timeout_s=timeout_s):
            if not isinstance(event, RadiographIngested | RadiographDuplicate | RadiographRejected):
                continue  # the reader reads OUTCOME_TOPICS, nothing else
            if event.received_event_id not in pending:
                continue
            pending.discard(event.received_event_id)
            if isinstance(event, RadiographIngested):
                summary.ingested.add(event.image_id)
            elif isinstance(event, RadiographDuplicate):
                summary.duplicates += 1
            elif isinstance(event, RadiographRejected):
                summary.rejected[event.reason.value] += 1
            progress.advance(task)
            if not pending:
                break
    summary.seconds = time.perf_counter() - started
    summary.missing = len(pending)
    return summary
