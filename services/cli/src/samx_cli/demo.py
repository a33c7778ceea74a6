"""``samx demo``: the whole sorting pipeline on a data set, unattended.

Now: stack up -> ingest workers -> stream the data set in over Kafka -> wait for every outcome ->
summary. Phase 1, labeling, phase 2 and serving join this same command as they are built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from samx_core.bus.reader import EventReader
from samx_core.bus.topics import ensure_topics
from samx_core.events import ALL_EVENTS

from samx_cli.config import CliSettings, kafka_settings, s3_settings, stack_environment
from samx_cli.outcomes import OUTCOME_TOPICS, IngestSummary, await_outcomes
from samx_cli.runtime import open_sender
from samx_cli.sending import collect_files, send_files
from samx_cli.stack.manager import LocalStack
from samx_cli.workers import start_ingest_workers


def run_demo(
    settings: CliSettings,
    stack: LocalStack,
    *,
    data: Path,
    workers: int,
    keep_running: bool,
    timeout_s: float,
    console: Console,
    phase1_profile: str | None = "ci",
) -> int:
    if not data.is_dir():
        console.print(f"[red]no data folder at {data}[/red] (the bundled sample is data/sample)")
        return 2
    files = collect_files([data])
    steps = 4 if phase1_profile else 3
    console.rule(f"1/{steps} local stack")
    stack.up()
    env = stack_environment(settings)
    ensure_topics(kafka_settings(env), [event.TOPIC for event in ALL_EVENTS])
    console.rule(f"2/{steps} ingest: {workers} worker process(es)")
    started_workers = start_ingest_workers(settings.state_dir, env, workers)
    try:
        console.rule(f"3/{steps} streaming {len(files)} files from {data}")
        with EventReader(kafka_settings(env), OUTCOME_TOPICS) as reader:
            started = time.perf_counter()
            with open_sender(env, settings.site_id) as sender:
                sent = send_files(sender, files)
            summary = await_outcomes(reader, {event.event_id for event in sent}, started=started, timeout_s=timeout_s)
        _print_summary(console, summary, s3_settings(env).archive_bucket, env)
        if summary.missing:
            return 1
        if phase1_profile:
            console.rule(f"4/{steps} phase 1: clustering the archive ({phase1_profile} profile, Ray Train + SCAN)")
            return _run_phase1(env, phase1_profile, data / "labels.csv")
        return 0
    finally:
        if not keep_running:
            for process, _ in started_workers:
                process.stop()


def _run_phase1(env: dict[str, str], profile: str, labels: Path) -> int:
    """Phase 1 runs as its own process (the trainer service's entry point), on the stack's Ray head."""
    trainer = shutil.which("samx-trainer") or str(Path(sys.executable).parent / "samx-trainer")
    command = [trainer, "phase1", "--profile", profile]
    command += ["--labels", str(labels.resolve())] if labels.exists() else []
    # Ray workers on this machine share this venv; no per-worker 'uv run' environment.
    child_env = {**os.environ, "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", **env}
    return subprocess.run(command, env=child_env, check=False).returncode


def _print_summary(console: Console, summary: IngestSummary, bucket: str, env: dict[str, str]) -> None:
    table = Table(title="ingest summary", show_header=False)
    table.add_row("sent", str(summary.sent))
    table.add_row("ingested (new radiographs)", str(len(summary.ingested)))
    table.add_row("duplicates", str(summary.duplicates))
    table.add_row("rejected", str(sum(summary.rejected.values())))
    for reason, count in sorted(summary.rejected.items()):
        table.add_row(f"  {reason}", str(count))
    if summary.missing:
        table.add_row("[red]no outcome yet[/red]", str(summary.missing))
    table.add_row("time", f"{summary.seconds:.1f} s")
    table.add_row("rate", f"{summary.rate:.1f} radiographs/s end to end")
    console.print(table)
    console.print(f"objects: s3://{bucket}/ (raw/, derived/, meta/, quarantine/) at {env.get('SAMX_S3_ENDPOINT')}")
