"""Event -> training through the launcher on the real local stack: Kafka, MinIO and the stack's Ray head
(``samx stack up``'s, with its dashboard's Jobs API). The consumer's max.poll.interval is cut to 6 s and
the job takes longer than that: the run happens once, the event is committed while it runs, a replayed
event finds the job and starts none, and a failing job comes back as a dead letter with its reason, also
when the consumer that submitted it was stopped and another one started while the job ran.

The job's command is a stand-in that records its start and sleeps (phase 1 and phase 2 themselves are
tested in test_phase1.py / test_phase2.py); the submit path, the names and Ray's refusal of a second
submission id are the real ones."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from samx_core.bus import EventPublisher
from samx_core.bus.reader import EventReader
from samx_core.events import DeadLetter, Phase1Requested
from samx_core.storage import ObjectStore
from samx_trainer.consumer import TrainerConsumer
from samx_trainer.launch.names import JobRequest, job_name
from samx_trainer.launch.port import JobState
from samx_trainer.launch.settings import LauncherSettings
from samx_trainer.settings import RaySettings, Settings, TrainerSettings

pytestmark = pytest.mark.integration

RAY_DEFAULT_AGENT_PORT = 52365  # ray start's --dashboard-agent-listen-port default
POLL_INTERVAL_S = 6.0  # the broker's smallest session timeout; the job sleeps longer than this
JOB_SECONDS = 10
FAKE_TRAINER = """\
import sys, time
args = sys.argv[1:]
with open({marks!r}, "a") as marks:
    marks.write(" ".join(args) + "\\n")
run_id = args[args.index("--run-id") + 1]
if run_id.startswith("late-failing"):  # fails after its consumer was stopped
    time.sleep(2 * {seconds})
if "failing" in run_id:
    sys.exit(3)
time.sleep({seconds})
"""


@pytest.fixture(scope="module")
def ray_env(local_stack) -> Iterator[dict[str, str]]:
    """The stack's own Ray head (as ``samx demo`` uses it); the session's stack stops it at the end.

    Ray's default agent port is held meanwhile, as another Ray on the machine holds it (a second stack,
    the other test worker's ``ray.init``): the Jobs API must work on the head's own ports regardless."""
    with socket.socket() as other_ray:
        try:
            other_ray.bind(("127.0.0.1", RAY_DEFAULT_AGENT_PORT))
            other_ray.listen()
        except OSError:
            pass  # taken already: by another Ray, which is the case this stands for
        yield local_stack.up(("ray",))


def _until(condition, what: str, limit_s: float = 120) -> None:
    """A bound on waiting (no hang), not a speed requirement."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.5)


def _consumer_settings(ray_env, kafka_settings, s3_settings, namespace, tmp_path: Path) -> tuple[Settings, Path]:
    """The trainer consumer's settings with the stand-in trainer as the job's command, and where the
    stand-in records its starts."""
    # the consumer's group timing shorter than the run (the default poll interval is 10 minutes)
    short = {"max_poll_interval_s": POLL_INTERVAL_S, "session_timeout_s": POLL_INTERVAL_S}
    consumer_kafka = kafka_settings.model_copy(update=short)
    marks, script = tmp_path / "starts.txt", tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER.format(marks=str(marks), seconds=JOB_SECONDS))
    store, bucket = ObjectStore(s3_settings), s3_settings.archive_bucket
    store.ensure_buckets(bucket)
    store.put_json(bucket, "meta/one.json", {"image_id": "one"})  # the cheap check only asks "any record?"
    launcher_settings = LauncherSettings(
        backend="ray-jobs",
        ray_jobs_address=ray_env["SAMX_LAUNCHER_RAY_JOBS_ADDRESS"],
        ray_token_file=Path(ray_env["RAY_AUTH_TOKEN_PATH"]),  # the head's token, as the stack hands its drivers
        entrypoint=f"{sys.executable} {script}",
        track_every_s=1.0,
    )
    settings = Settings(
        TrainerSettings(consumer_group=f"{namespace}-trainer"),
        s3_settings,
        consumer_kafka,
        RaySettings(address=ray_env["SAMX_RAY_ADDRESS"]),
        launcher_settings,
    )
    return settings, marks


