"""The KubeRay backend: a training run is a RayJob created from the reviewed template of its phase.

It only creates RayJobs from the templates the chart renders (a platform team reviews exactly what
runs): it sets ``metadata.name`` (``job_name``; a second create of the same run is a 409 Conflict, so a
redelivered event is acknowledged without a second run) and appends the run's arguments to
``spec.entrypoint``. It talks to the Kubernetes API with the pod's ServiceAccount token; a dry run
prints each RayJob as JSON instead."""

from __future__ import annotations

import json
import logging
import os
import shlex
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # no stubs in the lock (PyYAML)

from samx_trainer.launch.names import JobRequest, job_name
from samx_trainer.launch.port import JobState, JobStatus, Origin, Submitted, Unfinished

log = logging.getLogger(__name__)
ANNOTATION_PREFIX = "samx.io/"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
#: RayJob .status.jobStatus (the Ray job inside) -> ours
_STATES = {
    "PENDING": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "STOPPED": JobState.STOPPED,
}


def build_rayjob(template: dict[str, Any], request: JobRequest, origin: Origin | None = None) -> dict[str, Any]:
    """The RayJob of one run from its phase's template (a copy; the template is left as it is), with the
    event that asked for it as annotations when given."""
    job: dict[str, Any] = json.loads(json.dumps(template))
    name = job_name(request, base=job["metadata"]["name"])
    job["metadata"]["name"] = name
    job["metadata"].setdefault("labels", {})["samx.io/run"] = name.rsplit("-", 1)[1]
    annotations = job["metadata"].setdefault("annotations", {})
    annotations["samx.io/run-id"] = request.run_id
    if request.labelset_version is not None:
        annotations["samx.io/labelset-version"] = str(request.labelset_version)
    if origin is not None:
        annotations.update(origin.to_fields(ANNOTATION_PREFIX))
    # the profile is the template's (reviewed with its resources), not the event's
    job["spec"]["entrypoint"] = f"{job['spec']['entrypoint']} {shlex.join(request.run_args())}"
    return job


def status_of(job: dict[str, Any]) -> JobStatus:
    """A RayJob's state from its ``.status`` (PENDING until the operator has written one)."""
    status = job.get("status") or {}
    state = _STATES.get(str(status.get("jobStatus", "")), JobState.PENDING)
    if status.get("jobDeploymentStatus") == "Failed" and not state.terminal:
        state = JobState.FAILED  # the cluster or the submitter failed before the Ray job could end
    reason = str(status.get("reason") or "rayjob_failed") if state is JobState.FAILED else None
    return JobStatus(state, reason)


class KubeRayLauncher:
    backend = "kuberay"

    def __init__(self, templates: Path, *, dry_run: bool = False) -> None:
        self.templates, self.dry_run = templates, dry_run

    def template(self, phase: str) -> dict[str, Any]:
        return yaml.safe_load((self.templates / f"{phase}.yaml").read_text())

    def submit(self, request: JobRequest, origin: Origin | None = None) -> Submitted:
        job = build_rayjob(self.template(request.phase), request, origin)
        name = job["metadata"]["name"]
        if self.dry_run:
            print(json.dumps(job, sort_keys=True), flush=True)
            return Submitted(name, created=True)
        namespace = self._namespace()
        body = {**job, "metadata": {**job["metadata"], "namespace": namespace}}
        try:
            self._request("POST", f"/apis/ray.io/v1/namespaces/{namespace}/rayjobs", body)
        except urllib.error.HTTPError as exc:
            if exc.code == 409:
                log.info("RayJob %s exists already: nothing to do", name)
                return Submitted(name, created=False)
            raise
        log.info("created RayJob %s", name)
        return Submitted(name, created=True)

    def status(self, name: str) -> JobStatus:
        if self.dry_run:
            return JobStatus(JobState.UNKNOWN)
        try:
            job = self._request("GET", f"/apis/ray.io/v1/namespaces/{self._namespace()}/rayjobs/{name}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # gone after ttlSecondsAfterFinished
                return JobStatus(JobState.UNKNOWN)
            raise
        return status_of(job)

    def unfinished(self) -> list[Unfinished]:
        if self.dry_run:
            return []  # nothing was created
        jobs = self._request(
            "GET", f"/apis/ray.io/v1/namespaces/{self._namespace()}/rayjobs?labelSelector=samx.io%2Frun"
        )
        out = []
        for job in jobs.get("items", []):
            origin = Origin.from_fields(job["metadata"].get("annotations") or {}, ANNOTATION_PREFIX)
            if origin is not None and not status_of(job).state.terminal:
                out.append(Unfinished(job["metadata"]["name"], origin))
        return out

    # -- the Kubernetes API with the pod's ServiceAccount -----------------------------------------
    def _namespace(self) -> str:
        return (SERVICE_ACCOUNT / "namespace").read_text().strip()

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        request = urllib.request.Request(
            f"https://{host}:{port}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {(SERVICE_ACCOUNT / 'token').read_text().strip()}",
                "Content-Type": "application/json",
            },
        )
        context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310 - https, built above
            return json.load(response)
