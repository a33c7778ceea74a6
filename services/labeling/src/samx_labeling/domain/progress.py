"""How far the labeling of a run is, in clusters and in radiographs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from samx_labeling.db.models import Cluster
from samx_labeling.domain.labeling import get_run


@dataclass(frozen=True)
class Tally:
    total: int
    labeled: int
    discarded: int
    flagged: int
    left: int


@dataclass(frozen=True)
class Progress:
    clusters: Tally
    images: Tally
    empty_clusters: int
    classes: int


def progress(session: Session, run_id: str) -> Progress:
    get_run(session, run_id)
    labeled = (Cluster.label.is_not(None)) & Cluster.discarded.is_(False)
    left = (Cluster.label.is_(None)) & Cluster.discarded.is_(False) & (Cluster.size > 0)

    def count(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def images(condition):
        return func.coalesce(func.sum(case((condition, Cluster.size), else_=0)), 0)

    row = session.execute(
        select(
            func.count(),
            count(labeled),
            count(Cluster.discarded.is_(True)),
            count(Cluster.flagged.is_(True)),
            count(left),
            func.coalesce(func.sum(Cluster.size), 0),
            images(labeled),
            images(Cluster.discarded.is_(True)),
            images(Cluster.flagged.is_(True)),
            images(left),
            count((Cluster.size == 0) & Cluster.split.is_(False)),
            func.count(func.distinct(case((labeled, Cluster.label)))),
        ).where(Cluster.run_id == run_id)
    ).one()
    values = [int(v) for v in row]
    return Progress(
        clusters=Tally(*values[0:5]),
        images=Tally(*values[5:10]),
        empty_clusters=values[10],
        classes=values[11],
    )
