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

from samx_core.archive import LabelSetCluster, LabelSetDecisions, LabelSetDocument
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from samx_labeling.db.models import AuditEntry, Cluster, LabelSet, Member, utcnow
from samx_labeling.domain.errors import ConflictError, NotFoundError
from samx_labeling.domain.image_names import image_labels
from samx_labeling.domain.labeling import get_run
from samx_labeling.domain.ports import AnnounceFailed, LabelSetSink, PublishedObject

log = logging.getLogger(__name__)


def label_set_document(
    run_id: str,
    version: int,
    who: str,
    clusters: list[Cluster],
    *,
    placements: dict[str, int] | None = None,
    excluded: list[str] | None = None,
    labels: dict[str, str] | None = None,
    decisions: LabelSetDecisions | None = None,
    n_images: int | None = None,
) -> dict:
    """The stored document (``samx_core.archive.LabelSetDocument``): per-cluster decisions, and per radiograph
    the placements (split, moved) and exclusions phase 2 applies on top of phase 1's assignments."""
    named = [c for c in clusters if c.label and not c.discarded and not c.split]
    labels = labels or {}
    document = LabelSetDocument(
        run_id=run_id,
        version=version,
        published_by=who,
        published_at=utcnow(),
        classes=sorted({c.label for c in named if c.label} | set(labels.values())),
        n_clusters_named=len(named),
        n_clusters_discarded=sum(1 for c in clusters if c.discarded),
        n_images_named=sum(c.size for c in named) + len(labels),
        clusters=[
            LabelSetCluster(
                cluster=c.cluster,
                size=c.size,
                label=None if c.discarded or c.split else c.label,
                discarded=bool(c.discarded),
                flagged=bool(c.flagged),
                parent=c.parent,
                split_into=[p.cluster for p in clusters if p.parent == c.cluster] if c.split else [],
            )
            for c in clusters
        ],
        placements=placements or {},
        excluded=excluded or [],
        labels=labels,
        decisions=decisions or LabelSetDecisions(),
        n_images=n_images,
    )
    return document.model_dump(mode="json")


def per_image_decisions(session: Session, run_id: str) -> tuple[dict[str, int], list[str]]:
    """(placements: image id -> cluster for radiographs no longer in their phase-1 cluster, excluded ids)."""
    placed = session.execute(
        select(Member.image_id, Member.cluster, Member.phase1_cluster, Member.excluded).where(
            Member.run_id == run_id, Member.phase1_cluster.is_not(None)
        )
    ).all()
    placements = {m.image_id: m.cluster for m in placed if not m.excluded and m.cluster != m.phase1_cluster}
    return placements, sorted(m.image_id for m in placed if m.excluded)


def decision_counts(session: Session, run_id: str, n_images: int) -> LabelSetDecisions:
    """What the radiologist did to the run, from the audit (undone changes do not count): the paper's
    figure of merit is decisions per radiograph (1,000 names for 42,608 radiographs, 0.023)."""
    rows = session.execute(
        select(AuditEntry.action, AuditEntry.after).where(AuditEntry.run_id == run_id, AuditEntry.undone.is_(False))
    ).all()
    clusters = {c.cluster: c for c in session.scalars(select(Cluster).where(Cluster.run_id == run_id))}
    names = sum(1 for c in clusters.values() if c.label and not c.discarded and not c.split)
    discards = sum(1 for c in clusters.values() if c.discarded)
    splits = sum(1 for c in clusters.values() if c.split)
    moved = [len(((a or {}).get("evidence") or {}).get("images", [])) for action, a in rows if action == "move"]
    excluded = [len(((a or {}).get("evidence") or {}).get("images", [])) for action, a in rows if action == "exclude"]
    image_names = len(image_labels(session, run_id))
    total = names + discards + splits + sum(moved) + sum(excluded) + image_names
    return LabelSetDecisions(
        names=names,
        discards=discards,
        splits=splits,
        exclusions=sum(excluded),
        moves=sum(moved),
        image_names=image_names,
        total=total,
        per_image=round(total / n_images, 6) if n_images else 0.0,
    )


def publish(session: Session, run_id: str, who: str, sink: LabelSetSink, *, allow_incomplete: bool) -> LabelSet:
    """Version N+1, committed; announced if the broker acknowledges in time (``row.announced_at``)."""
    get_run(session, run_id)
    clusters = list(session.scalars(select(Cluster).where(Cluster.run_id == run_id).order_by(Cluster.cluster)))
    undecided = [c.cluster for c in clusters if c.size > 0 and c.label is None and not c.discarded and not c.split]
    if undecided and not allow_incomplete:
        raise ConflictError(
            f"{len(undecided)} non-empty cluster(s) are neither named nor discarded "
            "(first: {}); name them or publish with allow_incomplete=true".format(undecided[0])
        )
    if not any(c.label and not c.discarded and not c.split for c in clusters) and not image_labels(session, run_id):
        raise ConflictError("no cluster has a name yet: nothing to publish")
    latest = session.scalar(select(func.max(LabelSet.version)).where(LabelSet.run_id == run_id)) or 0
    version = latest + 1
    placements, excluded = per_image_decisions(session, run_id)
    n_images = session.scalar(select(func.count()).where(Member.run_id == run_id)) or 0
    document = label_set_document(
        run_id,
        version,
        who,
        clusters,
        placements=placements,
        excluded=excluded,
        labels=image_labels(session, run_id),
        decisions=decision_counts(session, run_id, n_images),
        n_images=n_images,
    )
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
    """(image_id, cluster, label) for every radiograph of the run, as the label set placed it (a split's
    part, a move's target); label empty if discarded, unnamed or excluded."""
    document = LabelSetDocument.model_validate(label_set.document)
    names = {c.cluster: c.label or "" for c in document.clusters}
    excluded = set(document.excluded)
    members = session.execute(
        select(Member.image_id, Member.cluster, Member.phase1_cluster)
        .where(Member.run_id == label_set.run_id)
        .order_by(Member.image_id)
    )
    out = []
    for m in members:
        phase1 = m.phase1_cluster if m.phase1_cluster is not None else m.cluster
        cluster = document.placements.get(m.image_id, phase1)
        label = document.labels.get(m.image_id) or ("" if m.image_id in excluded else names.get(cluster, ""))
        out.append((m.image_id, cluster, label))
    return out
