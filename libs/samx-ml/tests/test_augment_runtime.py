"""Augmentation shapes and ranges, corruptions, backbone shapes, the epoch planner."""

import pytest
import torch
from samx_ml.augment import AugmentConfig, eval_transform, gaussian_blur, photometric, random_affine_crop, random_view
from samx_ml.backbone import build_backbone
from samx_ml.corruptions import CORRUPTIONS
from samx_ml.runtime import EpochPlanner, as_image_tensor, warmup_cosine

X = torch.randint(0, 256, (4, 1, 64, 48), dtype=torch.uint8)


def test_random_view_shape_and_standardized():
    v = random_view(X, 32)
    assert v.shape == (4, 1, 32, 32) and v.dtype == torch.float32 and torch.isfinite(v).all()
    assert v.mean(dim=(1, 2, 3)).abs().max() < 1e-4
    assert (v.std(dim=(1, 2, 3)) - 1).abs().max() < 0.05
    assert not torch.equal(random_view(X, 32), random_view(X, 32))  # random


def test_identity_affine_crop_keeps_the_image():
    cfg = AugmentConfig(scale=(1.0, 1.0), ratio=(1.0, 1.0), rotation_deg=0.0, p_hflip=0.0, p_vflip=0.0)
    x = torch.rand(2, 1, 16, 16)
    assert torch.allclose(random_affine_crop(x, 16, cfg), x, atol=1e-5)
    flipped = random_affine_crop(
        x, 16, AugmentConfig(scale=(1.0, 1.0), ratio=(1.0, 1.0), rotation_deg=0.0, p_hflip=1.0, p_vflip=0.0)
    )
    assert torch.allclose(flipped, x.flip(-1), atol=1e-5)


def test_zoom_out_frames_the_whole_image_in_black():
    still = dict(ratio=(1.0, 1.0), rotation_deg=0.0, p_hflip=0.0, p_vflip=0.0)
    ones = torch.ones(6, 1, 32, 32)
    framed = random_affine_crop(ones, 32, AugmentConfig(scale=(1.0, 1.0), p_zoom_out=1.0, zoom_out=(4.0, 4.0), **still))
    # a view of 4x the image's area: the image fills a quarter of it, wherever it lands, all of it in view
    assert torch.allclose(framed.sum(dim=(1, 2, 3)), torch.full((6,), 32 * 32 / 4), rtol=0.03)
    assert ((framed < 1e-3).float().mean(dim=(1, 2, 3)) > 0.7).all()
    # off by default: a zoom-in-only view of a constant image has no black frame (a crop that reaches the
    # image's edge blends its outermost output pixels at most half with the outside: never below 0.5)
    plain = random_affine_crop(torch.ones(64, 1, 32, 32), 32, AugmentConfig(**still), torch.Generator().manual_seed(0))
    assert plain.min() >= 0.5 and (plain > 0.99).float().mean() > 0.9


def test_photometric_stays_in_range():
    y = photometric(torch.rand(8, 1, 32, 32), AugmentConfig(p_intensity=1.0, p_blur=1.0, p_noise=1.0))
    assert y.min() >= 0 and y.max() <= 1


def test_blur_preserves_constants_and_smooths():
    assert torch.allclose(gaussian_blur(torch.full((2, 1, 9, 9), 0.3), torch.tensor([1.0, 2.0])), torch.tensor(0.3))
    noisy = torch.rand(1, 1, 32, 32)
    assert gaussian_blur(noisy, torch.tensor([2.0])).std() < noisy.std()


def test_eval_transform_is_deterministic():
    assert torch.equal(eval_transform(X, 24), eval_transform(X, 24))
    assert eval_transform(X, 24).shape == (4, 1, 24, 24)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruptions_keep_shape_and_range(name):
    x = torch.rand(2, 1, 96, 96)
    y = CORRUPTIONS[name](x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(y, x)
    assert torch.equal(y, CORRUPTIONS[name](x))  # deterministic


@pytest.mark.parametrize(("arch", "dim"), [("resnet18", 512), ("resnet50", 2048)])
def test_backbone_single_channel_features(arch, dim):
    net = build_backbone(arch).eval()
    assert net.feature_dim == dim
    with torch.no_grad():
        assert net(torch.randn(2, 1, 32, 32)).shape == (2, dim)
    with pytest.raises(ValueError, match="unknown"):
        build_backbone("vgg")


def test_epoch_planner_fits_the_budget():
    p = EpochPlanner(max_epochs=100, budget_s=10.5)
    p.start -= 2.0  # pretend the first epoch took 2 s
    assert p.after_epoch(1, 2.0)
    assert p.epochs == 5  # 1 done + floor(8.5 s / 2 s)
    unlimited = EpochPlanner(max_epochs=3, budget_s=None)
    assert unlimited.after_epoch(2, 100.0) and not unlimited.after_epoch(3, 100.0)


def test_warmup_cosine():
    assert warmup_cosine(0.05, 0.1) == pytest.approx(0.5)
    assert warmup_cosine(0.1, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(1.0, 0.1) == pytest.approx(0.0)


def test_as_image_tensor_accepts_datasets_and_rejects_bad_shapes():
    ds = [(X[i], 0) for i in range(4)]
    assert torch.equal(as_image_tensor(ds), X)
    with pytest.raises(ValueError, match="single-channel"):
        as_image_tensor(torch.zeros(2, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="empty"):
        as_image_tensor(torch.zeros(0, 1, 8, 8, dtype=torch.uint8))
