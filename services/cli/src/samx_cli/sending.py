"""``samx send``: files or folders of radiographs into SAM-X, with a progress bar, then what became of each.

File names stay on the operator's machine: they are printed on this console and go nowhere else (not into
events, object keys, logs or metrics); what the services see of a file is its bytes, its digest and the
random id of the event that announced it."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from samx_core.bus.reader import EventReader
from samx_core.events import RadiographReceived
from samx_core.intake import RadiographSender

from samx_cli.config import kafka_settings, s3_settings
from samx_cli.outcomes import OUTCOME_TOPICS, IngestSummary, await_outcomes, print_send_report
from samx_cli.runtime import open_sender

_SYSTEM_FILES = {".DS_Store": "macOS folder metadata", "Thumbs.db": "Windows thumbnail cache"}
_NOTE_SUFFIXES = {".csv", ".md", ".txt", ".json"}


class SendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_SEND_", extra="ignore")

    timeout_s: float = Field(
        default=300.0, gt=0, description="Seconds to wait for the outcomes once the last file is sent"
    )


@dataclass(frozen=True)
class SkippedFile:
    name: str
    why: str


@dataclass
class CollectedInputs:
    """What ``samx send`` will send, and what it leaves out and why (named as the operator gave them)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def skip_reason(relative: Path) -> str | None:
    """Why a file is not sent, or None. Extensions are not trusted otherwise (DICOM files often have
    none): the ingest service sniffs the bytes and rejects what is not a radiograph, with a reason."""
    name = relative.name
    if name in _SYSTEM_FILES:
        return _SYSTEM_FILES[name]
    if name.startswith("."):
        return "hidden file"
    if any(part.startswith(".") for part in relative.parts[:-1]):
        return "in a hidden folder"
    if name.upper() == "DICOMDIR":
        return "DICOMDIR: the index of a DICOM medium, not an image"
    if relative.suffix.lower() in _NOTE_SUFFIXES:
        return f"a {relative.suffix.lower()} note, not an image"
    return None


def collect_inputs(paths: Iterable[Path]) -> CollectedInputs:
    """Files under the given paths, sorted, without hidden files, DICOMDIRs, CSVs and notes (each skip
    with its reason, for the operator's report)."""
    collected = CollectedInputs()
    for path in paths:
        if path.is_dir():
            candidates = [(p, p.relative_to(path)) for p in sorted(path.rglob("*")) if p.is_file()]
        elif path.is_file():
            candidates = [(path, Path(path.name))]
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
        for candidate, relative in candidates:
            why = skip_reason(relative)
            if why is None:
                collected.files.append(candidate)
            else:
                collected.skipped.append(SkippedFile(str(candidate), why))
    return collected


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """The files ``samx send`` (and the demo) would send; see ``collect_inputs`` for what is skipped."""
    return collect_inputs(paths).files


def send_files(sender: RadiographSender, files: list[Path], *, show_progress: bool = True) -> list[RadiographReceived]:
    """One received event per file, in the order of ``files``."""
    sent: list[RadiographReceived] = []
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not show_progress) as progress:
        task = progress.add_task("send", total=len(files))
        for path in files:
            content_type = mimetypes.guess_type(path.name)[0]
            sent.append(sender.send(path.read_bytes(), content_type=content_type))
            progress.advance(task)
    sender.flush()
    return sent


def send_and_report(
    env: dict[str, str], site_id: str, inputs: CollectedInputs, *, wait: bool, timeout_s: float, console: Console
) -> int:
    """Sends the files, waits (unless ``wait`` is off) until each has its outcome or ``timeout_s`` has
    passed since the last one went out, prints the operator's report and returns the exit code."""
    with open_sender(env, site_id) as sender:  # it creates the topics the reader needs
        # Subscribed before the first file goes out, so that no outcome can slip past.
        reader = EventReader(kafka_settings(env), OUTCOME_TOPICS) if wait else None
        try:
            started = time.perf_counter()
            sent = send_files(sender, inputs.files)
            summary: IngestSummary | None = None
            if reader is not None:
                summary = await_outcomes(
                    reader, {event.event_id for event in sent}, started=started, timeout_s=timeout_s
                )
        finally:
            if reader is not None:
                reader.close()
    return print_send_report(
        console,
        sent=list(zip(inputs.files, sent, strict=True)),
        skipped=inputs.skipped,
        summary=summary,
        timeout_s=timeout_s,
        archive_bucket=s3_settings(env).archive_bucket,
    )
