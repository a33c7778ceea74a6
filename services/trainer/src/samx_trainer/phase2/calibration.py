"""The ``uncertain`` threshold served models flag predictions with, calibrated on validation data.

Rule: among thresholds t on the top-1 probability, take the lowest t for which the predictions with
confidence >= t are right at least ``target`` of the time (selective accuracy), provided those
predictions cover at least ``min_coverage`` of the images. When no such t reaches the target (a weak
model), t is the confidence that leaves exactly ``min_coverage`` of the images confident: the serving
side then flags the least certain (1 - min_coverage) rather than everything or nothing.

Computed on the out-of-fold validation predictions of the cross-validation, which the model being
calibrated did not train on."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Threshold:
    threshold: float
    accuracy_above: float  # accuracy of the predictions at or above it
    coverage: float  # share of images at or above it
    target_met: bool

    def to_dict(self) -> dict:
        return asdict(self)


def calibrate_threshold(confidence: np.ndarray, correct: np.ndarray, target: float, min_coverage: float) -> Threshold:
    """confidence: (N,) top-1 probabilities; correct: (N,) bool hits of the top-1 prediction."""
    if len(confidence) == 0:
        raise ValueError("no validation predictions to calibrate on")
    order = np.argsort(-confidence, kind="stable")
    conf, hit = confidence[order], correct[order].astype(float)
    # thresholds at each distinct confidence: the last index of each run of equal values
    last = np.flatnonzero(np.r_[conf[1:] != conf[:-1], True])
    covered = last + 1
    accuracy = np.cumsum(hit)[last] / covered
    coverage = covered / len(conf)
    ok = (accuracy >= target) & (coverage >= min_coverage)
    if ok.any():
        i = int(np.flatnonzero(ok)[-1])  # the lowest threshold that still meets the target
    else:
        i = int(np.flatnonzero(coverage >= min_coverage)[0])
    return Threshold(float(conf[last[i]]), float(accuracy[i]), float(coverage[i]), bool(ok.any()))
