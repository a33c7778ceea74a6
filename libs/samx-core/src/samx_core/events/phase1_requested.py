"""``samx.phase1.requested.v1``: an operator asks for a phase-1 run over the archive.

The trainer service (locally) or its launcher (on Kubernetes, as a RayJob) starts the run; the answer is
the run's ``clustering.completed``. The requested run id makes a replayed request a no-op."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from samx_core.events.base import Event


class Phase1Requested(Event):
    TOPIC: ClassVar[str] = "samx.phase1.requested.v1"

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Run id to create")
    profile: str = Field(default="dev", pattern=r"^[a-z0-9-]{1,32}$", description="Run profile: ci, dev, gpu, ...")
    n_clusters: int | None = Field(default=None, ge=2, le=5000, description="Override of the K rule")
    requested_by: str = Field(min_length=1, max_length=128, description="Operator user name (staff, not patient)")
