"""Whitening the phase-1 feature bank (samx_ml.clustering.Whitening): what it computes, and the case it
exists for, where a strong nuisance direction (a source, an exposure) hides the classes from cosine
neighbours."""

import torch
from samx_ml.clustering import WHITEN_MIN_IMAGES_PER_DIM, FeatureBank, Whitening, feature_bank
from samx_ml.neighbors import mine_neighbors, neighbor_accuracy
from samx_ml.profiles import ScanConfig


def test_whitened_features_are_centred_decorrelated_and_unit_length():
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(16, 16, generator=g) * torch.linspace(10, 0.1, 16)  # very unequal variances
    features = torch.randn(500, 16, generator=g) @ mixing + 3.0
    whitening = Whitening.fit(features, dims=8)
    assert whitening.projection.shape == (16, 8)
    projected = (features - whitening.mean) @ whitening.projection
    assert torch.allclose(projected.mean(0), torch.zeros(8), atol=1e-4)
    assert torch.allclose(projected.T @ projected, torch.eye(8), atol=1e-3)  # unit variance per direction
    assert torch.allclose(whitening(features).norm(dim=1), torch.ones(500), atol=1e-5)


def test_a_rank_deficient_set_keeps_only_the_directions_it_has():
    features = torch.randn(50, 3) @ torch.randn(3, 32)  # rank 3 in 32 dims
    whitening = Whitening.fit(features, dims=16)
    assert whitening.projection.shape == (32, 3) and torch.isfinite(whitening(features)).all()


def test_whitening_recovers_classes_that_a_nuisance_direction_hides_from_cosine_neighbours():
    g = torch.Generator().manual_seed(1)
    n = 400
    label = torch.arange(n) % 2
    features = 0.3 * torch.randn(n, 32, generator=g)
    features[:, :2] += 20.0 * torch.randn(n, 2, generator=g)  # source, exposure: large, unrelated to anatomy
    features[:, 2] += 2.0 * (2 * label - 1)  # the anatomy: small but clean
    features += 5.0  # a common offset, as ReLU features have
    multi_hot = torch.nn.functional.one_hot(label, 2).bool().numpy()
    plain = FeatureBank(torch.nn.functional.normalize(features, dim=1)[None], None)
    whitening = Whitening.fit(features, dims=8)
    whitened = FeatureBank(whitening(features)[None], whitening)
    plain_acc = neighbor_accuracy(mine_neighbors(plain.views[0], 10), multi_hot)
    whitened_acc = neighbor_accuracy(mine_neighbors(whitened.views[0], 10), multi_hot)
    assert plain_acc < 0.7 and whitened_acc > 0.9, (plain_acc, whitened_acc)  # measured: 0.60 and 0.96
    # other images' features land in the same space as the bank's
    assert torch.allclose(whitened.features_of(features[:5]), whitened.views[0][:5])
    assert torch.allclose(plain.features_of(features[:5]), plain.views[0][:5])


def test_a_small_archive_keeps_the_plain_bank():
    """Whitening 60 images to nearly 60 dims would make them all equidistant."""
    backbone = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    images = torch.randint(0, 256, (60, 1, 32, 32), dtype=torch.uint8)
    args = (backbone, images, 32, 2, ScanConfig().augment, torch.device("cpu"))
    small = feature_bank(*args, whiten_dims=60 // WHITEN_MIN_IMAGES_PER_DIM + 1)
    assert small.whitening is None and small.views.shape == (2, 60, 32)
    enough = feature_bank(*args, whiten_dims=60 // WHITEN_MIN_IMAGES_PER_DIM)
    assert enough.whitening is not None and enough.views.shape == (2, 60, 6)
