"""``samx send``: files or folders of radiographs into SAM-X, with a progress bar."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from samx_core.events import RadiographReceived
from samx_core.intake import RadiographSender

_SKIPPED_NAMES = {".DS_Store", "DICOMDIR", "Thumbs.db"}


def collect_files(paths: Iterable[Path]) -> list[Path]:
    """Files under the given paths, sorted, without hidden files, CSVs and notes. Extensions are not
    trusted (DICOM files often have none): the ingest service sniffs the bytes."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            candidates = [path]
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
        files += [
            p
            for p in candidates
            if not p.name.startswith(".")
            and p.name not in _SKIPPED_NAMES
            and p.suffix.lower() not in {".csv", ".md", ".txt", ".json"}
        ]
    return files


def send_files(sender: RadiographSender, files: list[Path], *, show_progress: bool = True) -> list[RadiographReceived]:
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
