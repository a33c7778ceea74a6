"""The labeling database. One row per phase-1 run, cluster and image; every change to a cluster is an
audit row (who, when, before, after), which is also what ``undo`` replays backwards.

A cluster's ``version`` grows by one at each change: writers send the version they saw, and an update
that finds another version is refused (optimistic concurrency, 409), so two radiologists never overwrite
each other silently."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware on both databases: SQLite stores no zone, so values are written and read as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    profile: Mapped[str] = mapped_column(String(64))
    n_images: Mapped[int] = mapped_column(Integer)
    n_clusters: Mapped[int] = mapped_column(Integer)
    artifacts_bucket: Mapped[str] = mapped_column(String(63))
    artifacts_prefix: Mapped[str] = mapped_column(String(1024))
    source_event_id: Mapped[str] = mapped_column(String(36))
    metrics: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Phase 1's embeddings (N, D), rows in the order of Member.row: what a split clusters on. Null for
    # sessions opened before splits existed (migration 0003).
    embeddings_bucket: Mapped[str | None] = mapped_column(String(63), nullable=True)
    embeddings_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)


class Cluster(Base):
    __tablename__ = "clusters"
    __table_args__ = (
        ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        Index("ix_clusters_run_size", "run_id", "size"),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cluster: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mean_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    exemplars: Mapped[list] = mapped_column(JSON, default=list)
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    discarded: Mapped[bool] = mapped_column(Boolean, default=False)
    discard_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # A split cluster keeps its row (the audit and undo refer to it) with size 0 and split = True; its
    # parts are new clusters numbered after the run's K, each naming its parent.
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    split: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Member(Base):
    """One radiograph of a run: its cluster and what the archive knows of it (no patient data)."""

    __tablename__ = "members"
    __table_args__ = (
        ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        Index("ix_members_cluster", "run_id", "cluster", "confidence"),
        Index("ix_members_sha256", "run_id", "sha256"),
    )

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    image_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cluster: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body_part: Mapped[str | None] = mapped_column(String(64), nullable=True)
    thumbnail_key: Mapped[str] = mapped_column(String(1024))
    row: Mapped[int | None] = mapped_column(Integer, nullable=True)  # its row in the run's embeddings
    # Where phase 1 put it, once a split or a move changed ``cluster`` (null: still there).
    phase1_cluster: Mapped[int | None] = mapped_column(Integer, nullable=True)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    known_labels: Mapped[str | None] = mapped_column(String(512), nullable=True)  # ';'-joined, from a CSV
    derivative_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)  # full size, for the viewer
    facts: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # modality, view, laterality, size, site
    # An excluded radiograph named one by one (migration 0004); its own version, as a cluster's.
    label: Mapped[str | None] = mapped_column(String(64), nullable=True)
    label_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class VocabularyEntry(Base):
    __tablename__ = "vocabulary"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    synonyms: Mapped[list] = mapped_column(JSON, default=list)
    origin: Mapped[str] = mapped_column(String(16))  # seed | admin | label (a new name a labeler used)
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_cluster", "run_id", "cluster", "id"),
        Index("ix_audit_image", "run_id", "image_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    cluster: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    who: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    before: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    image_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # a change of one radiograph


class LabelSet(Base):
    """A published, immutable label set: never updated, only added (version N+1)."""

    __tablename__ = "labelsets"
    __table_args__ = (ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),)

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict] = mapped_column(JSON)
    object_key: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The outbox: null until labels.published is acknowledged by the broker (then never changed again).
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    object_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # size of the stored JSON


class Suggestion(Base):
    """A proposed name for a cluster, from known labels (CSV) or DICOM BodyPartExamined: shown to the
    radiologist, applied only when accepted."""

    __tablename__ = "suggestions"
    __table_args__ = (
        ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
        UniqueConstraint("run_id", "cluster", "source", name="uq_suggestion_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64))
    cluster: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # csv | dicom
    label: Mapped[str] = mapped_column(String(64))
    share: Mapped[float] = mapped_column(Float)
    support: Mapped[int] = mapped_column(Integer)  # members with a known label that voted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
