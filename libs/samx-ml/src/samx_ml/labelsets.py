"""Label sets of radiographs: ``"hand;wrist"`` strings <-> a multi-hot matrix and a primary label.

Ground truth may name several regions per radiograph (about 8% of the dev data). Everywhere in
``samx_ml`` a label set is carried as

- ``multi_hot``: bool array (N, C), True where the class is among the image's labels;
- ``primary``:   int array (N,), the first listed label (used where a single label is needed, e.g. NMI),
  ``-1`` for an unlabeled image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelSets:
    classes: tuple[str, ...]
    multi_hot: np.ndarray  # (N, C) bool
    primary: np.ndarray  # (N,) int64, -1 when unlabeled

    @property
    def labeled(self) -> np.ndarray:
        """(N,) bool: the image has at least one label."""
        return self.primary >= 0

    def subset(self, idx: np.ndarray) -> LabelSets:
        return LabelSets(self.classes, self.multi_hot[idx], self.primary[idx])


def parse_label_sets(strings: Sequence[str], classes: Sequence[str] | None = None, sep: str = ";") -> LabelSets:
    """Parse ``["chest", "hand;wrist", ""]`` into a :class:`LabelSets` (empty string = unlabeled).

    ``classes`` fixes the vocabulary and its order; by default the sorted set of names seen.
    """
    split = [[p.strip() for p in s.split(sep) if p.strip()] if s else [] for s in strings]
    if classes is None:
        classes = sorted({name for names in split for name in names})
    index = {c: i for i, c in enumerate(classes)}
    multi_hot = np.zeros((len(split), len(classes)), dtype=bool)
    primary = np.full(len(split), -1, dtype=np.int64)
    for row, names in enumerate(split):
        for j, name in enumerate(names):
            if name not in index:
                raise ValueError(f"label {name!r} is not in the vocabulary {list(classes)}")
            multi_hot[row, index[name]] = True
            if j == 0:
                primary[row] = index[name]
    return LabelSets(tuple(classes), multi_hot, primary)


def one_hot_from_primary(primary: np.ndarray, n_classes: int) -> np.ndarray:
    """(N,) int -> (N, C) bool; rows with ``-1`` stay all False."""
    out = np.zeros((len(primary), n_classes), dtype=bool)
    ok = primary >= 0
    out[np.flatnonzero(ok), primary[ok]] = True
    return out
