"""Fixing what phase 1 got wrong inside a cluster: split it into parts, exclude a radiograph that does not
belong, or move one to the cluster it belongs to.

In the paper the radiologist named whole clusters; with clusters 70-80 % pure that impurity is what
phase 2 learns. These are the few extra decisions that buy purity. Each is a change of the cluster it
starts from (versioned, audited with the radiographs it moved, undoable from that cluster), so the same
optimistic concurrency holds as for names: a stale version is a conflict, never an overwrite.

- A **split** clusters the members' phase-1 embeddings into 2-4 parts (``partition.split_parts``); the
  parts are new clusters numbered after the run's largest, each with its ``parent``; the split cluster
  keeps its row with size 0 (``split``), and its radiographs' ``phase1_cluster`` remembers where they
  were. Undone only while no part has been decided on or changed (undo those first).
- An **exclusion** takes radiographs out of their cluster into the run's excluded pool: they train nothing.
- A **move** puts them into another cluster (not a split or discarded one); that cluster's version moves on.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from samx_labeling.db.models import AuditEntry, Cluster, Member, Suggestion
from samx_labeling.domain.errors import ConflictError, InvalidInputError
from samx_labeling.domain.labeling import change_cluster, get_cluster, get_run
from samx_labeling.domain.partition import split_parts
from samx_labeling.domain.ports import RunEmbeddings
from samx_labeling.domain.suggestions import refresh_suggestions
from samx_labeling.domain.vocabulary import Vocabulary

MIN_PARTS, MAX_PARTS = 2, 4
MIN_PER_PART = 2  # a part of one radiograph is an exclusion, not a split
EXEMPLARS_KEPT = 16
MAX_REASSIGNED = 1000
CURATION_ACTIONS = ("split", "exclude", "move")


def members_of(session: Session, run_id: str, number: int) -> list[Member]:
    return list(
        session.scalars(
            select(Member)
            .where(Member.run_id == run_id, Member.cluster == number, Member.excluded.is_(False))
            .order_by(Member.image_id)
        )
    )


def split_cluster(
    session: Session, run_id: str, number: int, version: int, parts: int, who: str, embeddings: RunEmbeddings
) -> list[Cluster]:
    """Splits cluster ``number`` into ``parts`` parts (fewer when its embeddings do not separate); commits."""
    if not MIN_PARTS <= parts <= MAX_PARTS:
        raise InvalidInputError(f"a split makes {MIN_PARTS} to {MAX_PARTS} parts, not {parts}")
    run = get_run(session, run_id)
    cluster = _at_version(session, run_id, number, version)
    if cluster.discarded or cluster.split:
        state = "discarded: restore it" if cluster.discarded else "split already: split one of its parts"
        raise ConflictError(f"cluster {number} is {state}")
    members = members_of(session, run_id, number)
    if len(members) < parts * MIN_PER_PART:
        raise InvalidInputError(
            f"cluster {number} holds {len(members)} radiograph(s): too few for {parts} parts of at least "
            f"{MIN_PER_PART}; exclude or move single radiographs instead"
        )
    if run.embeddings_key is None or run.embeddings_bucket is None or any(m.row is None for m in members):
        raise ConflictError(f"run {run_id} was opened before splits existed: it has no embedding rows to split on")
    vectors = embeddings.rows(run.embeddings_bucket, run.embeddings_key, [m.row for m in members if m.row is not None])
    found = split_parts(vectors, parts, seed=number)
    if found.k < MIN_PARTS:
        raise ConflictError(f"the radiographs of cluster {number} do not separate: their embeddings coincide")
    first = (session.scalar(select(func.max(Cluster.cluster)).where(Cluster.run_id == run_id)) or 0) + 1
    numbers = list(range(first, first + found.k))
    for j, part_number in enumerate(numbers):
        inside = np.flatnonzero(found.assignment == j)
        closest = inside[np.argsort(-found.closeness[inside], kind="stable")]
        session.add(
            Cluster(
                run_id=run_id,
                cluster=part_number,
                size=len(inside),
                mean_confidence=float(np.mean([members[i].confidence for i in inside])),
                exemplars=[members[i].image_id for i in closest[:EXEMPLARS_KEPT]],
                label=None,
                discarded=False,
                flagged=False,
                version=1,
                parent=number,
                split=False,
            )
        )
    try:
        session.flush()
    except IntegrityError:  # another split took these numbers first: nothing of this one was written
        session.rollback()
        raise ConflictError("another split of this run was saved at the same moment; try again") from None
    for i, m in enumerate(members):
        m.phase1_cluster = m.phase1_cluster if m.phase1_cluster is not None else m.cluster
        m.cluster = numbers[int(found.assignment[i])]
    sizes = [int((found.assignment == j).sum()) for j in range(found.k)]
    change_cluster(
        session,
        run_id,
        number,
        version,
        who,
        "split",
        {"split": True, "size": 0, "label": None, "flagged": False},
        evidence={"parts": numbers, "sizes": sizes, "cohesion": round(found.cohesion, 4), "size": len(members)},
    )
    refresh_suggestions(session, run_id, numbers, Vocabulary.load(session))
    session.commit()
    return [get_cluster(session, run_id, n) for n in numbers]


def reassign(
    session: Session,
    run_id: str,
    number: int,
    version: int,
    image_ids: list[str],
    who: str,
    *,
    to: int | None,
) -> Cluster:
    """Excludes (``to`` None) or moves radiographs of cluster ``number``; returns that cluster; commits."""
    if not image_ids or len(image_ids) > MAX_REASSIGNED:
        raise InvalidInputError(f"name 1 to {MAX_REASSIGNED} radiographs")
    if len(set(image_ids)) != len(image_ids):
        raise InvalidInputError("the request names a radiograph twice")
    source = _at_version(session, run_id, number, version)
    rows = list(
        session.scalars(
            select(Member).where(
                Member.run_id == run_id,
                Member.image_id.in_(image_ids),
                Member.cluster == number,
                Member.excluded.is_(False),
            )
        )
    )
    if len(rows) != len(image_ids):
        raise InvalidInputError(f"{len(image_ids) - len(rows)} of the radiographs are not in cluster {number}")
    target = _target(session, run_id, number, to)
    for m in rows:
        m.phase1_cluster = m.phase1_cluster if m.phase1_cluster is not None else m.cluster
        if target is None:
            m.excluded = True
        else:
            m.cluster = target.cluster
    if target is not None:
        _resize(session, run_id, target, len(rows))
    changed = change_cluster(
        session,
        run_id,
        number,
        version,
        who,
        "exclude" if target is None else "move",
        {"size": source.size - len(rows)},
        evidence={"images": sorted(image_ids), "to": to},
    )
    refresh_suggestions(session, run_id, [number] + ([to] if to is not None else []), Vocabulary.load(session))
    session.commit()
    return changed


def _at_version(session: Session, run_id: str, number: int, version: int) -> Cluster:
    # Checked before any radiograph moves; change_cluster checks it again atomically at the write.
    cluster = get_cluster(session, run_id, number)
    if cluster.version != version:
        raise ConflictError(f"cluster {number} is at version {cluster.version}, not {version}; reload it")
    return cluster


def _target(session: Session, run_id: str, number: int, to: int | None) -> Cluster | None:
    if to is None:
        return None
    if to == number:
        raise InvalidInputError("a move needs another cluster than the one the radiographs are in")
    target = get_cluster(session, run_id, to)
    if target.split or target.discarded:
        raise ConflictError(f"cluster {to} is {'split' if target.split else 'discarded'}: move to a named one")
    return target


def _resize(session: Session, run_id: str, cluster: Cluster, delta: int) -> None:
    """A move changes what the target holds: its version moves on too (a writer who saw it before must reload)."""
    session.execute(
        update(Cluster)
        .where(Cluster.run_id == run_id, Cluster.cluster == cluster.cluster)
        .values(size=Cluster.size + delta, version=Cluster.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(cluster)


def undo_curation(session: Session, run_id: str, number: int, version: int, who: str, last: AuditEntry) -> Cluster:
    """Reverses a split, exclusion or move recorded in ``last``; commits."""
    evidence = (last.after or {}).get("evidence") or {}
    if last.action == "split":
        parts = [int(p) for p in evidence.get("parts", [])]
        touched = session.scalars(
            select(Cluster.cluster).where(Cluster.run_id == run_id, Cluster.cluster.in_(parts), Cluster.version != 1)
        ).first()
        if touched is not None:
            raise ConflictError(f"part {touched} of cluster {number} has changed since the split: undo that first")
        session.execute(
            update(Member)
            .where(Member.run_id == run_id, Member.cluster.in_(parts))
            .values(cluster=number)
            .execution_options(synchronize_session=False)
        )
        size = session.scalar(
            select(func.count()).where(Member.run_id == run_id, Member.cluster == number, Member.excluded.is_(False))
        )
        session.execute(delete(Cluster).where(Cluster.run_id == run_id, Cluster.cluster.in_(parts)))
        session.execute(delete(Suggestion).where(Suggestion.run_id == run_id, Suggestion.cluster.in_(parts)))
        restored = {"split": False, "size": int(size or 0)}
        affected = [number]
    else:
        images = list(evidence.get("images", []))
        to = evidence.get("to")
        where = [Member.run_id == run_id, Member.image_id.in_(images)]
        if to is None:
            named = session.scalar(
                select(func.count()).where(*where, Member.excluded.is_(True), Member.label.is_not(None))
            )
            if named:
                raise ConflictError(
                    f"{named} of the radiographs were named in the excluded pool since: undo that first"
                )
        where.append(Member.excluded.is_(True) if to is None else Member.cluster == int(to))
        back = list(session.scalars(select(Member).where(*where)))
        if len(back) != len(images):
            raise ConflictError(f"{len(images) - len(back)} of the radiographs have moved on since: undo that first")
        for m in back:
            m.excluded, m.cluster = False, number
        if to is not None:
            _resize(session, run_id, get_cluster(session, run_id, int(to)), -len(back))
        restored = {"size": get_cluster(session, run_id, number).size + len(back)}
        affected = [number] + ([int(to)] if to is not None else [])
    state = {k: v for k, v in (last.before or {}).items() if k in ("label", "discarded", "discard_reason", "flagged")}
    cluster = change_cluster(session, run_id, number, version, who, "undo", restored | state)
    last.undone = True
    refresh_suggestions(session, run_id, affected, Vocabulary.load(session))
    session.commit()
    return cluster
