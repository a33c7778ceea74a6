"""The OOD scores of samx_ml.ood on two Gaussian blobs: in-distribution points score low, far points high,
and the threshold flags the calibrated share of held-out in-distribution points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from samx_ml import ood
from samx_ml.backbone import Backbone
from samx_ml.classifier import Classifier

D = 16


def _blobs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two classes, means +-8 on the first axis, anisotropic noise shared by both: (2n, D), (2n,)."""
    scale = np.linspace(0.2, 1.0, D)
    centre = np.zeros(D)
    centre[0] = 8.0
    x = np.concatenate([centre + rng.normal(size=(n, D)) * scale, -centre + rng.normal(size=(n, D)) * scale])
    return x, np.repeat([0, 1], n)


@pytest.mark.parametrize("method", ood.METHODS)
def test_far_points_score_higher_than_held_out_in_distribution_points(method):
    rng = np.random.default_rng(0)
    x, y = _blobs(rng, 400)
    held_out, _ = _blobs(rng, 200)
    detector = ood.fit(method, x, y, k=5)
    near = detector.score(held_out)
    # far: a point between the blobs along the lowest-variance axis, points in random directions (kNN
    # compares directions: it normalises the features, as Sun et al. do), one along all axes at once
    far = np.concatenate([np.eye(D)[[1]] * 8.0, rng.normal(size=(50, D)) * 8.0, np.full((1, D), 8.0)])
    scores = detector.score(far)
    assert scores.min() > np.quantile(near, 0.99)
    assert detector.score(x[:5]).shape == (5,)


@pytest.mark.parametrize("method", ood.METHODS)
def test_the_threshold_flags_the_calibrated_share_of_held_out_radiographs(method):
    rng = np.random.default_rng(1)
    x, y = _blobs(rng, 300)
    calibration, _ = _blobs(rng, 500)
    fresh, _ = _blobs(rng, 2000)
    detector = ood.fit(method, x, y).calibrated(calibration, 0.05)
    assert detector.in_flag_rate == 0.05 and detector.n_calibration == 1000
    assert detector.flags(calibration).mean() == pytest.approx(0.05, abs=0.002)  # the quantile rule
    assert detector.flags(fresh).mean() == pytest.approx(0.05, abs=0.02)  # and it holds on new points
    assert detector.flags(np.full((3, D), 8.0)).all()
    stricter = detector.at_rate(0.01)
    assert stricter.threshold > detector.threshold and stricter.flags(calibration).mean() <= 0.011


def test_uncalibrated_never_flags_and_a_bad_rate_is_refused():
    x, y = _blobs(np.random.default_rng(2), 50)
    detector = ood.fit("mahalanobis", x, y)
    assert not detector.flags(np.full((2, D), 1e3)).any()  # threshold inf until calibrated
    with pytest.raises(ValueError, match="never calibrated"):
        detector.at_rate(0.1)
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        detector.calibrated(x, 1.5)
    with pytest.raises(ValueError, match="features"):
        detector.score(np.zeros((2, D + 1)))
    with pytest.raises(ValueError, match="one of"):
        ood.fit("energy", x, y)


@pytest.mark.parametrize("method", ood.METHODS)
def test_the_detector_survives_its_file_unchanged(method):
    rng = np.random.default_rng(3)
    x, y = _blobs(rng, 100)
    detector = ood.fit(method, x, y, k=3).calibrated(_blobs(rng, 50)[0], 0.1)
    again = ood.OODDetector.from_bytes(detector.to_bytes())
    probe = rng.normal(size=(20, D)) * 3
    assert (again.method, again.k, again.threshold, again.in_flag_rate) == (method, detector.k, detector.threshold, 0.1)
    np.testing.assert_allclose(again.score(probe), detector.score(probe), rtol=1e-5)
    assert again.at_rate(0.2).threshold == detector.at_rate(0.2).threshold
    assert detector.describe()["method"] == method


def test_the_layer_ensemble_flags_a_point_far_in_one_block_only():
    """Two blocks of features; a point normal in the last block but far in the first is flagged by the
    ensemble and missed by the last block alone (what an early layer sees: texture, intensity)."""
    rng = np.random.default_rng(4)
    x0, y = _blobs(rng, 300)
    x1, _ = _blobs(rng, 300)
    x = np.concatenate([x0, x1], axis=1)  # (600, 2D): blocks of D and D
    held = np.concatenate([_blobs(rng, 200)[0], _blobs(rng, 200)[0]], axis=1)
    probe = held[:1].copy()
    probe[0, 1] += 12.0  # 12 sigma off on a low-variance axis of the first block
    layers = ood.fit("mahalanobis_layers", x, y, [D, D]).calibrated(held, 0.02)
    last = ood.fit("mahalanobis", x, y, [D, D]).calibrated(held, 0.02)
    assert layers.flags(probe).all() and not last.flags(probe).any()
    assert layers.block_scores(probe).shape == (1, 2) and last.block_scores(probe).shape == (1, 1)
    assert layers.flags(held).mean() == pytest.approx(0.02, abs=0.003)


def test_features_and_logits_are_the_models_own_forward_pass():
    torch.manual_seed(0)
    model = Classifier(Backbone("resnet18"), 4).eval()
    x = torch.randn(3, 1, 64, 64)
    features, logits = ood.features_and_logits(model, x)
    with torch.no_grad():
        expected = model(x)
    assert features.shape == (3, sum(ood.block_dims(model))) == (3, 128 + 256 + 512 + 512)
    torch.testing.assert_close(logits, expected)
    torch.testing.assert_close(features[:, -512:], model.backbone(x).detach())
