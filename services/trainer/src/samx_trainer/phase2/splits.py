"""Patient-grouped, class-stratified splits: a hold-out test part, then k cross-validation folds.

Radiographs of one patient never sit on both sides of a split (a knee seen in training would make the
same knee in the test part easy). Groups are the hashed patient ids the ingest records carry, or the
image itself where there is none. Stratification keeps each class's share about equal across parts
(scikit-learn's ``StratifiedGroupKFold``, which balances both constraints greedily)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from samx_trainer.phase2.data import Phase2DataError


@dataclass(frozen=True)
class Splits:
    development: np.ndarray  # indices the folds and the final model train on
    holdout: np.ndarray  # indices only the final test sees
    folds: list[tuple[np.ndarray, np.ndarray]]  # (train, validation) indices into the whole set


def _group_ids(groups: list[str]) -> np.ndarray:
    _, inverse = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    return inverse


def _kfold(y: np.ndarray, g: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    n_groups = len(np.unique(g))
    if n_groups < k:
        raise Phase2DataError(f"{n_groups} patients cannot make {k} folds")
    with warnings.catch_warnings():  # "least populated class has fewer members than n_splits": expected
        warnings.simplefilter("ignore", UserWarning)
        return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, g))


def make_splits(y: np.ndarray, groups: list[str], *, k: int, holdout_fraction: float, seed: int = 0) -> Splits:
    """Hold out about ``holdout_fraction`` of the patients, then k folds over the rest."""
    g = _group_ids(groups)
    parts = max(2, round(1 / holdout_fraction))
    dev_pos, hold_pos = _kfold(y, g, parts, seed)[0]
    folds = [(dev_pos[tr], dev_pos[va]) for tr, va in _kfold(y[dev_pos], g[dev_pos], k, seed + 1)]
    return Splits(np.sort(dev_pos), np.sort(hold_pos), folds)
