"""The steps after ingest that ``samx demo`` chains: phase 1 -> naming the clusters (the labeling API's
suggestions, playing the radiologist) -> phase 2 (trainer, on ``labels.published``) -> serving -> every
radiograph classified. Each step talks to a service through its public interface (events, HTTP)."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from samx_core.bus import EventPublisher
from samx_core.bus.reader import EventReader
from samx_core.events import ClusteringCompleted, Event, ModelPublished, Phase1Requested, RadiographClassified
from samx_core.settings import KafkaSettings

from samx_cli.http_client import ServiceClient, ServiceError
from samx_cli.services import service_executable
from samx_cli.stack.components import NO_UV_HOOK_ENV


def new_run_id() -> str:
    """Same shape as the trainer's own run ids: sortable by time, unique."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def wait_for_event(reader: EventReader, match, *, timeout_s: float, what: str) -> Event:
    for event in reader.events(timeout_s=timeout_s):
        if match(event):
            return event
    raise TimeoutError(f"no {what} within {timeout_s:.0f} s")


def run_phase1(
    env: dict[str, str], kafka: KafkaSettings, profile: str, run_id: str, labels: Path
) -> ClusteringCompleted:
    """Phase 1 as its own process (the trainer's entry point, as a RayJob runs it), on the stack's Ray head."""
    command = [service_executable("samx-trainer"), "phase1", "--profile", profile, "--run-id", run_id]
    command += ["--labels", str(labels.resolve())] if labels.exists() else []
    with EventReader(kafka, [ClusteringCompleted.TOPIC]) as reader:
        child_env = {**os.environ, **NO_UV_HOOK_ENV, **env}
        rc = subprocess.run(command, env=child_env, check=False).returncode
        if rc != 0:
            raise RuntimeError(f"phase 1 failed (exit code {rc})")
        event = wait_for_event(reader, lambda e: e.run_id == run_id, timeout_s=60, what="clustering.completed")
    assert isinstance(event, ClusteringCompleted)
    return event


def request_phase1(kafka: KafkaSettings, profile: str, run_id: str, *, timeout_s: float) -> ClusteringCompleted:
    """Phase 1 through the event a deployment's launcher acts on (a RayJob there)."""
    with EventReader(kafka, [ClusteringCompleted.TOPIC]) as reader:
        with EventPublisher(kafka) as publisher:
            publisher.publish_and_wait(Phase1Requested(run_id=run_id, profile=profile, requested_by="samx-demo"))
        event = wait_for_event(reader, lambda e: e.run_id == run_id, timeout_s=timeout_s, what="clustering.completed")
    assert isinstance(event, ClusteringCompleted)
    return event


