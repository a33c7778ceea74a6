"""Phase-2 inputs: the radiologist's label set, the phase-1 run's assignments, label injection.

Label injection (Hinterwimmer et al., Eur Radiol 2023): every radiograph of a named cluster takes the
cluster's name; clusters with the same name merge into one class. A discarded cluster leaves the
training set, or, with ``discard_as_class``, its radiographs form a "not musculoskeletal" class so the
served model can say so. A cluster the radiologist neither named nor discarded is left out too: nobody
vouched for it. Where the radiologist fixed a cluster from inside, the label set's ``placements`` (a
split's parts, moved radiographs) and ``excluded`` apply on top of phase 1's assignments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import ValidationError
from samx_core.archive import AssignmentsError, LabelSetDocument, read_assignments


class Phase2DataError(ValueError):
    """The run, its label set or its radiographs cannot make a phase-2 training set."""


@dataclass(frozen=True)
class ClusterDecision:
    cluster: int
    label: str | None
    discarded: bool
    flagged: bool = False


@dataclass(frozen=True)
class LabelSet:
    run_id: str
    version: int
    published_by: str
    clusters: tuple[ClusterDecision, ...]
    placements: dict[str, int] = field(default_factory=dict)  # image id -> cluster (a split's part, a move)
    excluded: frozenset[str] = frozenset()  # radiographs the radiologist took out: they train nothing
    image_labels: dict[str, str] = field(default_factory=dict)  # excluded ones named one by one: they do

    @classmethod
    def from_document(cls, doc: object) -> LabelSet:
        """Parse the stored label set (``samx_core.archive.LabelSetDocument``)."""
        try:
            parsed = LabelSetDocument.model_validate(doc)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}" for e in exc.errors()[:3]
            )
            raise Phase2DataError(f"malformed label set: {problems}") from None
        decisions = tuple(
            ClusterDecision(
                cluster=c.cluster, label=(c.label or "").strip() or None, discarded=c.discarded, flagged=c.flagged
            )
            for c in parsed.clusters
        )
        return cls(
            parsed.run_id,
            parsed.version,
            parsed.published_by,
            decisions,
            placements=dict(parsed.placements),
            excluded=frozenset(parsed.excluded),
            image_labels={i: n.strip() for i, n in parsed.labels.items() if n.strip()},
        )


def parse_assignments(data: bytes) -> dict[str, int]:
    """Phase 1's ``assignments.csv`` (``samx_core.archive.AssignmentRow``) -> image id -> cluster."""
    try:
        return {row.image_id: row.cluster for row in read_assignments(data)}
    except AssignmentsError as exc:
        raise Phase2DataError(str(exc)) from None


@dataclass(frozen=True)
class InjectedLabels:
    image_ids: list[str]  # the training set, sorted
    target: np.ndarray  # (N,) int64 index into classes
    classes: list[str]  # sorted names (+ the not-msk class when trained)
    not_msk_class: str | None
    n_discarded: int  # radiographs of discarded clusters left out
    n_undecided: int  # radiographs of clusters with neither a name nor a discard
    n_excluded: int = 0  # radiographs the radiologist excluded from their cluster
    n_placed: int = 0  # radiographs in another cluster than phase 1's (a split's part, a move)

    def counts(self) -> dict[str, int]:
        return {c: int((self.target == i).sum()) for i, c in enumerate(self.classes)}


def inject_labels(
    labelset: LabelSet,
    assignments: dict[str, int],
    *,
    discard_as_class: bool = False,
    not_msk_name: str = "not_msk",
) -> InjectedLabels:
    """Image -> cluster (as the label set placed it) -> the cluster's name. Raises when fewer than two
    classes remain."""
    decisions = {d.cluster: d for d in labelset.clusters}
    names: dict[str, str] = {}
    n_discarded = n_undecided = n_excluded = n_placed = 0
    for image_id, phase1_cluster in assignments.items():
        if image_id in labelset.image_labels:  # named on its own: wins over its exclusion and its cluster
            names[image_id] = labelset.image_labels[image_id]
            continue
        if image_id in labelset.excluded:
            n_excluded += 1
            continue
        cluster = labelset.placements.get(image_id, phase1_cluster)
        n_placed += cluster != phase1_cluster
        d = decisions.get(cluster)
        if d is not None and d.discarded:
            if discard_as_class:
                names[image_id] = not_msk_name
            else:
                n_discarded += 1
        elif d is not None and d.label:
            names[image_id] = d.label
        else:
            n_undecided += 1
    classes = sorted(set(names.values()))
    if len(classes) < 2:
        raise Phase2DataError(
            f"label set v{labelset.version} of run {labelset.run_id} leaves {len(classes)} class(es) "
            f"with radiographs; a classifier needs at least 2"
        )
    index = {c: i for i, c in enumerate(classes)}
    ids = sorted(names)
    return InjectedLabels(
        image_ids=ids,
        target=np.array([index[names[i]] for i in ids], dtype=np.int64),
        classes=classes,
        not_msk_class=not_msk_name if discard_as_class and not_msk_name in index else None,
        n_discarded=n_discarded,
        n_undecided=n_undecided,
        n_excluded=n_excluded,
        n_placed=n_placed,
    )
