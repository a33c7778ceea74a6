"""Suggested names per cluster: the majority name among the cluster's radiographs whose region is
known, with its share. Two sources: a CSV of known labels the radiologist uploads, and the DICOM
BodyPartExamined tag of the archive records. Suggestions are shown, never applied silently: only an
explicit accept (audited) turns them into labels."""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from samx_labeling.db.models import Member, Suggestion, utcnow
from samx_labeling.domain.errors import InvalidInputError
from samx_labeling.domain.vocabulary import Vocabulary, is_valid_label

SOURCES = ("csv", "dicom")
MAX_CSV_ROWS = 200_000


@dataclass(frozen=True)
class Proposal:
    label: str
    share: float
    support: int


def majority(votes: Iterable[tuple[int, list[str]]]) -> dict[int, Proposal]:
    """votes: (cluster, names of one radiograph). An image votes once for each distinct name it has;
    the share is the fraction of the cluster's voting images that carry the winning name. Ties go to
    the alphabetically first name, so the result does not depend on row order."""
    counts: dict[int, Counter] = defaultdict(Counter)
    voters: Counter = Counter()
    for cluster, names in votes:
        distinct = {n for n in names if n}
        if distinct:
            voters[cluster] += 1
            counts[cluster].update(distinct)
    out = {}
    for cluster, counter in counts.items():
        label, n = min(counter.items(), key=lambda item: (-item[1], item[0]))
        out[cluster] = Proposal(label=label, share=n / voters[cluster], support=voters[cluster])
    return out


def dicom_suggestions(votes: Iterable[tuple[int, list[str]]], vocabulary: Vocabulary) -> dict[int, Proposal]:
    """BodyPartExamined values mapped through the vocabulary; values it does not know (EXTREMITY,
    blanks, site-specific codes) do not vote, because they name no region the model could learn."""
    mapped = ((cluster, [vocabulary.known(v) or "" for v in values if v]) for cluster, values in votes)
    return majority(mapped)


@dataclass(frozen=True)
class CsvOutcome:
    rows: int
    matched_images: int
    unmatched_rows: int
    proposals: dict[int, Proposal]
    known: dict[str, str]  # image id -> its known names, ';'-joined


def csv_suggestions(session: Session, run_id: str, text: str, vocabulary: Vocabulary) -> CsvOutcome:
    """Known labels from a CSV (columns ``labels`` and ``image_id`` or ``sha256``; several labels are
    separated by ';'), matched to the run's radiographs."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        columns = {c.strip().lower() for c in reader.fieldnames or [] if c}
    except csv.Error as exc:
        raise InvalidInputError(f"not a CSV file: {exc}") from None
    if "labels" not in columns or not columns & {"image_id", "sha256"}:
        raise InvalidInputError("the CSV needs a 'labels' column and an 'image_id' or 'sha256' column")
    members = session.execute(
        select(Member.image_id, Member.sha256, Member.cluster).where(
            Member.run_id == run_id, Member.excluded.is_(False)
        )
    ).all()
    by_id = {m.image_id: m.cluster for m in members}
    by_sha = {m.sha256: m.image_id for m in members if m.sha256}
    votes: list[tuple[int, list[str]]] = []
    known: dict[str, str] = {}
    rows = unmatched = invalid = 0
    try:
        for raw in reader:
            rows += 1
            if rows > MAX_CSV_ROWS:
                raise InvalidInputError(f"the CSV has more than {MAX_CSV_ROWS} rows")
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
            image_id = row.get("image_id", "") if row.get("image_id", "") in by_id else None
            if image_id is None and row.get("sha256"):
                image_id = by_sha.get(row["sha256"].lower())
            if image_id is None:
                unmatched += 1
                continue
            given = [n for n in row.get("labels", "").split(";") if n.strip()]
            names = [vocabulary.normalize(n)[0] for n in given if is_valid_label(n)]
            invalid += len(given) - len(names)
            votes.append((by_id[image_id], names))
            known[image_id] = ";".join(sorted(set(names)))[:512]
    except csv.Error as exc:
        raise InvalidInputError(f"the CSV is malformed at row {rows}: {exc}") from None
    proposals = majority(votes)
    if not proposals:  # an upload replaces the earlier one: one that suggests nothing must not wipe it
        raise InvalidInputError(
            f"the CSV suggests nothing: of {rows} rows, {unmatched} match no radiograph of run {run_id} and "
            f"{invalid} labels are not valid names; the earlier suggestions are kept"
        )
    return CsvOutcome(rows=rows, matched_images=len(votes), unmatched_rows=unmatched, proposals=proposals, known=known)


def store_known_labels(session: Session, run_id: str, known: dict[str, str]) -> None:
    """Keeps each radiograph's known labels (replacing an earlier upload's), so that suggestions can be
    recomputed for the parts of a split or after a move (``refresh_suggestions``)."""
    session.execute(update(Member).where(Member.run_id == run_id).values(known_labels=None))
    if known:
        session.execute(
            update(Member),
            [{"run_id": run_id, "image_id": i, "known_labels": names} for i, names in known.items()],
        )


def refresh_suggestions(session: Session, run_id: str, clusters: list[int], vocabulary: Vocabulary) -> None:
    """Recomputes both sources' suggestions for ``clusters`` from the radiographs now in them (not the
    excluded ones), after a split, an exclusion or a move changed what they hold."""
    if not clusters:
        return
    rows = session.execute(
        select(Member.cluster, Member.body_part, Member.known_labels).where(
            Member.run_id == run_id, Member.cluster.in_(clusters), Member.excluded.is_(False)
        )
    ).all()
    by_source = {
        "dicom": dicom_suggestions([(r.cluster, [r.body_part or ""]) for r in rows], vocabulary),
        "csv": majority([(r.cluster, r.known_labels.split(";")) for r in rows if r.known_labels is not None]),
    }
    session.execute(delete(Suggestion).where(Suggestion.run_id == run_id, Suggestion.cluster.in_(clusters)))
    for source, proposals in by_source.items():
        _insert(session, run_id, source, proposals)


def store_suggestions(session: Session, run_id: str, source: str, proposals: dict[int, Proposal]) -> None:
    """Replaces the run's suggestions from ``source`` (a new upload supersedes the previous one)."""
    session.execute(delete(Suggestion).where(Suggestion.run_id == run_id, Suggestion.source == source))
    _insert(session, run_id, source, proposals)


def _insert(session: Session, run_id: str, source: str, proposals: dict[int, Proposal]) -> None:
    if proposals:
        now = utcnow()
        session.execute(
            insert(Suggestion),
            [
                {
                    "run_id": run_id,
                    "cluster": cluster,
                    "source": source,
                    "label": p.label,
                    "share": p.share,
                    "support": p.support,
                    "created_at": now,
                }
                for cluster, p in proposals.items()
            ],
        )


def best_suggestions(session: Session, run_id: str, clusters: list[int] | None = None) -> dict[int, Suggestion]:
    """Per cluster the suggestion to show: known labels (CSV) over DICOM tags, then the larger share."""
    query = select(Suggestion).where(Suggestion.run_id == run_id)
    if clusters is not None:
        query = query.where(Suggestion.cluster.in_(clusters))
    out: dict[int, Suggestion] = {}
    for s in session.scalars(query):
        current = out.get(s.cluster)
        if current is None or _rank(s) > _rank(current):
            out[s.cluster] = s
    return out


def _rank(s: Suggestion) -> tuple[int, float, int]:
    return (1 if s.source == "csv" else 0, s.share, s.support)
