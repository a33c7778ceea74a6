"""Phase 2's out-of-distribution calibration, stored with the model: serving flags ``not_msk`` with it.

The final model's features of the development radiographs (what it trained on) fit the score
(``samx_ml.ood``: Mahalanobis distances to class-conditional Gaussians with a shared covariance on the
penultimate features and on three earlier stages' activation statistics, summed: Lee et al., NeurIPS
2018, with their feature ensemble; the choice is measured in bench/ood.py); the threshold is the score that
``in_flag_rate`` of the hold-out radiographs (patients the final model never saw) exceed, so about that
share of new MSK radiographs is flagged. The statistics go to the registry as ``models/<version>/ood.npz``;
the manifest's metrics name the threshold and the rate (``ood_threshold``, ``ood_in_flag_rate``), which
tells serving that the version has a calibration to load."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import torch
from samx_ml import ood
from samx_ml.bundle import ModelManifest
from samx_ml.classifier import Classifier

log = logging.getLogger(__name__)


def calibrate_ood(
    model: Classifier,
    images: torch.Tensor,
    classes: np.ndarray,
    development: np.ndarray,
    holdout: np.ndarray,
    image_size: int,
    *,
    method: str = ood.DEFAULT_METHOD,
    in_flag_rate: float = ood.DEFAULT_IN_FLAG_RATE,
) -> ood.OODDetector:
    """uint8 squares (N, 1, S, S), class index per image (N,), the final model's training and hold-out
    indices -> the fitted, calibrated detector."""
    if len(holdout) == 0:
        raise ValueError("the OOD threshold needs hold-out radiographs (SAMX_TRAINER_HOLDOUT_FRACTION > 0)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    fit_features, _ = ood.features_of(model, images[torch.as_tensor(development)], image_size, device)
    held_features, _ = ood.features_of(model, images[torch.as_tensor(holdout)], image_size, device)
    model.cpu()
    detector = ood.fit(method, fit_features, classes[development], ood.block_dims(model))
    detector = detector.calibrated(held_features, in_flag_rate)
    log.info(
        "OOD %s: threshold %.3f flags %.3f of %d hold-out radiographs",
        detector.method, detector.threshold, in_flag_rate, len(holdout),
    )  # fmt: skip
    return detector


def ood_metrics(detector: ood.OODDetector) -> dict[str, float]:
    """What the manifest's metrics say about the calibration (serving reads ``ood_threshold``)."""
    return {
        "ood_threshold": float(detector.threshold),
        "ood_in_flag_rate": float(detector.in_flag_rate or 0.0),
        "ood_n_calibration": float(detector.n_calibration),
    }


def with_ood(manifest: ModelManifest, detector: ood.OODDetector) -> ModelManifest:
    return replace(manifest, metrics={**manifest.metrics, **ood_metrics(detector)})


__all__ = ["calibrate_ood", "ood_metrics", "with_ood"]
