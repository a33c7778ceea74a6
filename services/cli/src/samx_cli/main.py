"""``samx``: the front door. ``samx demo`` runs the sorting pipeline on the bundled sample."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from samx_core.bus import PublishFailedError, RetryableError

from samx_cli.config import get_cli_settings, stack_environment
from samx_cli.stack.components import NO_UV_HOOK_ENV
from samx_cli.stack.manager import ALL_COMPONENTS, LocalStack

app = typer.Typer(help="SAM-X: sort musculoskeletal radiographs by anatomical entity.", no_args_is_help=True)
stack_app = typer.Typer(help="The local stack: Kafka (KRaft), MinIO, Ray.", no_args_is_help=True)
dev_app = typer.Typer(help="Developer tasks.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(dev_app, name="dev")
console = Console()


def _stack() -> LocalStack:
    settings = get_cli_settings()
    return LocalStack(settings.build_dir, settings.state_dir, say=console.print)


@stack_app.command("up")
def stack_up(
    only: Annotated[str, typer.Option(help="Comma-separated subset of kafka,minio,ray")] = ",".join(ALL_COMPONENTS),
) -> None:
    """Build (once) and start the local stack; prints the environment services use."""
    components = tuple(c.strip() for c in only.split(",") if c.strip())
    unknown = set(components) - set(ALL_COMPONENTS)
    if unknown:
        raise typer.BadParameter(f"unknown components: {', '.join(sorted(unknown))}")
    stack = _stack()
    env = stack.up(components)
    console.print(f"stack is up; its settings are in {stack.env_file}")
    for key, value in env.items():
        console.print(f"  {key}={'***' if 'SECRET' in key else value}")


@stack_app.command("build")
def stack_build() -> None:
    """Build the stack's programs (Kafka jars by Maven, MinIO by go install) without starting them."""
    from samx_cli.stack.build import ensure_kafka, ensure_minio

    build_dir = get_cli_settings().build_dir
    console.print(f"kafka jars: {ensure_kafka(build_dir, console.print)}")
    console.print(f"minio: {ensure_minio(build_dir, console.print)}")


@stack_app.command("down")
def stack_down() -> None:
    """Stop exactly the processes 'stack up' started (by their PID files)."""
    stopped = _stack().down()
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@stack_app.command("status")
def stack_status() -> None:
    """Every process the stack started (Kafka, MinIO, Ray and the services against it) with PID, port and
    health. Exits 1 when one of them is down or not ready."""
    from rich.text import Text

    table = Table("process", "pid", "alive", "port", "health", "log")
    rows = _stack().status()
    for row in rows:
        health = Text(row.health, style="green" if row.health == "ready" else "" if row.healthy else "red")
        alive = "[green]yes[/green]" if row.alive else "[red]no[/red]"
        table.add_row(row.name, str(row.pid or "-"), alive, row.ports_text, health, str(row.log))
    console.print(table if rows else "nothing started yet: samx stack up (or samx demo) starts the stack")
    raise typer.Exit(0 if all(row.healthy for row in rows) else 1)


@app.command("send")
def send(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (DICOM, PNG, JPEG)")],
    site: Annotated[str | None, typer.Option(help="Site id of the sender")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for each file's outcome and report it")] = True,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Seconds to wait for outcomes (default: $SAMX_SEND_TIMEOUT_S or 300)")
    ] = None,
) -> None:
    """Send radiographs to SAM-X (claim check in the incoming bucket plus a received event), then report
    what became of each: ingested, duplicate, rejected and why, skipped. Exits 1 when any file was
    rejected or got no outcome in time."""
    from samx_core.telemetry import bootstrap_telemetry

    from samx_cli.outcomes import print_send_report
    from samx_cli.sending import SendSettings, collect_inputs, send_and_report

    # Each file's trace starts here (samx_core.intake); logging stays the console's.
    bootstrap_telemetry("samx-cli", log_records=False)
    settings = get_cli_settings()
    try:
        inputs = collect_inputs(paths)
    except FileNotFoundError as missing:
        raise typer.BadParameter(str(missing)) from None
    timeout_s = timeout or SendSettings().timeout_s
    if not inputs.files:
        print_send_report(console, sent=[], skipped=inputs.skipped, summary=None, timeout_s=0, archive_bucket="-")
        raise typer.BadParameter("no files to send under the given paths")
    try:
        env = stack_environment(settings)
        code = send_and_report(env, site or settings.site_id, inputs, wait=wait, timeout_s=timeout_s, console=console)
    except (RetryableError, PublishFailedError) as error:
        console.print(f"[red]sending stopped: {error}[/red]; files already announced are safe, re-sending is harmless")
        raise typer.Exit(1) from None
    raise typer.Exit(code)


