"""Freezing a run's names into an immutable, versioned label set, through an outbox.

Publishing claims version N (the (run, version) key: two publishes racing for one version collide and
the loser gets a conflict), stores the document in the archive bucket and commits: from then on version
N exists and is never rewritten. Only then is ``labels.published`` announced; once the broker has
acknowledged it the row is marked ``announced_at``. When the broker is down the label set stays
published and pending: ``announce_pending`` (after every publish, and every few seconds in the service)
announces it when Kafka is back, with the same event id, so a retried announcement is deduped downstream.
A failure before the commit (object store down) rolls everything back and leaves version N free.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from samx_labeling.db.models import AuditEntry, Cluster, LabelSet, Member, utcnow
from samx_labeling.domain.errors import ConflictError, NotFoundError
from samx_labeling.domain.labeling import get_run
from samx_labeling.domain.ports import AnnounceFailed, LabelSetSink, PublishedObject

log = logging.getLogger(__name__)


def label_set_document(run_id: str, version: int, who: str, clusters: list[Cluster]) -> dict:
    named = [c for c in clusters if c.label and not c.discarded]
    return {
        "run_id": run_id,
        "version": version,
        "published_by": who,
        "published_at": utcnow().isoformat(),
        "classes": sorted({c.label for c in named}),
        "n_clusters_named": len(named),
        "n_clusters_discarded": sum(1 for c in clusters if c.discarded),
        "n_images_named": sum(c.size for c in named),
        "clusters": [
            {
                "cluster": c.cluster,
                "size": c.size,
                "label": None if c.discarded else c.label,
                "discarded": c.discarded,
                "flagged": c.flagged,
            }
            for c in clusters
        ],
    }


def publish(session: Session, run_id: str, who: str, sink: LabelSetSink, *, allow_incomplete: bool) -> LabelSet:
    """Version N+1, committed; announced if the broker acknowledges in time (``row.announced_at``)."""
    get_run(session, run_id)
    clusters = list(session.scalars(select(Cluster).where(Cluster.run_id == run_id).order_by(Cluster.cluster)))
    undecided = [c.cluster for c in clusters if c.size > 0 and c.label is None and not c.discarded]
    if undecided and not allow_incomplete:
        raise ConflictError(
            f"{len(undecided)} non-empty cluster(s) are neither named nor discarded "
            "(first: {}); name them or publish with allow_incomplete=true".format(undecided[0])
        )
    if not any(c.label and not c.discarded for c in clusters):
        raise ConflictError("no cluster has a name yet: nothing to publish")
    latest = session.scalar(select(func.max(LabelSet.version)).where(LabelSet.run_id == run_id)) or 0
    version = latest + 1
    document = label_set_document(run_id, version, who, clusters)
    row = LabelSet(
        run_id=run_id,
        version=version,
        document=document,
        object_key="",
        sha256="",
        published_by=who,
        published_at=utcnow(),
        announced_at=None,
    )
    try:
        session.add(row)
        session.flush()  # claims the version now; a concurrent publish of the same version fails here
        stored = sink.store(run_id, version, document)
        row.object_key, row.sha256, row.object_bytes = stored.key, stored.sha256, stored.size_bytes
        session.add(
            AuditEntry(
                run_id=run_id,
                cluster=None,
                action="publish",
                who=who,
                at=utcnow(),
                before=None,
                after={"version": version, "classes": document["classes"]},
            )
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ConflictError(f"label set version {version} of run {run_id!r} was published meanwhile") from None
    except Exception:
        session.rollback()
        raise
    announce_pending(session, sink)
    session.refresh(row)
    return row


def announce_pending(session: Session, sink: LabelSetSink) -> int:
    """Announces every committed, not yet announced label set, oldest first; stops at the first failure
    (the broker is down: the rest waits for the next try). Returns how many were announced."""
    pending = session.scalars(
        select(LabelSet).where(LabelSet.announced_at.is_(None)).order_by(LabelSet.published_at, LabelSet.version)
    )
    done = 0
    for row in list(pending):
        stored = PublishedObject(sink.bucket, row.object_key, row.sha256, row.object_bytes or 0)
        try:
            sink.announce(row.run_id, row.version, stored, row.document)
        except AnnounceFailed as exc:
            log.warning("label set %s v%d stays pending: %s", row.run_id, row.version, exc)
            session.rollback()
            return done
        row.announced_at = utcnow()
        session.commit()
        done += 1
    return done


def get_label_set(session: Session, run_id: str, version: int) -> LabelSet:
    found = session.get(LabelSet, (run_id, version))
    if found is None:
        get_run(session, run_id)
        raise NotFoundError(f"run {run_id!r} has no label set version {version}")
    return found


def export_rows(session: Session, label_set: LabelSet) -> list[tuple[str, int, str]]:
    """(image_id, cluster, label) for every radiograph of the run; label empty if discarded or unnamed."""
    names = {c["cluster"]: c["label"] or "" for c in label_set.document["clusters"]}
    members = session.execute(
        select(Member.image_id, Member.cluster).where(Member.run_id == label_set.run_id).order_by(Member.image_id)
    )
    return [(m.image_id, m.cluster, names.get(m.cluster, "")) for m in members]
