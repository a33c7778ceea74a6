"""``samx demo``: the whole sorting pipeline on a data set, unattended.

Stack up -> ingest workers -> stream the data set in over Kafka -> ingest summary -> phase 1 (Ray Train)
-> the labeling service names the clusters from the data set's known labels (suggestions accepted: the
unattended stand-in for the radiologist, and it says so) -> phase 2 on ``labels.published`` -> model
promoted -> Ray Serve -> every radiograph classified into the sorted index -> scores, URLs, curl lines."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from samx_core.bus.reader import EventReader
from samx_core.bus.topics import ensure_topics
from samx_core.events import ALL_EVENTS, ModelPublished, RadiographClassified

from samx_cli.config import CliSettings, kafka_settings, s3_settings, stack_environment
from samx_cli.http_client import ServiceClient
from samx_cli.outcomes import OUTCOME_TOPICS, IngestSummary, await_outcomes
from samx_cli.pipeline import (
    name_clusters_by_suggestions,
    new_run_id,
    request_phase1,
    run_phase1,
    wait_for_all_classified,
    wait_for_model,
)
from samx_cli.runtime import open_sender
from samx_cli.sending import collect_files, send_files
from samx_cli.services import (
    DeployedServices,
    LabelingAccess,
    deployed_services,
    start_labeling,
    start_serving,
    start_sorter,
    start_trainer_consumer,
)
from samx_cli.stack.manager import LocalStack
from samx_cli.stack.ports import free_port
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
    steps = Steps(console, 7 if phase1_profile else 3)
    steps.next("local stack: Kafka (KRaft), MinIO, Ray")
    external = deployed_services()
    if external is None:
        stack.up()
    else:
        console.print(f"services of a deployment: labeling {external.labeling_url}, serving {external.serving_url}")
    env = stack_environment(settings)
    ensure_topics(kafka_settings(env), [event.TOPIC for event in ALL_EVENTS])
    steps.next(f"ingest: {workers} worker process(es)")
    started_workers = start_ingest_workers(settings.state_dir, env, workers) if external is None else []
    try:
        steps.next(f"streaming {len(files)} files from {data}")
        with EventReader(kafka_settings(env), OUTCOME_TOPICS) as reader:
            started = time.perf_counter()
            with open_sender(env, settings.site_id) as sender:
                sent = send_files(sender, files)
            summary = await_outcomes(reader, {event.event_id for event in sent}, started=started, timeout_s=timeout_s)
        _print_summary(console, summary, s3_settings(env).archive_bucket, env)
        if summary.missing:
            return 1
        if phase1_profile:
            _run_method(settings, env, data, phase1_profile, steps, console, external)
        return 0
    finally:
        if not keep_running:
            for process, _ in started_workers:
                process.stop()


class Steps:
    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.done, self.t0 = console, total, 0, time.perf_counter()

    def next(self, title: str) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        self.console.rule(f"{self.done}/{self.total} {title}  [dim](+{elapsed:.0f} s)[/dim]")


def _run_method(
    settings: CliSettings,
    env: dict[str, str],
    data: Path,
    profile: str,
    steps: Steps,
    console: Console,
    external: DeployedServices | None,
) -> None:
    """Phase 1 -> naming -> phase 2 -> serving -> sorted index, each service in its own process."""
    kafka = kafka_settings(env)
    run_id = new_run_id()
    state = settings.state_dir
    steps.next(f"phase 1: clustering the archive ({profile} profile, Ray Train SimCLR + SCAN), run {run_id}")
    if external is None:
        serving_port = free_port()  # serving starts last; labeling is told where it will answer
        _, labeling = start_labeling(state, env, serving_url=f"http://127.0.0.1:{serving_port}")
        # labeling is up first: its consumer creates the session on clustering.completed
        start_trainer_consumer(state, env, profile)
        clustering = run_phase1(env, kafka, profile, run_id, data / "labels.csv")
    else:  # a deployment's launcher runs phase 1 as a RayJob on request
        labeling = LabelingAccess(external.labeling_url, external.labeling_token, external.labeling_token, None)
        clustering = request_phase1(kafka, profile, run_id, timeout_s=3600)
    console.print(
        f"{clustering.n_images} radiographs in {clustering.n_clusters} clusters; metrics {clustering.metrics}"
    )

    steps.next("naming the clusters (labeling service)")
    client = ServiceClient(labeling.url, labeling.labeler_token)
    with EventReader(kafka, [ModelPublished.TOPIC]) as models:
        labelset = name_clusters_by_suggestions(client, run_id, data, console)
        console.print(f"published label set v{labelset['version']}: classes {labelset.get('classes')}")

        steps.next(f"phase 2: label injection and the classifier ({profile} profile, Ray Train)")
        model = wait_for_model(models, run_id, timeout_s=1800)
    console.print(f"model {model.model_version} promoted: {model.metrics}")

    steps.next("serving: Ray Serve app (classify + Grad-CAM) and the streaming sort")
    with EventReader(kafka, [RadiographClassified.TOPIC], from_beginning=True) as classified:
        if external is None:
            _, serving_url = start_serving(state, env, port=serving_port)
            start_sorter(state, env, serving_url)
        else:
            serving_url = external.serving_url
        top = wait_for_all_classified(classified, model.model_version, clustering.n_images, timeout_s=900)
    _print_result(console, labeling, serving_url, model, top, data, env, external=external is not None)
    # For scripts and the e2e suite: where everything is, without parsing the console.
    result = {
        "run_id": run_id,
        "labelset_version": labelset["version"],
        "model_version": model.model_version,
        "model_metrics": model.metrics,
        "phase1_metrics": clustering.metrics,
        "n_images": clustering.n_images,
        "classified": len(top),
        "labeling_url": labeling.url,
        "labeling_tokens_file": str(labeling.tokens_file) if labeling.tokens_file else None,
        "serving_url": serving_url,
    }
    (state / "demo.json").write_text(json.dumps(result, indent=1))


def _print_result(
    console: Console, labeling, serving_url: str, model, top: dict[str, str], data: Path, env, *, external: bool
) -> None:
    steps_table = Table(title="the sorted archive", show_header=True)
    steps_table.add_column("region")
    steps_table.add_column("radiographs", justify="right")
    for label, count in Counter(top.values()).most_common():
        steps_table.add_row(label, str(count))
    console.print(steps_table)
    metrics = model.metrics
    console.print(
        "phase 2 scores (hold-out of the sample): "
        + ", ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items()) if isinstance(v, float))
    )
    sample = next(iter(sorted((data / "images").glob("*.png"))), None) if (data / "images").is_dir() else None
    image = sample or "<radiograph.dcm|png|jpg>"
    where = f"tokens in {labeling.tokens_file}" if labeling.tokens_file else "token from SAMX_LABELING_TOKEN"
    console.print(f"labeling page: {labeling.url}/  ({where})")
    # The token itself is not printed: the stack's is exported by `samx env`, a deployment's is its own.
    auth = '-H "Authorization: Bearer $SAMX_SERVING_CLIENT_TOKEN"'
    token_hint = "one of the deployment's SAMX_SERVING_TOKENS" if external else 'eval "$(uv run samx env)" sets it'
    console.print(f"serving token: $SAMX_SERVING_CLIENT_TOKEN ({token_hint})")
    console.print(
        f"classify: curl -s {auth} --data-binary @{image} -H 'Content-Type: image/png' {serving_url}/v1/classify"
    )
    console.print(
        f"explain:  curl -s {auth} --data-binary @{image} -H 'Content-Type: image/png' "
        f"'{serving_url}/v1/explain?format=png' -o gradcam.png"
    )
    console.print(
        f"sorted index: curl -s {auth} '{serving_url}/v1/index?label=<region>'; export: samx-serving export --out DIR"
    )
    bucket = env.get("SAMX_S3_ARCHIVE_BUCKET", "samx-archive")
    console.print(f"reports: s3://{bucket}/runs/phase1/<run>/report.md and runs/phase2/{model.model_version}/")
    console.print("services keep running; `make down` (samx stack down) stops them and the stack")


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
