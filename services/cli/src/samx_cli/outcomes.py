"""Waiting for what the ingest service made of the files we sent."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text
from samx_core.bus.reader import EventReader
from samx_core.events import DeadLetter, RadiographDuplicate, RadiographIngested, RadiographReceived, RadiographRejected

if TYPE_CHECKING:
    from samx_cli.sending import SkippedFile

# Dead letters too: a received event that ingest could not handle at all gets no outcome event, ever.
OUTCOME_TOPICS = [RadiographIngested.TOPIC, RadiographRejected.TOPIC, RadiographDuplicate.TOPIC, DeadLetter.TOPIC]

Outcome = RadiographIngested | RadiographDuplicate | RadiographRejected


@dataclass
class IngestSummary:
    sent: int
    ingested: set[str] = field(default_factory=set)  # image ids
    duplicates: int = 0
    rejected: Counter = field(default_factory=Counter)  # reason -> count
    seconds: float = 0.0
    missing: int = 0  # no outcome event: none before the timeout, or dead-lettered
    outcomes: dict[UUID, Outcome] = field(default_factory=dict)  # received event id -> its outcome
    dead_lettered: dict[UUID, str] = field(default_factory=dict)  # received event id -> dead-letter reason

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
            if isinstance(event, DeadLetter):
                received_id = _dead_lettered_received_id(event)
                if received_id in pending:
                    pending.discard(received_id)
                    summary.dead_lettered[received_id] = event.reason
                    progress.advance(task)
            elif isinstance(event, Outcome) and event.received_event_id in pending:
                pending.discard(event.received_event_id)
                summary.outcomes[event.received_event_id] = event
                if isinstance(event, RadiographIngested):
                    summary.ingested.add(event.image_id)
                elif isinstance(event, RadiographDuplicate):
                    summary.duplicates += 1
                else:
                    summary.rejected[event.reason.value] += 1
                progress.advance(task)
            if not pending:
                break
    summary.seconds = time.perf_counter() - started
    summary.missing = len(pending) + len(summary.dead_lettered)
    return summary


def _dead_lettered_received_id(letter: DeadLetter) -> UUID | None:
    """The received event a dead letter holds, if it holds one (a letter of another topic does not)."""
    if not letter.original_topic.endswith(RadiographReceived.TOPIC) or letter.value is None:
        return None
    try:
        return RadiographReceived.model_validate_json(letter.value).event_id
    except ValidationError:
        return None  # not even a valid event: nothing of ours


#: Skipped files listed one by one up to this many; an export with thousands of notes gets a count.
MAX_SKIPPED_LISTED = 100


def print_send_report(
    console: Console,
    *,
    sent: list[tuple[Path, RadiographReceived]],
    skipped: list[SkippedFile],
    summary: IngestSummary | None,
    timeout_s: float,
    archive_bucket: str,
) -> int:
    """The operator's table of ``samx send``: counts per outcome, then every file that needs a look
    (rejected, no outcome, skipped) by its local name, as plain text (a name is no console markup).
    Returns the exit code: 1 when any file was rejected or got no outcome, else 0 (duplicates are fine:
    re-sending is harmless)."""
    counts = Table("outcome", "files", title="samx send", title_justify="left")
    counts.add_row("sent", str(len(sent)))
    attention = Table("file", "outcome", "why", "received event", title="files to look at", title_justify="left")
    if summary is not None:
        counts.add_row("[green]ingested[/green] (new radiographs)", str(len(summary.ingested)))
        counts.add_row("duplicate (already archived)", str(summary.duplicates))
        for reason, count in sorted(summary.rejected.items()):
            counts.add_row(f"[red]rejected[/red]: {reason}", str(count))
        for path, event in sent:
            outcome = summary.outcomes.get(event.event_id)
            if isinstance(outcome, RadiographRejected):
                why = f"{outcome.reason.value}: {outcome.detail}"
                attention.add_row(Text(str(path)), "[red]rejected[/red]", Text(why), str(event.event_id))
            elif event.event_id in summary.dead_lettered:
                why = f"ingest could not handle it ({summary.dead_lettered[event.event_id]}); see its logs"
                attention.add_row(Text(str(path)), "[red]failed[/red]", Text(why), str(event.event_id))
            elif outcome is None:
                why = f"none within {timeout_s:.0f} s; it may still come (is an ingest worker running?)"
                attention.add_row(Text(str(path)), "[yellow]no outcome[/yellow]", Text(why), str(event.event_id))
        if summary.dead_lettered:
            counts.add_row("[red]failed in ingest[/red] (dead-lettered)", str(len(summary.dead_lettered)))
        if waiting := summary.missing - len(summary.dead_lettered):
            counts.add_row(f"[yellow]no outcome within {timeout_s:.0f} s[/yellow]", str(waiting))
        counts.add_row("time", f"{summary.seconds:.1f} s")
    counts.add_row("skipped (not sent)", str(len(skipped)))
    for skip in skipped[:MAX_SKIPPED_LISTED]:
        attention.add_row(Text(skip.name), "skipped", Text(skip.why), "-")
    if len(skipped) > MAX_SKIPPED_LISTED:
        attention.add_row(f"... {len(skipped) - MAX_SKIPPED_LISTED} more", "skipped", "", "-")
    console.print(counts)
    if attention.row_count:
        console.print(attention)
    if summary is None:
        if sent:
            console.print("not waiting for the outcomes (--no-wait): samx.radiograph.{ingested,duplicate,rejected}.v1")
        return 0
    if summary.rejected:
        console.print(
            f"rejected originals are kept for review: s3://{archive_bucket}/quarantine/<received event>.bin, "
            "with their record (.json) beside them"
        )
    return 1 if summary.rejected or summary.missing else 0