def known_labels_csv(data: Path) -> tuple[bytes, int]:
    """``labels.csv`` of a data folder (image path, labels) as the labeling service's upload: sha256, labels."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sha256", "labels"])
    rows = 0
    with (data / "labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            path = data / row["image"]
            if row.get("labels") and path.is_file():
                writer.writerow([hashlib.sha256(path.read_bytes()).hexdigest(), row["labels"]])
                rows += 1
    return out.getvalue().encode(), rows


def name_clusters_by_suggestions(labeling: ServiceClient, run_id: str, data: Path, console: Console) -> dict:
    """Plays the radiologist: waits for the run's labeling session, uploads the known labels as suggestions
    (majority name per cluster), accepts those at or above the service's agreement threshold, splits the
    clusters the service proposes to split (likely mixed) and names the parts that agree; what is still
    mixed is named after its suggestion with an explicit confirmation and flagged for a radiologist (the
    console lists them); publishes. Returns the published label set."""
    deadline = time.monotonic() + 120
    while True:
        try:
            labeling.get(f"/api/v1/runs/{run_id}")
            break
        except ServiceError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(1)
    body, rows = known_labels_csv(data)
    upload = labeling.post(f"/api/v1/runs/{run_id}/suggestions", body=body, content_type="text/csv")
    accepted = labeling.post(f"/api/v1/runs/{run_id}/suggestions/accept", {})
    split = split_mixed_clusters(labeling, run_id)
    if split["splits"]:
        console.print(
            f"unattended: split {split['splits']} likely mixed cluster(s) (under the agreement threshold) into "
            f"parts on their embeddings; {split['accepted']} part(s) agreed and were named"
        )
    flagged = name_and_flag_the_rest(labeling, run_id)
    if flagged:
        shown = ", ".join(str(c) for c in flagged[:10]) + (
            f" and {len(flagged) - 10} more" if len(flagged) > 10 else ""
        )
        console.print(
            f"[yellow]unattended: {len(flagged)} cluster(s) still under {accepted['min_share']:.0%} agreement after "
            f"the splits were named after their suggestion (confirmed) and flagged: a radiologist must check "
            f"clusters {shown}[/yellow]"
        )
    progress = labeling.get(f"/api/v1/runs/{run_id}/progress")
    console.print(
        f"unattended: the suggestions from {rows} known labels play the radiologist "
        f"({upload['clusters_suggested']} clusters suggested; {accepted['accepted'] + split['accepted']} named at "
        f"or above {accepted['min_share']:.0%} agreement, {len(flagged)} below it and flagged); progress {progress}"
    )
    left = progress["clusters"]["left"]
    if not left:
        return labeling.post(f"/api/v1/runs/{run_id}/publish", {})
    # A partly labeled folder leaves clusters that no known label speaks for: they stay undecided, for a
    # radiologist, and out of this label set (phase 2 trains on the named ones), instead of ending the run.
    images = progress["images"]["left"]
    console.print(f"unattended: {left} clusters ({images} radiographs) {undecided_clusters(labeling, run_id)}")
    return labeling.post(f"/api/v1/runs/{run_id}/publish?allow_incomplete=true", {})


def split_mixed_clusters(labeling: ServiceClient, run_id: str, rounds: int = 2) -> dict[str, int]:
    """Splits the clusters the service proposes to split (suggestions under the threshold) in two, and
    accepts the parts whose suggestions agree; a part still mixed is split once more (``rounds``)."""
    splits = accepted = 0
    for _ in range(rounds):
        page = labeling.get(f"/api/v1/runs/{run_id}/clusters?status=unlabeled&sort=agreement&order=asc&limit=1000")
        proposed = [c for c in page["items"] if c.get("split_proposed")]
        for cluster in proposed:
            try:
                labeling.post(
                    f"/api/v1/runs/{run_id}/clusters/{cluster['cluster']}/split",
                    {"version": cluster["version"], "parts": 2},
                )
                splits += 1
            except ServiceError as exc:  # its embeddings do not separate, or it changed: leave it as it is
                if exc.status not in (409, 422):
                    raise
        if not proposed:
            break
        accepted += labeling.post(f"/api/v1/runs/{run_id}/suggestions/accept", {})["accepted"]
    return {"splits": splits, "accepted": accepted}


def name_and_flag_the_rest(labeling: ServiceClient, run_id: str) -> list[int]:
    """Names the clusters still open that have a suggestion (under the threshold, so explicitly confirmed)
    and flags each for a radiologist's second look; returns their numbers. Phase 2 then learns from every
    cluster a known label speaks for, and the page lists what a radiologist must check (Show: flagged)."""
    page = labeling.get(f"/api/v1/runs/{run_id}/clusters?status=unlabeled&limit=1000")
    mixed = [c["cluster"] for c in page["items"] if c.get("suggestion") and c["size"]]
    if not mixed:
        return []
    labeling.post(f"/api/v1/runs/{run_id}/suggestions/accept", {"min_share": 0.0, "confirm_below_threshold": True})
    named = {
        c["cluster"]: c for c in labeling.get(f"/api/v1/runs/{run_id}/clusters?status=labeled&limit=1000")["items"]
    }
    for number in mixed:
        cluster = named.get(number)
        if cluster is not None and not cluster["flagged"]:
            labeling.post(
                f"/api/v1/runs/{run_id}/clusters/{number}/flag", {"version": cluster["version"], "flagged": True}
            )
    return mixed


def undecided_clusters(labeling: ServiceClient, run_id: str, shown: int = 10) -> str:
    """What a radiologist still has to look at: the largest clusters neither named nor discarded."""
    page = labeling.get(f"/api/v1/runs/{run_id}/clusters?status=unlabeled&sort=size&order=desc&limit={shown}")
    listed = ", ".join(f"{c['cluster']} ({c['size']})" for c in page["items"] if c["size"])
    more = "" if page["total"] <= shown else f" and {page['total'] - shown} more"
    return (
        f"have no known label to suggest a name and are left undecided for a radiologist, "
        f"out of this label set; "
        f"largest (cluster (radiographs)): {listed}{more}"
    )


def wait_for_all_classified(reader: EventReader, model_version: str, n_images: int, timeout_s: float) -> dict[str, str]:
    """image id -> top label, once every radiograph of the archive is classified by ``model_version``."""
    top: dict[str, str] = {}
    with Progress(TextColumn("classifying"), BarColumn(), MofNCompleteColumn()) as bar:
        task = bar.add_task("sort", total=n_images)
        for event in reader.events(timeout_s=timeout_s):
            if isinstance(event, RadiographClassified) and event.model_version == model_version:
                if event.image_id not in top:
                    bar.advance(task)
                top[event.image_id] = event.top[0].label
                if len(top) >= n_images:
                    break
    return top


def wait_for_model(reader: EventReader, run_id: str, timeout_s: float) -> ModelPublished:
    event = wait_for_event(reader, lambda e: e.run_id == run_id, timeout_s=timeout_s, what="model.published")
    assert isinstance(event, ModelPublished)
    return event
