"""Phase-2 inputs: the radiologist's label set, the phase-1 run's assignments, label injection.

Label injection (Hinterwimmer et al., Eur Radiol 2023): every radiograph of a named cluster takes the
cluster's name; clusters with the same name merge into one class. A discarded cluster leaves the
training set, or, with ``discard_as_class``, its radiographs form a "not musculoskeletal" class so the
served model can say so. A cluster the radiologist neither named nor discarded is left out too: nobody
vouched for it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np


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

    @classmethod
    def from_document(cls, doc: object) -> LabelSet:
        """Parse ``{run_id, version, published_by, clusters: [{cluster, label|null, discarded, flagged}]}``."""
        if not isinstance(doc, dict) or not isinstance(doc.get("clusters"), list):
            raise Phase2DataError("the label set is not an object with a 'clusters' list")
        try:
            decisions = tuple(
                ClusterDecision(
                    cluster=int(c["cluster"]),
                    label=(str(c["label"]).strip() or None) if c.get("label") is not None else None,
                    discarded=bool(c.get("discarded", False)),
                    flagged=bool(c.get("flagged", False)),
                )
                for c in doc["clusters"]
            )
            return cls(str(doc["run_id"]), int(doc["version"]), str(doc.get("published_by", "")), decisions)
        except (KeyError, TypeError, ValueError) as exc:
            raise Phase2DataError(f"malformed label set: {type(exc).__name__} {exc}") from exc


def parse_assignments(data: bytes) -> dict[str, int]:
    """Phase 1's ``assignments.csv`` (image_id, cluster, confidence, second) -> image id -> cluster."""
    rows = csv.DictReader(io.StringIO(data.decode("utf-8")))
    if not {"image_id", "cluster"} <= set(rows.fieldnames or []):
        raise Phase2DataError("assignments.csv needs the columns image_id and cluster")
    return {r["image_id"]: int(r["cluster"]) for r in rows}


@dataclass(frozen=True)
class InjectedLabels:
    image_ids: list[str]  # the training set, sorted
    target: np.ndarray  # (N,) int64 index into classes
    classes: list[str]  # sorted names (+ the not-msk class when trained)
    not_msk_class: str | None
    n_discarded: int  # radiographs of discarded clusters left out
    n_undecided: int  # radiographs of clusters with neither a name nor a discard

    def counts(self) -> dict[str, int]:
        return {c: int((self.target == i).sum()) for i, c in enumerate(self.classes)}


def inject_labels(
    labelset: LabelSet,
    assignments: dict[str, int],
    *,
    discard_as_class: bool = False,
    not_msk_name: str = "not_msk",
) -> InjectedLabels:
    """Image -> cluster -> the cluster's name. Raises when fewer than two classes remain."""
    decisions = {d.cluster: d for d in labelset.clusters}
    names: dict[str, str] = {}
    n_discarded = n_undecided = 0
    for image_id, cluster in assignments.items():
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
    )
