"""One phase for one run, as a job runs it: the same ``run_phase1`` / ``run_phase2`` the command line's
``samx-trainer phase1`` / ``phase2`` call (the entrypoint of Ray jobs and RayJobs)."""

from __future__ import annotations

from dataclasses import replace

from samx_trainer.launch.names import JobRequest
from samx_trainer.settings import Settings


def with_overrides(settings: Settings, n_clusters: int | None) -> Settings:
    if n_clusters is None:
        return settings
    return replace(settings, trainer=settings.trainer.model_copy(update={"n_clusters": n_clusters}))


def run_request(settings: Settings, request: JobRequest) -> None:
    if request.phase == "phase1":
        from samx_trainer.phase1.job import run_phase1

        run_phase1(with_overrides(settings, request.n_clusters), request.profile, run_id=request.run_id)
        return
    from samx_core.archive import label_set_key
    from samx_core.storage import ObjectStore

    from samx_trainer.phase2.archive import read_labelset
    from samx_trainer.phase2.job import run_phase2

    assert request.labelset_version is not None  # JobRequest checks it
    key = label_set_key(request.run_id, request.labelset_version)
    labelset = read_labelset(ObjectStore(settings.s3), (settings.s3.archive_bucket, key))
    run_phase2(settings, request.profile, labelset)
