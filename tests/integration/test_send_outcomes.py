"""``samx send`` as an operator runs it, against real Kafka, MinIO and an ingest worker process: a folder
with a good radiograph, a copy of it, a broken file and files that are no radiographs. The table names
every file that needs a look (rejected with its reason, skipped and why, no outcome in time), the exit
code says whether any did, the quarantine record names its input by reference only, and the file names
(which often hold patient names) stay on the operator's console. ``samx stack status`` then lists the
worker it finds by its PID file, with its port and health, and notices when it is gone."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from samx_cli.stack.manager import LocalStack
from samx_core.archive import QuarantineRecord, quarantine_record_key
from samx_core.bus.reader import EventReader
from samx_core.events import RadiographReceived
from samx_core.radiograph import RejectReason
from samx_core.storage import ObjectStore

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "images"
# Exported file names often carry the patient's name: this one must reach nothing but the console.
MARKER = "doe-jane-19530412"
EVENT_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _samx(args: list[str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("samx") or str(Path(sys.executable).parent / "samx")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SAMX_")}
    return subprocess.run(
        [exe, *args],
        env={**clean, **env, "SAMX_HOME": str(home), "COLUMNS": "400"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _export_folder(root: Path) -> dict[str, Path]:
    """What a PACS export folder looks like: images, a copy, a broken file, an index and notes."""
    root.mkdir()
    good = sorted(SAMPLE.glob("*.png"))[0].read_bytes()
    noise = Image.fromarray(np.random.default_rng(7).integers(0, 255, (400, 400), dtype=np.uint8))
    big = io.BytesIO()
    noise.save(big, format="PNG")  # > 64 KiB: it travels by claim check, so its record names the key
    files = {
        "good": root / f"{MARKER}-knee.png",
        "copy": root / "copies" / f"{MARKER}-knee-again.png",
        "broken": root / f"{MARKER}-cut.png",
        "notes": root / "notes.txt",
        "index": root / "DICOMDIR",
        "hidden": root / f"._{MARKER}-knee.png",  # macOS's resource fork beside the image
        "system": root / ".DS_Store",
    }
    files["copy"].parent.mkdir()
    files["good"].write_bytes(good)
    files["copy"].write_bytes(good)
    files["broken"].write_bytes(big.getvalue()[: len(big.getvalue()) * 2 // 3])
    for name in ("notes", "index", "hidden", "system"):
        files[name].write_bytes(b"not an image\n")
    return files


def _row(output: str, path: Path | str) -> str:
    return next(line for line in output.splitlines() if str(path) in line)


def _count(output: str, label: str) -> int:
    """The number in the summary table's row that starts with ``label``."""
    row = next(line for line in output.splitlines() if line.strip(" │|").startswith(label))
    return int(re.findall(r"\d+", row)[-1])


def test_send_reports_every_outcome_and_exits_nonzero_on_a_rejection(
    tmp_path, local_stack, test_env, s3_settings, kafka_settings, ingest_workers
):
    ((worker, port),) = ingest_workers(1)
    files = _export_folder(tmp_path / "export")
    home = tmp_path / "home"
    with EventReader(kafka_settings, [RadiographReceived.TOPIC]) as received_topic:
        result = _samx(["send", str(tmp_path / "export"), "--timeout", "120"], test_env, home)
        received = list(received_topic.events(timeout_s=10, idle_s=2))
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # one file was rejected
    assert (_count(out, "sent"), _count(out, "ingested"), _count(out, "duplicate")) == (3, 1, 1), out
    assert (_count(out, "rejected: truncated"), _count(out, "skipped")) == (1, 4), out
    assert "rejected" in _row(out, files["broken"]) and "truncated" in _row(out, files["broken"])
    assert "hidden file" in _row(out, files["hidden"]) and "note" in _row(out, files["notes"])
    assert "macOS" in _row(out, files["system"])
    assert "DICOMDIR" in _row(out, files["index"]).split(str(files["index"]), 1)[1]
    assert not any(str(files[name]) in out for name in ("good", "copy")), "files that went well are counted"

    # The quarantine record names its input by what the sender knows of it, never by its name.
    broken_event = uuid.UUID(re.search(EVENT_ID, _row(out, files["broken"])).group())
    store = ObjectStore(s3_settings)
    record = QuarantineRecord.model_validate_json(
        store.get_bytes(s3_settings.archive_bucket, quarantine_record_key(broken_event))
    )
    sent = {event.event_id: event for event in received}
    assert set(sent) >= {broken_event} and len(received) == 3
    assert record.reason is RejectReason.TRUNCATED and record.sent_by == "samx-send"
    assert (record.sha256, record.size_bytes) == (sent[broken_event].sha256, files["broken"].stat().st_size)
    assert record.claim_check == sent[broken_event].object and record.claim_check is not None
    assert record.original is not None and store.get_bytes(record.original.bucket, record.original.key) == (
        files["broken"].read_bytes()
    )
    # File names went nowhere but this console: not into events, object keys or records, nor the log.
    everything = [event.model_dump_json() for event in received] + [record.model_dump_json()]
    everything += store.list_keys(s3_settings.archive_bucket, "") + [worker.log_file.read_text()]
    assert not any(MARKER in text for text in everything)

    # A re-send of what is archived already is a duplicate: nothing to look at, exit 0.
    again = _samx(["send", str(files["good"])], test_env, home)
    assert again.returncode == 0 and _count(again.stdout, "duplicate") == 1, again.stdout

    # `samx stack status` finds the worker by its PID file, with the port it was given and its readiness.
    (home / "stack").parent.mkdir(exist_ok=True)
    (home / "stack").symlink_to(local_stack.state_dir / test_env["SAMX_KAFKA_TOPIC_NAMESPACE"])
    status = _samx(["stack", "status"], test_env, home)
    row = _row(status.stdout, "ingest-0")
    assert status.returncode == 0, status.stdout
    row_pid = worker.pid()
    assert str(row_pid) in row and str(port) in row and "ready" in row and "yes" in row
    print(out, again.stdout, status.stdout, sep="\n")  # what the operator saw, for a failing run's report
    worker.kill_hard()
    (gone,) = LocalStack(local_stack.build_dir, home / "stack").status()
    assert (gone.name, gone.pid, gone.alive, gone.health, gone.healthy) == ("ingest-0", row_pid, False, "down", False)


def test_without_a_worker_files_time_out_and_no_wait_does_not_wait(tmp_path, test_env):
    good = sorted(SAMPLE.glob("*.png"))[1]
    home = tmp_path / "home"
    late = _samx(["send", str(good), "--timeout", "2"], test_env, home)  # nobody ingests this namespace
    assert late.returncode == 1 and "no outcome" in _row(late.stdout, good), late.stdout
    assert _count(late.stdout, "no outcome within 2 s") == 1, late.stdout
    quick = _samx(["send", str(good), "--no-wait"], test_env, home)
    assert quick.returncode == 0 and "--no-wait" in quick.stdout, quick.stdout


def test_stack_status_lists_the_components_with_their_ports_and_health(local_stack: LocalStack):
    rows = {row.name: row for row in local_stack.status()}
    config = json.loads(local_stack.config_file.read_text())
    for name in ("kafka", "minio"):
        assert rows[name].alive and rows[name].health == "ready", rows[name]
        assert rows[name].pid == local_stack.process(name).pid()
        assert rows[name].port == config[f"{name}_port"]
