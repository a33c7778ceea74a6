"""Naming excluded radiographs one by one: a radiograph that belongs to no cluster of the run (a skull in
a "knee" cluster) still has a region, and naming it puts it into phase 2's training set under that name.

Each radiograph of the pool carries its own ``label_version``: a name sent with a stale version is a
conflict, as for clusters. Each change is audited against the radiograph (``AuditEntry.image_id``, with
no cluster, so a cluster's undo never reaches it) and undone by the radiograph's own undo. The exclusion
itself is undone on its cluster, once its radiographs' names are undone."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from samx_labeling.db.models import AuditEntry, Member, utcnow
from samx_labeling.domain.errors import ConflictError, NotFoundError
from samx_labeling.domain.labeling import get_run
from samx_labeling.domain.vocabulary import Vocabulary, record_new_name


def pool_member(session: Session, run_id: str, image_id: str) -> Member:
    get_run(session, run_id)
    member = session.get(Member, (run_id, image_id))
    if member is None:
        raise NotFoundError(f"radiograph {image_id!r} is not in run {run_id!r}")
    if not member.excluded:
        raise ConflictError(
            f"radiograph {image_id!r} is in cluster {member.cluster}: it is named with its cluster (exclude it first)"
        )
    return member


def _change(session: Session, member: Member, version: int, who: str, action: str, label: str | None) -> Member:
    if member.label_version != version:
        raise ConflictError(f"radiograph {member.image_id!r} is at version {member.label_version}, not {version}")
    before = {"label": member.label}
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Member)
            .where(
                Member.run_id == member.run_id,
                Member.image_id == member.image_id,
                Member.label_version == version,
                Member.excluded.is_(True),
            )
            .values(label=label, label_version=version + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:  # someone committed between our read and our write
        raise ConflictError(f"radiograph {member.image_id!r} changed meanwhile; reload it")
    session.refresh(member)
    session.add(
        AuditEntry(
            run_id=member.run_id,
            cluster=None,
            image_id=member.image_id,
            action=action,
            who=who,
            at=utcnow(),
            before=before,
            after={"label": member.label, "evidence": {"images": [member.image_id], "excluded_from": member.cluster}},
        )
    )
    return member


def name_image(session: Session, run_id: str, image_id: str, text: str, version: int, who: str) -> Member:
    """Names an excluded radiograph (vocabulary-normalised, as cluster names); commits."""
    member = pool_member(session, run_id, image_id)
    name, known = Vocabulary.load(session).normalize(text)
    if not known:
        record_new_name(session, name, who)
    changed = _change(session, member, version, who, "name_image", name)
    session.commit()
    return changed


def undo_image(session: Session, run_id: str, image_id: str, version: int, who: str) -> Member:
    """Restores the radiograph's name before its latest change that is not undone; commits."""
    member = pool_member(session, run_id, image_id)
    last = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.run_id == run_id,
            AuditEntry.image_id == image_id,
            AuditEntry.action == "name_image",
            AuditEntry.undone.is_(False),
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    if last is None:
        raise ConflictError(f"radiograph {image_id!r} has no name left to undo")
    changed = _change(session, member, version, who, "undo_image", (last.before or {}).get("label"))
    last.undone = True
    session.commit()
    return changed


def image_labels(session: Session, run_id: str) -> dict[str, str]:
    """image id -> name, for the run's excluded radiographs named one by one (the label set's ``labels``)."""
    rows = session.execute(
        select(Member.image_id, Member.label).where(
            Member.run_id == run_id, Member.excluded.is_(True), Member.label.is_not(None)
        )
    )
    return {r.image_id: r.label for r in rows if r.label}
