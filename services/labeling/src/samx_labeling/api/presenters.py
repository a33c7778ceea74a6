"""Database rows to response bodies, with presigned image URLs."""

from __future__ import annotations

from samx_core.archive import thumbnail_key
from sqlalchemy import select
from sqlalchemy.orm import Session

from samx_labeling.api.schemas import ClusterPublic, ExemplarPublic, MemberPublic, SuggestionPublic
from samx_labeling.db.models import Cluster, Member, Run, Suggestion
from samx_labeling.domain.ports import ImageLinks
from samx_labeling.domain.suggestions import best_suggestions

EXEMPLARS_SHOWN = 8
SPLIT_PROPOSED_MIN_SIZE = 4  # the smallest cluster a split can make two parts of (curation.MIN_PER_PART)


def present_clusters(
    session: Session, run: Run, clusters: list[Cluster], links: ImageLinks, *, min_share: float
) -> list[ClusterPublic]:
    numbers = [c.cluster for c in clusters]
    suggestions = best_suggestions(session, run.run_id, numbers) if numbers else {}
    shown = {c.cluster: c.exemplars[:EXEMPLARS_SHOWN] for c in clusters}
    wanted = [i for ids in shown.values() for i in ids]
    thumbs = _thumbnail_keys(session, run.run_id, wanted)
    return [
        _present(run, c, links, suggestions.get(c.cluster), [(i, thumbs.get(i)) for i in shown[c.cluster]], min_share)
        for c in clusters
    ]


def _thumbnail_keys(session: Session, run_id: str, image_ids: list[str]) -> dict[str, str]:
    if not image_ids:
        return {}
    rows = session.execute(
        select(Member.image_id, Member.thumbnail_key).where(Member.run_id == run_id, Member.image_id.in_(image_ids))
    )
    return {r.image_id: r.thumbnail_key for r in rows}


def _present(
    run: Run,
    c: Cluster,
    links: ImageLinks,
    suggestion: Suggestion | None,
    exemplars: list[tuple[str, str | None]],
    min_share: float,
) -> ClusterPublic:
    bucket = run.artifacts_bucket
    return ClusterPublic(
        run_id=c.run_id,
        cluster=c.cluster,
        size=c.size,
        mean_confidence=c.mean_confidence,
        label=c.label,
        discarded=c.discarded,
        discard_reason=c.discard_reason,
        flagged=c.flagged,
        version=c.version,
        updated_by=c.updated_by,
        updated_at=c.updated_at,
        # Phase 1 drew a montage per cluster it made; a split's part has its exemplars instead.
        montage_url=links.montage(bucket, run.artifacts_prefix, c.cluster) if c.size and c.parent is None else None,
        exemplars=[
            ExemplarPublic(image_id=i, thumbnail_url=links.thumbnail(bucket, key or thumbnail_key(i)))
            for i, key in exemplars
        ],
        suggestion=SuggestionPublic.model_validate(suggestion).model_copy(
            update={"below_threshold": suggestion.share < min_share}
        )
        if suggestion
        else None,
        parent=c.parent,
        split=c.split,
        split_proposed=bool(
            suggestion is not None
            and suggestion.share < min_share
            and not c.split
            and c.label is None
            and not c.discarded
            and c.size >= SPLIT_PROPOSED_MIN_SIZE
        ),
    )


def present_members(run: Run, members: list[Member], links: ImageLinks) -> list[MemberPublic]:
    return [
        MemberPublic(
            image_id=m.image_id,
            confidence=m.confidence,
            thumbnail_url=links.thumbnail(run.artifacts_bucket, m.thumbnail_key),
            cluster=None if m.excluded else m.cluster,
            phase1_cluster=m.phase1_cluster,
            body_part=m.body_part,
            known_labels=m.known_labels,
            image_url=links.image(run.artifacts_bucket, m.derivative_key) if m.derivative_key else None,
            facts=m.facts or {},
            label=m.label,
            label_version=m.label_version or 1,
        )
        for m in members
    ]


def etag(cluster: ClusterPublic | Cluster) -> str:
    return f'"{cluster.version}"'