@app.command("demo")
def demo(
    data: Annotated[Path, typer.Option(help="Folder of radiographs (with an optional labels.csv)")] = Path(
        "data/sample"
    ),
    workers: Annotated[int, typer.Option(min=1, max=8, help="Ingest worker processes")] = 2,
    keep_running: Annotated[bool, typer.Option(help="Leave the workers and stack running afterwards")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the ingest to finish")] = 600,
    phase1: Annotated[str, typer.Option(help="Phase-1 profile (ci|dev|gpu), or 'none' to stop after ingest")] = "ci",
) -> None:
    """Run the sorting pipeline on a data set (the bundled sample by default)."""
    from samx_core.telemetry import bootstrap_telemetry

    from samx_cli.demo import run_demo

    bootstrap_telemetry("samx-cli", log_records=False)  # the demo sends, as 'samx send' does
    settings = get_cli_settings()
    code = run_demo(
        settings,
        _stack(),
        data=data,
        workers=workers,
        keep_running=keep_running,
        timeout_s=timeout,
        console=console,
        phase1_profile=None if phase1 == "none" else phase1,
    )
    raise typer.Exit(code)


@app.command("phase1")
def phase1(
    profile: Annotated[str, typer.Option(help="ci | dev | gpu")] = "ci",
    labels: Annotated[Path | None, typer.Option(help="labels.csv with ground truth, for metrics")] = None,
    run_id: Annotated[str | None, typer.Option(help="Run id; the same id resumes from its last checkpoint")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Ray Train workers (SAMX_TRAINER_NUM_WORKERS)")] = None,
) -> None:
    """Phase 1: cluster the archive (SimCLR on Ray Train + SCAN) against the local stack's environment."""
    command = ["phase1", "--profile", profile]
    command += ["--labels", str(labels.resolve())] if labels else []
    command += ["--run-id", run_id] if run_id else []
    raise typer.Exit(_run_trainer(command, workers))


def _run_trainer(args: list[str], workers: int | None = None) -> int:
    """``samx-trainer ARGS`` against the local stack's environment (or the SAMX_* one set)."""
    import os
    import shutil
    import subprocess
    import sys

    # Ray workers on this machine share the CLI's venv; Ray's per-worker 'uv run' environment would only
    # rebuild it (a minute per run).
    env = {**NO_UV_HOOK_ENV, **os.environ, **stack_environment(get_cli_settings())}
    if workers:
        env["SAMX_TRAINER_NUM_WORKERS"] = str(workers)
    exe = shutil.which("samx-trainer") or str(Path(sys.executable).parent / "samx-trainer")
    return subprocess.run([exe, *args], env=env, check=False).returncode


@app.command("phase2")
def phase2(
    run_id: Annotated[str, typer.Option(help="Phase-1 run whose clusters the radiologist named")],
    labelset_version: Annotated[int, typer.Option(min=1, help="Version of that run's published label set")],
    profile: Annotated[str, typer.Option(help="ci | dev | gpu")] = "ci",
    promote: Annotated[bool, typer.Option(help="Promote the model and publish model.published")] = False,
    workers: Annotated[int | None, typer.Option(min=1, help="Ray Train workers (SAMX_TRAINER_NUM_WORKERS)")] = None,
) -> None:
    """Phase 2: train the classifier on a published label set (Ray Train) and register it."""
    args = ["phase2", "--run-id", run_id, "--labelset-version", str(labelset_version), "--profile", profile]
    raise typer.Exit(_run_trainer(args + (["--promote"] if promote else []), workers))


@app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Option(help="Folder with labels.csv (image, labels)")],
    model: Annotated[str, typer.Option(help="Registry version, or 'current'")] = "current",
) -> None:
    """Score a registered classifier on a labeled folder; prints JSON (top-1, top-2, per class)."""
    raise typer.Exit(_run_trainer(["evaluate", "--model", model, "--data", str(data.resolve())]))


@dev_app.command("export-schemas")
def export_schemas(directory: Path = Path("libs/samx-core/schemas")) -> None:
    """Regenerate the JSON Schemas of the event contracts."""
    from samx_core.events.schemas import write_schemas

    for path in write_schemas(directory):
        console.print(f"wrote {path}")


@app.command("env")
def env() -> None:
    """Print the SAMX_* environment of the local stack, as shell exports."""
    import shlex

    for key, value in stack_environment(get_cli_settings()).items():
        print(f"export {key}={shlex.quote(value)}")  # SAMX_SERVING_TOKENS is JSON
