"""What one training job is (phase, run, label-set version) and its name, the same for every backend.

The name is the job's identity: a Ray job's ``submission_id`` and a RayJob's ``metadata.name``. It is
derived from the run, never from the event, so a redelivered or replayed event asks for the same job
and finds it there. It is a DNS-1035 label (lower-case letters, digits, '-', a letter first), because
KubeRay turns a RayJob's name into RayCluster, Service and pod names; at most 51 characters leaves
KubeRay room for its suffixes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

Phase = Literal["phase1", "phase2"]
#: the run id pattern of samx_core's events (Phase1Requested.run_id, LabelsPublished.run_id)
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_NAME = 51
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class JobRequest:
    """One run of one phase. ``profile`` and ``n_clusters`` shape the run but not its identity: a
    second request for the same run is the same job whatever it asks for."""

    phase: Phase
    run_id: str
    labelset_version: int | None = None
    profile: str = "ci"
    n_clusters: int | None = None

    def __post_init__(self) -> None:
        if not RUN_ID.fullmatch(self.run_id):
            raise ValueError("run id must match " + RUN_ID.pattern)
        if (self.phase == "phase2") != (self.labelset_version is not None):
            raise ValueError("a phase-2 job needs a label-set version, a phase-1 job has none")

    @property
    def identity(self) -> str:
        return self.run_id if self.labelset_version is None else f"{self.run_id}.ls{self.labelset_version}"

    def run_args(self) -> list[str]:
        """The arguments that select the run, appended to the phase's command (``samx-trainer phaseN``)."""
        args = ["--run-id", self.run_id]
        if self.labelset_version is not None:
            args += ["--labelset-version", str(self.labelset_version)]
        if self.n_clusters is not None:
            args += ["--n-clusters", str(self.n_clusters)]
        return args


def job_name(request: JobRequest, base: str | None = None) -> str:
    """``<base>-<digest>``: base defaults to ``samx-<phase>`` (a RayJob template's own name for KubeRay),
    the digest covers phase and identity, so phase 1 and phase 2 of one run never share a name."""
    digest = hashlib.sha256(f"{request.phase}:{request.identity}".encode()).hexdigest()[:10]
    stem = re.sub(r"[^a-z0-9-]+", "-", (base or f"samx-{request.phase}").lower()).strip("-")
    if not stem[:1].isalpha():
        stem = "job-" + stem
    name = f"{stem[: MAX_NAME - 11].rstrip('-')}-{digest}"
    assert _DNS_LABEL.fullmatch(name) and len(name) <= MAX_NAME, name
    return name
