"""Run profiles: configuration dataclasses for the three sizes of a run.

- ``ci``:  minutes on 2 CPU cores, 64 px, ResNet-18, a few epochs (tests, smoke runs).
- ``dev``: the dev data set (~1.5k fit images) on this machine's 2 CPU cores in under an hour, 96 px.
- ``gpu``: one H100/H200, 224 px, ResNet-18, schedule bounded by a wall-clock budget. ResNet-18 rather
  than ResNet-50: with ~1.5k fit images and minutes of GPU time, ResNet-18 does ~3x the epochs (about
  200 SimCLR epochs in ~3.5 minutes against ~70 for ResNet-50), and on small data sets SimCLR/SCAN gain
  more from epochs than from width (SCAN's CIFAR runs: ResNet-18, 500 epochs).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from samx_ml.augment import WEAK, AugmentConfig


@dataclass(frozen=True)
class PretextConfig:
    """SimCLR (arXiv:2002.05709) schedule; SGD + cosine as in SCAN's CIFAR pretext config."""

    arch: str = "resnet18"
    image_size: int = 224
    epochs: int = 500
    batch_size: int = 256
    lr_per_256: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 1e-4
    temperature: float = 0.1
    proj_hidden: int = 512
    proj_dim: int = 128
    warmup_frac: float = 0.05
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class ScanConfig:
    """SCAN (arXiv:2005.12320) on frozen backbone features (its ImageNet setting: heads only)."""

    n_clusters: int | None = None  # None: samx_ml.k_rule.choose_k
    n_neighbors: int = 20
    n_heads: int = 5
    entropy_weight: float = 5.0
    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    n_views: int = 8  # augmented views per image precomputed in the feature bank (view 0 = eval view)
    # PCA-whiten the bank to this many dims, fitted on the archive's eval views, when the archive has at
    # least 10 images per dim (samx_ml.clustering); None: off
    whiten_dims: int | None = 128
    augment: AugmentConfig = field(default_factory=lambda: replace(AugmentConfig(), scale=(0.5, 1.0)))


@dataclass(frozen=True)
class SelfLabelConfig:
    enabled: bool = True
    threshold: float = 0.99
    epochs: int = 50
    lr: float = 1e-4
    collapse_tolerance: float = 0.1  # stop and roll back when more than 10% of the clusters empty out


@dataclass(frozen=True)
class ClassifierConfig:
    """Phase 2: phase-1 backbone + new linear head, fine-tuned (AdamW, cosine)."""

    image_size: int = 224
    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3
    backbone_lr_mult: float = 0.5
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    balance: str = "weighted"  # "none" | "weighted" (loss weights) | "sampler" (class-balanced sampling)
    balance_power: float = 0.5  # weights ~ frequency^-power: 1 = fully balanced, 0.5 = square-root
    warmup_frac: float = 0.05
    # zoom-out: radiographs from other sites arrive framed; measured in bench/robustness.py (results README)
    augment: AugmentConfig = field(default_factory=lambda: replace(AugmentConfig(), scale=(0.5, 1.0), p_zoom_out=0.3))


@dataclass(frozen=True)
class Profile:
    name: str
    pretext: PretextConfig
    scan: ScanConfig
    self_label: SelfLabelConfig
    classifier: ClassifierConfig
    weak_augment: AugmentConfig = WEAK


def get_profile(name: str) -> Profile:
    if name == "ci":
        return Profile(
            "ci",
            PretextConfig(image_size=64, epochs=8, batch_size=64, lr_per_256=0.4),
            ScanConfig(epochs=60, n_views=4, batch_size=128),
            SelfLabelConfig(epochs=10),
            ClassifierConfig(image_size=64, epochs=6, batch_size=64),
        )
    if name == "dev":
        return Profile(
            "dev",
            PretextConfig(image_size=96, epochs=80, batch_size=128),
            ScanConfig(epochs=200, n_views=6),
            SelfLabelConfig(epochs=30),
            ClassifierConfig(image_size=96, epochs=30, batch_size=64),
        )
    if name == "gpu":
        return Profile(
            "gpu",
            PretextConfig(image_size=224, epochs=500, batch_size=256),
            ScanConfig(epochs=300, n_views=10),
            SelfLabelConfig(epochs=50),
            ClassifierConfig(image_size=224, epochs=60, batch_size=128),
        )
    if name == "gpu-r50":
        # The wider backbone with a longer phase-2 schedule; the second H200 run (bench/results).
        return Profile(
            name,
            PretextConfig(arch="resnet50", image_size=224, epochs=1000, batch_size=256),
            ScanConfig(epochs=300, n_views=10),
            SelfLabelConfig(epochs=50),
            ClassifierConfig(image_size=224, epochs=300, batch_size=128),
        )
    raise ValueError(f"unknown profile {name!r}: ci, dev, gpu or gpu-r50")
