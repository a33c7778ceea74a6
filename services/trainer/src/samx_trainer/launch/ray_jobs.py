"""The local backend: a training run is a Ray job on the stack's Ray cluster (Ray Jobs API).

``submission_id`` is the job name. Ray keeps every submission id it has seen and refuses a second
submit of one (HTTP 400 "... already exists"), so a redelivered event that races past the lookup is
still refused: the run starts once. The job runs the trainer's own command (``samx-trainer phaseN``)
on the head with the consumer's settings as its environment.

The Jobs API client is made on first use, not with the launcher: the SDK connects when it is made, and a
consumer that starts while the Ray head is still coming up (or restarting) must wait for it, not exit.
Until the head answers, a submit raises ``ConnectionError`` and the consumer retries the event."""

from __future__ import annotations

import logging
import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from ray.job_submission import JobStatus as RayJobStatus
from ray.job_submission import JobSubmissionClient

from samx_trainer.launch.names import JobRequest, job_name
from samx_trainer.launch.port import JobState, JobStatus, Origin, Submitted, Unfinished

log = logging.getLogger(__name__)
METADATA_PREFIX = "samx."

_STATES = {
    RayJobStatus.PENDING: JobState.PENDING,
    RayJobStatus.RUNNING: JobState.RUNNING,
    RayJobStatus.SUCCEEDED: JobState.SUCCEEDED,
    RayJobStatus.FAILED: JobState.FAILED,
    RayJobStatus.STOPPED: JobState.STOPPED,
}


class RayJobsLauncher:
    backend = "ray-jobs"

    def __init__(
        self, address: str, env: Mapping[str, str], entrypoint: str | None = None, token_file: Path | None = None
    ) -> None:
        self.address = address
        # Ray reads its own auth settings once, at import; the token is handed over explicitly instead
        token_file = token_file or (
            Path(os.environ["RAY_AUTH_TOKEN_PATH"]) if "RAY_AUTH_TOKEN_PATH" in os.environ else None
        )
        self._headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"} if token_file else None
        self._client: JobSubmissionClient | None = None
        self.env = dict(env)
        self.entrypoint = entrypoint or shlex.join([sys.executable, "-m", "samx_trainer"])

    @property
    def client(self) -> JobSubmissionClient:
        if self._client is None:  # raises ConnectionError while the head's dashboard does not answer
            self._client = JobSubmissionClient(self.address, headers=self._headers)
        return self._client

    def command(self, request: JobRequest) -> str:
        return f"{self.entrypoint} {shlex.join([request.phase, '--profile', request.profile, *request.run_args()])}"

    def submit(self, request: JobRequest, origin: Origin | None = None) -> Submitted:
        name = job_name(request)
        if self._known(name):
            return Submitted(name, created=False)
        try:
            self.client.submit_job(
                entrypoint=self.command(request),
                submission_id=name,
                runtime_env={"env_vars": self.env},
                metadata={
                    f"{METADATA_PREFIX}phase": request.phase,
                    f"{METADATA_PREFIX}run-id": request.run_id,
                    **(origin.to_fields(METADATA_PREFIX) if origin else {}),
                },
            )
        except RuntimeError as exc:  # the SDK's form of an HTTP error; a duplicate id is a 400
            if "already exists" in str(exc):
                return Submitted(name, created=False)
            raise
        log.info("submitted Ray job %s (%s of run %s)", name, request.phase, request.run_id)
        return Submitted(name, created=True)

    def _known(self, name: str) -> bool:
        try:
            self.client.get_job_info(name)
        except RuntimeError as exc:
            if "404" in str(exc) or "does not exist" in str(exc):
                return False
            raise
        return True

    def status(self, name: str) -> JobStatus:
        try:
            info = self.client.get_job_info(name)
        except RuntimeError as exc:
            if "404" in str(exc) or "does not exist" in str(exc):
                return JobStatus(JobState.UNKNOWN)
            raise
        state = _STATES.get(info.status, JobState.UNKNOWN)
        reason = None
        if state is JobState.FAILED:
            # error_type is Ray's code (e.g. JOB_ENTRYPOINT_COMMAND_ERROR); info.message quotes the
            # job's output and stays out of logs and dead letters
            reason = str(info.error_type or "ray_job_failed")
        return JobStatus(state, reason)

    def unfinished(self) -> list[Unfinished]:
        out = []
        for info in self.client.list_jobs():
            origin = Origin.from_fields(info.metadata or {}, METADATA_PREFIX)
            state = _STATES.get(info.status, JobState.UNKNOWN)
            if origin is not None and info.submission_id and not state.terminal:
                out.append(Unfinished(info.submission_id, origin))
        return out
