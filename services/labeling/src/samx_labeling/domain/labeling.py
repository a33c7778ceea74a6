"""Changing a cluster: name, discard, flag, undo, and accepting suggestions.

Every change is a conditional UPDATE on the version the writer saw (optimistic concurrency): when two
radiologists label the same cluster, the second one's request matches no row and gets a conflict
instead of silently overwriting the first. Each change writes an audit row with the state before and
after; ``undo`` restores the ``before`` of the cluster's latest change that is not yet undone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from samx_labeling.db.models import AuditEntry, Cluster, Run, Suggestion, utcnow
from samx_labeling.domain.errors import ConflictError, InvalidInputError, NotFoundError
from samx_labeling.domain.suggestions import best_suggestions
from samx_labeling.domain.vocabulary import Vocabulary, record_new_name

STATE_FIELDS = ("label", "discarded", "discard_reason", "flagged", "split")


@dataclass(frozen=True)
class LabelRequest:
    cluster: int
    label: str
    version: int


def state_of(cluster: Cluster) -> dict:
    return {field: getattr(cluster, field) for field in STATE_FIELDS}


def get_run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id!r} not found")
    return run


def get_cluster(session: Session, run_id: str, cluster: int) -> Cluster:
    found = session.get(Cluster, (run_id, cluster))
    if found is None:
        get_run(session, run_id)
        raise NotFoundError(f"cluster {cluster} not found in run {run_id!r}")
    return found


def change_cluster(
    session: Session,
    run_id: str,
    number: int,
    version: int,
    who: str,
    action: str,
    values: dict,
    evidence: dict | None = None,
) -> Cluster:
    """Applies ``values`` if the cluster is still at ``version``; audits (with the ``evidence`` the change
    was based on, e.g. a suggestion's share); does not commit."""
    cluster = get_cluster(session, run_id, number)
    if cluster.version != version:
        raise ConflictError(f"cluster {number} is at version {cluster.version}, not {version}; reload it")
    if cluster.split and action != "undo":
        raise ConflictError(f"cluster {number} was split into parts: decide on its parts, or undo the split")
    before = state_of(cluster)
    result = cast(  # an UPDATE answers a CursorResult, which has the row count
        "CursorResult[Any]",
        session.execute(
            update(Cluster)
            .where(Cluster.run_id == run_id, Cluster.cluster == number, Cluster.version == version)
            .values(**values, version=version + 1, updated_by=who, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:  # someone committed between our read and our write
        raise ConflictError(f"cluster {number} changed meanwhile; reload it")
    session.refresh(cluster)
    session.add(
        AuditEntry(
            run_id=run_id,
            cluster=number,
            action=action,
            who=who,
            at=utcnow(),
            before=before,
            after=state_of(cluster) | ({"evidence": evidence} if evidence else {}),
        )
    )
    return cluster


def _label_values(session: Session, vocabulary: Vocabulary, text: str, who: str) -> dict:
    name, known = vocabulary.normalize(text)
    if not known:
        record_new_name(session, name, who)
    return {"label": name, "discarded": False, "discard_reason": None}


def set_label(session: Session, run_id: str, number: int, text: str, version: int, who: str) -> Cluster:
    cluster = change_cluster(
        session, run_id, number, version, who, "label", _label_values(session, Vocabulary.load(session), text, who)
    )
    session.commit()
    return cluster


def set_labels(session: Session, run_id: str, items: list[LabelRequest], who: str) -> list[Cluster]:
    """All or nothing: one stale version or unknown cluster rolls the whole batch back."""
    get_run(session, run_id)
    if len({i.cluster for i in items}) != len(items):
        raise InvalidInputError("the batch names a cluster twice")
    vocabulary = Vocabulary.load(session)
    try:
        out = [
            change_cluster(
                session, run_id, i.cluster, i.version, who, "label", _label_values(session, vocabulary, i.label, who)
            )
            for i in items
        ]
        session.commit()
    except Exception:
        session.rollback()
        raise
    return out


def discard(
    session: Session, run_id: str, number: int, version: int, reason: str, discarded: bool, who: str
) -> Cluster:
    values = (
        {"discarded": True, "discard_reason": reason, "label": None}
        if discarded
        else {"discarded": False, "discard_reason": None}
    )
    cluster = change_cluster(session, run_id, number, version, who, "discard" if discarded else "restore", values)
    session.commit()
    return cluster


def flag(session: Session, run_id: str, number: int, version: int, flagged: bool, who: str) -> Cluster:
    cluster = change_cluster(
        session, run_id, number, version, who, "flag" if flagged else "unflag", {"flagged": flagged}
    )
    session.commit()
    return cluster


def undo(session: Session, run_id: str, number: int, version: int, who: str) -> Cluster:
    get_cluster(session, run_id, number)
    last = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.run_id == run_id,
            AuditEntry.cluster == number,
            AuditEntry.undone.is_(False),
            AuditEntry.action != "undo",
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    if last is None or last.before is None:
        raise ConflictError(f"cluster {number} has no change left to undo")
    if last.action in ("split", "exclude", "move"):
        from samx_labeling.domain.curation import undo_curation  # curation builds on this module

        return undo_curation(session, run_id, number, version, who, last)
    restored = {field: last.before.get(field) for field in STATE_FIELDS}
    restored["discarded"] = bool(restored["discarded"])
    restored["flagged"] = bool(restored["flagged"])
    restored["split"] = bool(restored["split"])
    cluster = change_cluster(session, run_id, number, version, who, "undo", restored)
    last.undone = True
    session.commit()
    return cluster


@dataclass(frozen=True)
class AcceptOutcome:
    accepted: int
    skipped: int
    below_threshold: int  # of the skipped: a suggestion, but under min_share


def accept_suggestions(
    session: Session, run_id: str, who: str, *, source: str | None, min_share: float
) -> AcceptOutcome:
    """Names every still-unlabeled, non-empty cluster after its suggestion (explicit and audited)."""
    get_run(session, run_id)
    open_clusters = list(
        session.scalars(
            select(Cluster).where(
                Cluster.run_id == run_id, Cluster.label.is_(None), Cluster.discarded.is_(False), Cluster.size > 0
            )
        )
    )
    suggestions = best_suggestions(session, run_id, None)
    if source is not None:
        suggestions = {
            s.cluster: s
            for s in session.scalars(select(Suggestion).where(Suggestion.run_id == run_id, Suggestion.source == source))
        }
    vocabulary = Vocabulary.load(session)
    accepted = skipped = below = 0
    for cluster in open_clusters:
        proposal = suggestions.get(cluster.cluster)
        if proposal is None or proposal.share < min_share:
            skipped += 1
            below += proposal is not None
            continue
        change_cluster(
            session,
            run_id,
            cluster.cluster,
            cluster.version,
            who,
            "accept_suggestion",
            _label_values(session, vocabulary, proposal.label, who),
            evidence={
                "suggestion": proposal.label,
                "source": proposal.source,
                "share": round(proposal.share, 4),
                "support": proposal.support,
                "min_share": min_share,
            },
        )
        accepted += 1
    session.commit()
    return AcceptOutcome(accepted=accepted, skipped=skipped, below_threshold=below)