def test_a_run_longer_than_the_poll_interval_runs_once(ray_env, kafka_settings, s3_settings, namespace, tmp_path: Path):
    settings, marks = _consumer_settings(ray_env, kafka_settings, s3_settings, namespace, tmp_path)
    group = settings.trainer.consumer_group
    consumer = TrainerConsumer(settings, "ci")
    slow, failing = JobRequest("phase1", f"slow-{namespace}"), JobRequest("phase1", f"failing-{namespace}")
    with EventPublisher(kafka_settings) as publisher:
        for run_id in (slow.run_id, slow.run_id, failing.run_id):  # the second: a replay of the first
            publisher.publish_and_wait(Phase1Requested(run_id=run_id, profile="ci", requested_by="ops"), key=run_id)
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    worker.start()
    client = consumer.launcher.client  # type: ignore[attr-defined]  # the Ray Jobs API the launcher uses
    topic = kafka_settings.topic(Phase1Requested.TOPIC)
    try:
        with EventReader(kafka_settings, [DeadLetter.TOPIC], from_beginning=True) as reader:
            dead = next(iter(reader.events(timeout_s=180)), None)
        _until(lambda: client.get_job_status(job_name(slow)).is_terminal(), "the slow job's end", 180)
        # every message was committed by the one member that took them (no rebalance took them away)
        _until(lambda: _committed(kafka_settings, group, topic) == 3, "the three offsets committed")
        # the tracker polls every second: it sees the slow job's end at its next poll, not at once
        _until(lambda: consumer.tracker.pending() == [], "the tracker seeing both jobs end")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert str(client.get_job_status(job_name(slow))) == "SUCCEEDED"
    starts = marks.read_text().splitlines()
    assert sorted(starts) == sorted([f"phase1 --profile ci --run-id {r}" for r in (slow.run_id, failing.run_id)])
    assert dead is not None and (dead.reason, dead.error_type) == ("job_failed", "JOB_ENTRYPOINT_COMMAND_ERROR")
    assert (
        dead.headers["samx-job"] == job_name(failing)
        and Phase1Requested.from_bytes(dead.value).run_id == failing.run_id
    )
    assert [j.submission_id for j in client.list_jobs()].count(job_name(slow)) == 1
    # once more through the launcher, and straight at Ray: the name is taken, nothing runs again
    assert consumer.launcher.submit(slow).created is False
    assert consumer.launcher.status(job_name(slow)).state is JobState.SUCCEEDED
    with pytest.raises(RuntimeError, match="already exists"):
        client.submit_job(entrypoint="true", submission_id=job_name(slow))
    assert marks.read_text().splitlines() == starts


def test_a_job_of_a_stopped_consumer_is_followed_by_the_next_one(
    ray_env, kafka_settings, s3_settings, namespace, tmp_path: Path
):
    """The consumer that submitted a job stops while it runs (a restart, a pod rescheduled); the event is
    committed, so nothing redelivers it. The next consumer finds the job on the Ray head and, when it
    fails, dead-letters the event that asked for it."""
    settings, marks = _consumer_settings(ray_env, kafka_settings, s3_settings, namespace, tmp_path)
    late = JobRequest("phase1", f"late-failing-{namespace}")
    requested = Phase1Requested(run_id=late.run_id, profile="ci", requested_by="ops")
    first = TrainerConsumer(settings, "ci")  # creates the topics
    with EventPublisher(kafka_settings) as publisher:
        publisher.publish_and_wait(requested, key=late.run_id)
    stop = threading.Event()
    worker = threading.Thread(target=first.run, args=(stop,), daemon=True)
    worker.start()
    client = first.launcher.client  # type: ignore[attr-defined]
    try:
        _until(lambda: marks.exists() and late.run_id in marks.read_text(), "the job's start")
        _until(
            lambda: (
                _committed(kafka_settings, settings.trainer.consumer_group, kafka_settings.topic(Phase1Requested.TOPIC))
                == 1
            ),
            "the request committed",
        )
    finally:
        stop.set()
        worker.join(timeout=60)
    assert not worker.is_alive()
    assert not client.get_job_status(job_name(late)).is_terminal(), "the job ended before its consumer stopped"

    second = TrainerConsumer(settings, "ci")
    stop = threading.Event()
    worker = threading.Thread(target=second.run, args=(stop,), daemon=True)
    worker.start()
    try:
        _until(lambda: second.tracker.pending() == [job_name(late)], "the next consumer following the job", 60)
        with EventReader(kafka_settings, [DeadLetter.TOPIC], from_beginning=True) as reader:
            dead = next((d for d in reader.events(timeout_s=120) if d.headers.get("samx-job") == job_name(late)), None)
        _until(lambda: second.tracker.pending() == [], "the tracker seeing the job end")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert dead is not None and (dead.reason, dead.error_type) == ("job_failed", "JOB_ENTRYPOINT_COMMAND_ERROR")
    assert Phase1Requested.from_bytes(dead.value) == requested
    assert dead.original_topic == kafka_settings.topic(Phase1Requested.TOPIC)
    assert marks.read_text().splitlines() == [f"phase1 --profile ci --run-id {late.run_id}"]  # started once


def _committed(kafka_settings, group: str, topic: str) -> int:
    admin = KafkaAdminClient(**kafka_settings.client_kwargs())
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)
