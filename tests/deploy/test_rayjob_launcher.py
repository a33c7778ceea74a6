"""The trainer-launcher's script (charts/samx/files/rayjob_launcher.py) with the RayJob templates the
chart renders into its ConfigMap: the RayJob of a run, its command line, and (integration) its consumer
against the real local Kafka in dry-run mode."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.deploy.helm import CHART, Rendered, launcher_files, validate_crd


@pytest.fixture(scope="module")
def launcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rayjob_launcher", CHART / "files" / "rayjob_launcher.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_launcher_builds_the_run_rayjob(launcher: ModuleType, rendered: dict[str, Rendered]) -> None:
    template = yaml.safe_load(launcher_files(rendered["gpu"])["phase2.yaml"])
    job = launcher.build_rayjob(template, "phase2", "run-2026.11", 3)
    assert validate_crd(job) == []
    assert job["spec"]["entrypoint"] == "samx-trainer phase2 --profile gpu --run-id run-2026.11 --labelset-version 3"
    assert job["metadata"]["annotations"] == {"samx.io/run-id": "run-2026.11", "samx.io/labelset-version": "3"}
    again = launcher.build_rayjob(template, "phase2", "run-2026.11", 3)
    assert again["metadata"]["name"] == job["metadata"]["name"]  # a re-delivered event: the same job
    assert len(job["metadata"]["name"]) <= 51
    other = launcher.build_rayjob(template, "phase2", "run-2026.11", 4)
    assert other["metadata"]["name"] != job["metadata"]["name"]
    assert "--run-id" not in template["spec"]["entrypoint"]  # the template is left as it is
    phase1 = launcher.build_rayjob(yaml.safe_load(launcher_files(rendered["gpu"])["phase1.yaml"]), "phase1", "r1")
    assert phase1["spec"]["entrypoint"].endswith("--profile gpu --run-id r1")


def test_launcher_refuses_bad_commands(launcher: ModuleType, tmp_path: Path, rendered: dict[str, Rendered]) -> None:
    for name, text in launcher_files(rendered["kind"]).items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "SAMX_LAUNCHER_TEMPLATES": str(tmp_path), "SAMX_LAUNCHER_DRY_RUN": "1"}
    script = str(tmp_path / "rayjob_launcher.py")
    for argv in (["submit", "phase1", "bad run; rm -rf /"], ["submit", "phase2", "r1"], ["bogus"]):
        proc = subprocess.run([sys.executable, script, *argv], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and "usage:" in proc.stderr, argv
    proc = subprocess.run(
        [sys.executable, script, "submit", "phase1", "r-42"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    job = json.loads(proc.stdout)
    assert job["spec"]["entrypoint"] == "samx-trainer phase1 --profile ci --run-id r-42"
    assert validate_crd(job) == []


@pytest.mark.integration
def test_launcher_consumes_labels_published(
    rendered: dict[str, Rendered], test_env: dict[str, str], kafka_settings: Any, tmp_path: Path
) -> None:
    """The launcher as the chart mounts it, against the real local Kafka: a malformed message is
    dead-lettered, a labels.published event becomes its phase-2 RayJob (printed: dry run, no cluster)."""
    from kafka import KafkaProducer
    from samx_core.bus import EventPublisher, ensure_topics
    from samx_core.events import DeadLetter, LabelsPublished
    from samx_core.events.base import ObjectRef

    for name, text in launcher_files(rendered["kind"]).items():
        (tmp_path / name).write_text(text)
    ensure_topics(kafka_settings, [LabelsPublished.TOPIC, DeadLetter.TOPIC])
    producer = KafkaProducer(**kafka_settings.client_kwargs())
    # the same key as the event below: one partition, so the launcher meets the bad message first
    producer.send(kafka_settings.topic(LabelsPublished.TOPIC), b"{not json", key=b"run-7")
    producer.flush()
    producer.close()
    event = LabelsPublished(
        run_id="run-7",
        labelset_version=2,
        labelset=ObjectRef(bucket="samx-archive", key="runs/phase1/run-7/labelsets/v2.json"),
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
        "SAMX_LAUNCHER_TEMPLATES": str(tmp_path),
        "SAMX_LAUNCHER_DRY_RUN": "1",
        "SAMX_LAUNCHER_MAX_EVENTS": "2",
        "SAMX_LAUNCHER_CONSUMER_GROUP": f"{test_env['SAMX_KAFKA_TOPIC_NAMESPACE']}-launcher",
    }
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "rayjob_launcher.py"), "consume"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
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
