"""samx_trainer.launch without servers: job names (one per run, valid for Ray and Kubernetes), what a job
runs, the settings a Ray job is handed, the event kept with a job, and the kuberay backend in dry-run."""

from __future__ import annotations

import json
import re
import socket

import pytest
import yaml
from pydantic_settings import BaseSettings, SettingsConfigDict
from samx_core.events import LabelsPublished, ObjectRef, Phase1Requested
from samx_trainer.launch.factory import settings_env
from samx_trainer.launch.kuberay import KubeRayLauncher, build_rayjob, status_of
from samx_trainer.launch.names import MAX_NAME, JobRequest, job_name
from samx_trainer.launch.port import JobState, Origin
from samx_trainer.launch.ray_jobs import RayJobsLauncher
from samx_trainer.settings import TrainerSettings

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def test_job_names_are_one_per_run_and_valid_names() -> None:
    runs = ["run-2026.11", "R_UPPER.case", "9-starts-with-a-digit", "x" * 64, "a"]
    names = set()
    for run in runs:
        for request in (JobRequest("phase1", run), JobRequest("phase2", run, 1), JobRequest("phase2", run, 2)):
            name = job_name(request)
            assert DNS_1035.fullmatch(name) and len(name) <= MAX_NAME, name
            assert name == job_name(
                JobRequest(request.phase, run, request.labelset_version, profile="gpu", n_clusters=9)
            )
            names.add(name)
    assert len(names) == 3 * len(runs)  # phase 1 and phase 2 of a run, and two label sets, never share one
    assert job_name(JobRequest("phase2", "r1", 3), base="Samx-Phase2").startswith("samx-phase2-")
    assert job_name(JobRequest("phase1", "r1"), base="123").startswith("job-123-")
    assert DNS_1035.fullmatch(job_name(JobRequest("phase1", "r1"), base="a" * 80))


def test_job_requests_refuse_what_no_run_can_be() -> None:
    with pytest.raises(ValueError, match="run id"):
        JobRequest("phase1", "bad run; rm -rf /")
    with pytest.raises(ValueError, match="label-set version"):
        JobRequest("phase2", "r1")
    with pytest.raises(ValueError, match="label-set version"):
        JobRequest("phase1", "r1", 2)
    assert JobRequest("phase2", "r1", 2).run_args() == ["--run-id", "r1", "--labelset-version", "2"]
    assert JobRequest("phase1", "r1", n_clusters=12).run_args() == ["--run-id", "r1", "--n-clusters", "12"]


def test_a_ray_job_gets_the_consumers_trainer_settings_back(monkeypatch: pytest.MonkeyPatch) -> None:
    given = TrainerSettings(num_workers=2, classifier_epochs=7, auto_promote=True, consumer_group="g1")
    env = settings_env(given)
    assert env["SAMX_TRAINER_AUTO_PROMOTE"] == "true" and "SAMX_TRAINER_N_CLUSTERS" not in env
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert TrainerSettings() == given


class _ListSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SAMX_T_")
    sizes: list[int] = [1]
    names: tuple[str, ...] = ()


def test_complex_settings_reach_the_job_as_json_and_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    given = _ListSettings(sizes=[64, 96], names=("a", "b c"))
    env = settings_env(given)
    assert env == {"SAMX_T_SIZES": "[64, 96]", "SAMX_T_NAMES": '["a", "b c"]'}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert _ListSettings() == given


def test_a_ray_head_that_does_not_answer_yet_is_a_retry_not_a_dead_consumer() -> None:
    """The consumer may start before the Ray head's dashboard answers (the stack coming up, a head pod
    restarting): making the launcher must not fail, and a submit is a ConnectionError, an OSError, which
    the consumer turns into a retry of the event."""
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    launcher = RayJobsLauncher(f"http://127.0.0.1:{port}", env={})
    with pytest.raises(ConnectionError) as raised:
        launcher.submit(JobRequest("phase1", "run-1"))
    assert isinstance(raised.value, OSError)


def test_kuberay_dry_run_prints_the_rayjob_and_follows_nothing(tmp_path, capsys) -> None:
    template = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "samx-phase2", "labels": {"samx.io/phase": "phase2"}},
        "spec": {"entrypoint": "samx-trainer phase2 --profile gpu", "submissionMode": "K8sJobMode"},
    }
    (tmp_path / "phase2.yaml").write_text(yaml.safe_dump(template))
    launcher = KubeRayLauncher(tmp_path, dry_run=True)
    submitted = launcher.submit(JobRequest("phase2", "run-7", 2, profile="ci"))
    job = json.loads(capsys.readouterr().out)
    assert submitted.created and job["metadata"]["name"] == submitted.name == job_name(
        JobRequest("phase2", "run-7", 2), base="samx-phase2"
    )
    assert job["spec"]["entrypoint"] == "samx-trainer phase2 --profile gpu --run-id run-7 --labelset-version 2"
    assert job["metadata"]["annotations"] == {"samx.io/run-id": "run-7", "samx.io/labelset-version": "2"}
    assert job["metadata"]["labels"] == {"samx.io/phase": "phase2", "samx.io/run": submitted.name.rsplit("-", 1)[1]}
    assert yaml.safe_load((tmp_path / "phase2.yaml").read_text()) == template  # the template is left as it is
    assert launcher.status(submitted.name).state is JobState.UNKNOWN
    assert launcher.unfinished() == []  # a dry run created nothing


def test_the_event_that_asked_for_a_job_is_kept_with_it_and_read_back() -> None:
    """A later consumer rebuilds the origin from the job's metadata or annotations; metadata it cannot
    read (a job submitted by hand, an event of another version) is no origin, not an error."""
    ref = ObjectRef(bucket="archive", key="labelsets/run-7/v2.json", sha256="0" * 64, size_bytes=10)
    published = LabelsPublished(
        run_id="run-7", labelset_version=2, labelset=ref, classes=["chest", "knee"], n_clusters_named=2,
        n_clusters_discarded=0, n_images_named=5, published_by="radiologist",
    )  # fmt: skip
    for event in (Phase1Requested(run_id="run-7", profile="ci", requested_by="ops"), published):
        origin = Origin("samx.v1.topic", event)
        for prefix in ("samx.", "samx.io/"):
            assert Origin.from_fields(origin.to_fields(prefix), prefix) == origin
    fields = Origin("t", published).to_fields("samx.")
    assert Origin.from_fields({}, "samx.") is None
    assert Origin.from_fields({**fields, "samx.event-type": "NoSuchEvent"}, "samx.") is None
    assert Origin.from_fields({**fields, "samx.event": '{"run_id": 5}'}, "samx.") is None
    template = {"metadata": {"name": "samx-phase2"}, "spec": {"entrypoint": "samx-trainer phase2 --profile gpu"}}
    job = build_rayjob(template, JobRequest("phase2", "run-7", 2), Origin("t", published))
    assert Origin.from_fields(job["metadata"]["annotations"], "samx.io/") == Origin("t", published)


def test_a_rayjob_state_from_its_status() -> None:
    assert status_of({}).state is JobState.PENDING  # the operator has not written a status yet
    assert status_of({"status": {"jobStatus": "RUNNING"}}).state is JobState.RUNNING
    failed = status_of({"status": {"jobStatus": "", "jobDeploymentStatus": "Failed", "reason": "SubmissionFailed"}})
    assert (failed.state, failed.reason_type) == (JobState.FAILED, "SubmissionFailed")
