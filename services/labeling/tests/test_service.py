"""``samx-labeling serve`` as a process on a real port with PostgreSQL: the clustering.completed
consumer opens a session once however often the event is replayed, bad events are dead-lettered, and
two labelers racing over real HTTP get one 200 and one 409."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from samx_cli.stack.ports import free_port, wait_until
from samx_cli.stack.processes import ManagedProcess
from samx_core.bus.reader import EventReader
from samx_core.events import ClusteringCompleted, DeadLetter, ObjectRef

from tests.support.phase1_fixture import publish_clustering_completed

from .conftest import TOKENS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
REPO_ROOT = Path(__file__).resolve().parents[3]
LENA, LARS = list(TOKENS)[1:3]


@dataclass(frozen=True)
class Service:
    url: str
    process: ManagedProcess
    group: str

    def get(self, path: str, token: str = LENA, **kwargs) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)


@pytest.fixture
def service(request, test_env, namespace, tmp_path, archive_s3, kafka_settings) -> Iterator[Service]:
    backend = getattr(request, "param", "postgresql")
    url = (f"sqlite:///{tmp_path}/labeling.db" if backend == "sqlite"
           else request.getfixturevalue("postgres_server").create_database())  # fmt: skip
    port, group = free_port(), f"{namespace}-labeling"
    process = ManagedProcess("labeling", tmp_path, tmp_path)
    env = {
        **test_env,
        # The fixture run's images live in the module's bucket; label sets go there too.
        "SAMX_S3_ARCHIVE_BUCKET": archive_s3.archive_bucket,
        "SAMX_LABELING_DATABASE_URL": url,
        "SAMX_LABELING_TOKENS": json.dumps(TOKENS),
        "SAMX_LABELING_CONSUMER_GROUP": group,
    }
    publish_clustering_completed(kafka_settings, _missing_artifacts_event(archive_s3.archive_bucket))  # makes the topic
    process.start([sys.executable, "-m", "samx_labeling", "serve", "--port", str(port)], env=env, cwd=REPO_ROOT)
    svc = Service(f"http://127.0.0.1:{port}", process, group)
    try:
        wait_until(lambda: httpx.get(f"{svc.url}/readyz", timeout=1).status_code == 200, timeout_s=90,
                   what="labeling service", alive=process.running, log_hint=f"; log: {process.log_file}")  # fmt: skip
        yield svc
    finally:
        process.stop()


def _missing_artifacts_event(bucket: str) -> ClusteringCompleted:
    def ref(name: str) -> ObjectRef:
        return ObjectRef(bucket=bucket, key=f"runs/phase1/gone/{name}")

    return ClusteringCompleted(
        run_id="gone", profile="ci", n_images=3, n_clusters=2, artifacts_prefix="runs/phase1/gone/",
        assignments=ref("assignments.csv"), clusters=ref("clusters.json"), embeddings=ref("embeddings.npy"),
        image_ids=ref("image_ids.json"), report=ref("report.md"),
    )  # fmt: skip


def _caught_up(kafka_settings, group: str) -> bool:
    """The consumer group has committed every message of the topic."""
    topic = kafka_settings.topic(ClusteringCompleted.TOPIC)
    # A consumer with the group id that never subscribes: it reads the group's offsets without joining.
    consumer = KafkaConsumer(**kafka_settings.client_kwargs(), group_id=group, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        ends = consumer.end_offsets(partitions)
        return bool(partitions) and all((consumer.committed(tp) or 0) == ends[tp] for tp in partitions)
    finally:
        consumer.close()


def test_consumer_opens_one_session_per_run_and_dead_letters_bad_events(service, phase1_run, kafka_settings):
    run_id = phase1_run.event.run_id
    publish_clustering_completed(kafka_settings, phase1_run.event)
    wait_until(lambda: any(r["run_id"] == run_id for r in service.get("/api/v1/runs").json()["items"]),
               timeout_s=60, what="the run's session", alive=service.process.running)  # fmt: skip
    cluster = service.get(f"/api/v1/runs/{run_id}/clusters", params={"limit": 1}).json()["items"][0]
    named = httpx.put(f"{service.url}/api/v1/runs/{run_id}/clusters/{cluster['cluster']}/label",
                      json={"label": "knee", "version": cluster["version"]},
                      headers={"Authorization": f"Bearer {LENA}"}, timeout=10)  # fmt: skip
    assert named.status_code == 200

    # Replays (at-least-once), and two events no consumer can use: not JSON, and artifacts that are gone.
    publish_clustering_completed(kafka_settings, phase1_run.event)
    publish_clustering_completed(kafka_settings, phase1_run.event)
    producer = KafkaProducer(**kafka_settings.client_kwargs())
    producer.send(kafka_settings.topic(ClusteringCompleted.TOPIC), b"{not an event").get(timeout=30)
    producer.close()
    wait_until(lambda: _caught_up(kafka_settings, service.group), timeout_s=60, what="the consumer to catch up",
               alive=service.process.running)  # fmt: skip

    runs = [r["run_id"] for r in service.get("/api/v1/runs").json()["items"]]
    assert runs == [run_id], "one session per run; the event with missing artifacts opened none"
    again = service.get(f"/api/v1/runs/{run_id}/clusters/{cluster['cluster']}").json()
    assert again["label"] == "knee" and again["version"] == cluster["version"] + 1, "a replay resets nothing"
    progress = service.get(f"/api/v1/runs/{run_id}/progress").json()
    assert progress["images"]["total"] == len(phase1_run.image_ids)
    assert progress["clusters"]["total"] == phase1_run.event.n_clusters

    with EventReader(kafka_settings, [DeadLetter.TOPIC], from_beginning=True) as reader:
        letters = [e for e in reader.events(timeout_s=20, idle_s=3) if e.consumer_group == service.group]
    assert sorted(d.reason for d in letters) == ["handler_error", "invalid_event"]


@pytest.mark.parametrize("service", ["sqlite", "postgresql"], indirect=True)
def test_two_labelers_racing_over_http_one_wins(service, phase1_run, kafka_settings):
    run_id = phase1_run.event.run_id
    publish_clustering_completed(kafka_settings, phase1_run.event)
    wait_until(lambda: any(r["run_id"] == run_id for r in service.get("/api/v1/runs").json()["items"]),
               timeout_s=60, what="the run's session", alive=service.process.running)  # fmt: skip
    clusters = service.get(f"/api/v1/runs/{run_id}/clusters", params={"limit": 8}).json()["items"]
    barrier, results = threading.Barrier(2), {}

    def label(token: str, name: str, cluster: dict) -> None:
        with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
            barrier.wait()
            url = f"/api/v1/runs/{run_id}/clusters/{cluster['cluster']}/label"
            results[(token, cluster["cluster"])] = client.put(url, json={"label": name, "version": cluster["version"]})

    for cluster in clusters:  # several rounds: the two requests really overlap in some of them
        threads = [threading.Thread(target=label, args=(LENA, "hand", cluster)),
                   threading.Thread(target=label, args=(LARS, "foot", cluster))]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(results[(token, cluster["cluster"])].status_code for token in (LENA, LARS))
        assert codes == [200, 409], codes
        final = service.get(f"/api/v1/runs/{run_id}/clusters/{cluster['cluster']}").json()
        winner = next(t for t in (LENA, LARS) if results[(t, cluster["cluster"])].status_code == 200)
        assert final["label"] == ("hand" if winner == LENA else "foot") and final["version"] == cluster["version"] + 1
