"""The trainer-launcher as the chart runs it (``samx-trainer launch consume``, the kuberay backend of
samx_trainer.launch) with the RayJob templates the chart renders into its ConfigMap: the RayJob of a run,
the operator's command line, and (integration) its consumer against the real local Kafka and MinIO in
dry-run mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from samx_trainer.launch.kuberay import KubeRayLauncher, build_rayjob
from samx_trainer.launch.names import JobRequest

from tests.deploy.helm import Rendered, launcher_files, validate_crd

TRAINER = [sys.executable, "-m", "samx_trainer"]


def test_launcher_builds_the_run_rayjob(rendered: dict[str, Rendered]) -> None:
    template = yaml.safe_load(launcher_files(rendered["gpu"])["phase2.yaml"])
    job = build_rayjob(template, JobRequest("phase2", "run-2026.11", 3))
    assert validate_crd(job) == []
    assert job["spec"]["entrypoint"] == "samx-trainer phase2 --profile gpu --run-id run-2026.11 --labelset-version 3"
    assert job["metadata"]["annotations"] == {"samx.io/run-id": "run-2026.11", "samx.io/labelset-version": "3"}
    assert job["metadata"]["name"].startswith(template["metadata"]["name"] + "-")
    again = build_rayjob(template, JobRequest("phase2", "run-2026.11", 3, profile="dev"))
    assert again == job  # a re-delivered event, whatever it asks: the same job; the profile is the template's
    assert len(job["metadata"]["name"]) <= 51
    other = build_rayjob(template, JobRequest("phase2", "run-2026.11", 4))
    assert other["metadata"]["name"] != job["metadata"]["name"]
    assert "--run-id" not in template["spec"]["entrypoint"]  # the template is left as it is
    phase1 = yaml.safe_load(launcher_files(rendered["gpu"])["phase1.yaml"])
    assert build_rayjob(phase1, JobRequest("phase1", "r1"))["spec"]["entrypoint"].endswith("--profile gpu --run-id r1")
    with_k = build_rayjob(phase1, JobRequest("phase1", "r1", n_clusters=12))
    assert with_k["spec"]["entrypoint"].endswith("--run-id r1 --n-clusters 12")
    assert with_k["metadata"]["name"] == build_rayjob(phase1, JobRequest("phase1", "r1"))["metadata"]["name"]


def test_launcher_dry_run_prints_the_rayjob(tmp_path: Path, rendered: dict[str, Rendered], capsys) -> None:
    for name, text in launcher_files(rendered["kind"]).items():
        (tmp_path / name).write_text(text)
    launcher = KubeRayLauncher(tmp_path, dry_run=True)
    submitted = launcher.submit(JobRequest("phase1", "r-42"))
    job = json.loads(capsys.readouterr().out)
    assert submitted.name == job["metadata"]["name"] and submitted.created
    assert job["spec"]["entrypoint"] == "samx-trainer phase1 --profile ci --run-id r-42"
    assert validate_crd(job) == []
    assert launcher.status(submitted.name).state == "unknown"  # a dry run creates nothing to follow


def test_launcher_refuses_bad_commands(
    tmp_path: Path, rendered: dict[str, Rendered], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """``samx-trainer launch`` as an operator runs it (in this process: a subprocess costs a trainer import)."""
    from samx_trainer.__main__ import main as trainer_main

    for name, text in launcher_files(rendered["kind"]).items():
        (tmp_path / name).write_text(text)
    for key, value in {
        "SAMX_LAUNCHER_BACKEND": "kuberay",
        "SAMX_LAUNCHER_TEMPLATES": str(tmp_path),
        "SAMX_LAUNCHER_DRY_RUN": "1",
        "SAMX_S3_ACCESS_KEY": "unused",
        "SAMX_S3_SECRET_KEY": "unused-in-a-dry-run",
    }.items():
        monkeypatch.setenv(key, value)
    for argv in (["phase1", "--run-id", "bad run; rm -rf /"], ["phase2", "--run-id", "r1"], ["bogus"]):
        with pytest.raises(SystemExit) as stopped:
            trainer_main(["launch", *argv])
        assert stopped.value.code == 2 and "usage:" in capsys.readouterr().err, argv
    assert trainer_main(["launch", "phase1", "--run-id", "r-42"]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    job = json.loads(line)
    assert job["spec"]["entrypoint"] == "samx-trainer phase1 --profile ci --run-id r-42"
    assert validate_crd(job) == []


@pytest.mark.integration
def test_launcher_consumes_labels_published(
    rendered: dict[str, Rendered], test_env: dict[str, str], kafka_settings: Any, s3_settings: Any, tmp_path: Path
) -> None:
    """The launcher as the chart runs it, against the real local Kafka and MinIO: a malformed message is
    dead-lettered, a labels.published event of a run that has its label set, assignments and backbone
    becomes its phase-2 RayJob (printed: dry run, no cluster)."""
    from kafka import KafkaProducer
    from samx_core.archive import LabelSetCluster, LabelSetDocument, label_set_key
    from samx_core.bus import EventPublisher, ensure_topics
    from samx_core.events import DeadLetter, LabelsPublished
    from samx_core.storage import ObjectStore

    for name, text in launcher_files(rendered["kind"]).items():
        (tmp_path / name).write_text(text)
    store, bucket = ObjectStore(s3_settings), s3_settings.archive_bucket
    store.ensure_buckets(bucket)
    clusters = [LabelSetCluster(cluster=0, label="hand"), LabelSetCluster(cluster=1, label="knee")]
    document = LabelSetDocument(run_id="run-7", version=2, published_by="radiologist-1", clusters=clusters)
    stored = store.put_json(bucket, label_set_key("run-7", 2), document.model_dump(mode="json"))
    for name in ("assignments.csv", "backbone.pt"):  # the launcher checks they are there, phase 2 reads them
        store.put_bytes(bucket, f"runs/phase1/run-7/{name}", b"x", content_type="application/octet-stream")
    ensure_topics(kafka_settings, [LabelsPublished.TOPIC, DeadLetter.TOPIC])
    producer = KafkaProducer(**kafka_settings.client_kwargs())
    # the same key as the event below: one partition, so the launcher meets the bad message first
    producer.send(kafka_settings.topic(LabelsPublished.TOPIC), b"{not json", key=b"run-7")
    producer.flush()
    producer.close()
    event = LabelsPublished(
        run_id="run-7",
        labelset_version=2,
        labelset=stored.ref(),
        classes=["hand", "knee"],
        n_clusters_named=2,
        n_clusters_discarded=0,
        n_images_named=40,
        published_by="radiologist-1",
    )
    with EventPublisher(kafka_settings) as publisher:
        publisher.publish_and_wait(event, key=event.run_id)
    env = {
        **os.environ,
        **test_env,
        "SAMX_LAUNCHER_BACKEND": "kuberay",
        "SAMX_LAUNCHER_TEMPLATES": str(tmp_path),
        "SAMX_LAUNCHER_DRY_RUN": "1",
        "SAMX_LAUNCHER_MAX_EVENTS": "2",
        "SAMX_LAUNCHER_CONSUMER_GROUP": f"{test_env['SAMX_KAFKA_TOPIC_NAMESPACE']}-launcher",
    }
    proc = subprocess.Popen(
        [*TRAINER, "launch", "consume"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith("{")]
    job = json.loads(line)
    assert validate_crd(job) == []
    assert job["spec"]["entrypoint"] == "samx-trainer phase2 --profile ci --run-id run-7 --labelset-version 2"
    from kafka import KafkaConsumer

    reader = KafkaConsumer(
        kafka_settings.topic(DeadLetter.TOPIC),
        **kafka_settings.client_kwargs(),
        auto_offset_reset="earliest",
        consumer_timeout_ms=15_000,
    )
    try:
        letter = DeadLetter.model_validate_json(next(iter(reader)).value)  # this test's namespace: ours only
    finally:
        reader.close()
    assert (letter.original_topic, letter.value) == (kafka_settings.topic(LabelsPublished.TOPIC), b"{not json")
