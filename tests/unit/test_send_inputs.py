"""What ``samx send`` sends and what it skips, with the reason the operator's table shows for each, and
how it reports a file that ingest could not handle at all."""

from __future__ import annotations

import re

import pytest
from rich.console import Console
from samx_cli.outcomes import MAX_SKIPPED_LISTED, IngestSummary, _dead_lettered_received_id, print_send_report
from samx_cli.sending import SkippedFile, collect_inputs
from samx_core.events import DeadLetter, RadiographReceived


def test_every_skipped_file_is_reported_with_its_reason(tmp_path):
    export = tmp_path / "export"
    for name in ("IM0001", "knee.dcm", "sub/hand.PNG", "DICOMDIR", "sub/dicomdir", "labels.csv", "README.md",
                 "notes.TXT", "meta.json", ".DS_Store", "Thumbs.db", "._knee.dcm", ".git/objects/ab"):  # fmt: skip
        (export / name).parent.mkdir(parents=True, exist_ok=True)
        (export / name).write_bytes(b"x")
    inputs = collect_inputs([export])
    assert [p.relative_to(export).as_posix() for p in inputs.files] == ["IM0001", "knee.dcm", "sub/hand.PNG"]
    why = {skip.name.removeprefix(f"{export}/"): skip.why for skip in inputs.skipped}
    assert why == {
        "DICOMDIR": "DICOMDIR: the index of a DICOM medium, not an image",
        "sub/dicomdir": "DICOMDIR: the index of a DICOM medium, not an image",
        "labels.csv": "a .csv note, not an image",
        "README.md": "a .md note, not an image",
        "notes.TXT": "a .txt note, not an image",
        "meta.json": "a .json note, not an image",
        ".DS_Store": "macOS folder metadata",
        "Thumbs.db": "Windows thumbnail cache",
        "._knee.dcm": "hidden file",
        ".git/objects/ab": "in a hidden folder",
    }


def test_a_file_named_on_the_command_line_is_judged_by_its_name_alone(tmp_path):
    hidden_folder = tmp_path / ".cache"
    hidden_folder.mkdir()
    (hidden_folder / "knee.png").write_bytes(b"x")
    (tmp_path / "report.txt").write_bytes(b"x")
    inputs = collect_inputs([hidden_folder / "knee.png", hidden_folder, tmp_path / "report.txt"])
    assert inputs.files == [hidden_folder / "knee.png", hidden_folder / "knee.png"]
    assert [(s.name, s.why) for s in inputs.skipped] == [(str(tmp_path / "report.txt"), "a .txt note, not an image")]
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        collect_inputs([tmp_path / "missing"])


def test_a_dead_lettered_file_is_reported_as_failed_and_fails_the_run(tmp_path):
    """A received event that ingest could not handle at all comes back as a dead letter holding it: the
    operator sees that file as failed at once, instead of waiting for the timeout."""
    path = tmp_path / "knee.png"
    event = RadiographReceived(site_id="s", sha256="0" * 64, size_bytes=1, inline_data=b"x")
    letter = DeadLetter(
        consumer_group="t-ingest",
        original_topic=f"t.{RadiographReceived.TOPIC}",
        partition=0,
        offset=7,
        value=event.to_bytes(),
        reason="handler_error",
        error_type="RuntimeError",
        detail="boom",
    )
    assert _dead_lettered_received_id(letter) == event.event_id
    assert _dead_lettered_received_id(letter.model_copy(update={"value": b"{}"})) is None
    summary = IngestSummary(sent=1, missing=1, dead_lettered={event.event_id: "handler_error"})
    console = Console(record=True, width=300)
    skipped = [SkippedFile(f"note-{i}.txt", "a .txt note, not an image") for i in range(MAX_SKIPPED_LISTED + 5)]
    code = print_send_report(
        console, sent=[(path, event)], skipped=skipped, summary=summary, timeout_s=60, archive_bucket="archive"
    )
    text = console.export_text()
    assert code == 1
    assert re.search(rf"{re.escape(str(path))}\s*│\s*failed\s*│ ingest could not handle it \(handler_error\)", text)
    assert "no outcome within" not in text, "a dead letter is an outcome of its own, not a timeout"
    assert "... 5 more" in text and f"note-{MAX_SKIPPED_LISTED - 1}.txt" in text
    assert f"note-{MAX_SKIPPED_LISTED}.txt" not in text
