"""Out-of-distribution score on the classifier's features: is this a radiograph like the ones the model
was trained on?

Features, one pass (``features_and_logits``): the penultimate features (the linear head's input,
``Backbone.feature_dim``: 512 for ResNet-18) and, per residual stage 1-3, the channel-wise spatial mean
and standard deviation of its activation map (ResNet-18: 128 + 256 + 512). Concatenated as ``(B, F)``
(F = 1,408 for ResNet-18) with ``spans`` saying which columns are which block. Scores, higher = farther:

- ``"mahalanobis_layers"`` (the default; Lee, Lee, Lee & Shin, "A Simple Unified Framework for Detecting
  Out-of-Distribution Samples and Adversarial Attacks", NeurIPS 2018, with their feature ensemble):
  per block b, class-conditional Gaussians with one shared covariance,
  ``M_b(f) = min_c (f_b - mu_bc)^T Sigma_b^-1 (f_b - mu_bc)``; the blocks' scores are standardised by
  their mean and spread on held-out in-distribution radiographs and summed (Lee et al. weight them by a
  regression on OOD samples; we have none to fit on, so they weigh equally). Early blocks see texture
  and intensity statistics (noise, text, segmentation masks, ultrasound speckle), the last one anatomy.
- ``"mahalanobis"``: the same on the penultimate block alone (Lee et al.'s base score).
- ``"knn"`` (Sun, Ming, Zhu & Li, "Out-of-Distribution Detection with Deep Nearest Neighbors", ICML
  2022): the distance of the L2-normalised penultimate features to the k-th nearest training ones.

``bench/ood.py`` measured them, the max-softmax (Hendrycks & Gimpel, ICLR 2017) and energy (Liu et al.,
NeurIPS 2020) baselines on the dev radiographs against CT/MR/US/NM slices, masks, blank images, noise,
text and synthetic photographs (bench/results/ood/): the layer ensemble flagged the most OOD inputs at
the same in-distribution rate; the penultimate block alone missed masks, NM and many photographs, and
max-softmax and energy flagged about 5 % (AUROC 0.66 and 0.44). Each class mean is ``(C, D_b)``; each
``Sigma_b`` is the within-class covariance shrunk toward a scaled identity (Ledoit-Wolf), since a
phase-2 training set has about as many images as a block has dimensions, and is stored whitened
(``L_b``, ``Sigma_b^-1 = L_b L_b^T``; means times ``L_b``): a score is matrix products and distances.

The threshold is the ``1 - in_flag_rate`` quantile of the scores of held-out in-distribution radiographs
(not trained on; their features are less compact than the training ones), kept sorted so serving can
move it to another rate. All plain arrays in an ``.npz`` (no pickle), stored beside the model's weights.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from samx_ml.augment import eval_transform
from samx_ml.classifier import Classifier

METHODS = ("mahalanobis_layers", "mahalanobis", "knn")
DEFAULT_METHOD = "mahalanobis_layers"
DEFAULT_IN_FLAG_RATE = 0.025  # the 97.5th percentile of held-out in-distribution scores
DEFAULT_K = 5  # kNN: Sun et al. take k ~ 1 per 1,000 training images (k=50 of 50,000); we have ~1,000


@dataclass(frozen=True)
class OODDetector:
    """A fitted score and, once calibrated, its threshold (``inf``: never flags)."""

    method: str
    arrays: dict[str, np.ndarray] = field(repr=False)
    k: int = DEFAULT_K
    threshold: float = float("inf")
    in_flag_rate: float | None = None  # the rate the threshold was calibrated for
    n_calibration: int = 0

    @property
    def feature_dim(self) -> int:
        return int(self.arrays["dim"])

    def block_scores(self, features: np.ndarray) -> np.ndarray:
        """(B, F) features -> (B, n_blocks) raw scores (squared Mahalanobis distances, or kNN distances)."""
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or f.shape[1] != self.feature_dim:
            raise ValueError(f"expected (B, {self.feature_dim}) features, got {f.shape}")
        spans = self.arrays["spans"]
        if self.method == "knn":
            ((start, stop),) = spans
            z = f[:, start:stop] / np.clip(np.linalg.norm(f[:, start:stop], axis=1, keepdims=True), 1e-12, None)
            bank = self.arrays["bank"].astype(np.float64)  # (N, D), unit rows
            d = np.sqrt(np.clip(2.0 - 2.0 * z @ bank.T, 0.0, None))  # (B, N): |a - b| of unit vectors
            k = min(self.k, bank.shape[0])
            return np.partition(d, k - 1, axis=1)[:, k - 1 : k]
        out = np.empty((len(f), len(spans)))
        for b, (start, stop) in enumerate(spans):
            z = f[:, start:stop] @ self.arrays[f"whiten{b}"]  # (B, D_b): Sigma_b^-1/2 f_b
            out[:, b] = _squared_distances(z, self.arrays[f"means{b}"]).min(axis=1)
        return out

    def score(self, features: np.ndarray) -> np.ndarray:
        """(B, F) features (``features_and_logits``) -> (B,) float64, higher = farther from the training data."""
        raw = self.block_scores(features)
        total: np.ndarray = ((raw - self.arrays["block_mean"]) / self.arrays["block_std"]).sum(axis=1)
        return total

    def flags(self, features: np.ndarray) -> np.ndarray:
        """(B, F) -> (B,) bool: out of distribution (score above the threshold)."""
        return self.score(features) > self.threshold

    def calibrated(self, held_out_features: np.ndarray, in_flag_rate: float = DEFAULT_IN_FLAG_RATE) -> OODDetector:
        """The threshold that flags ``in_flag_rate`` of these in-distribution (M, F) features (radiographs
        the model did not train on); with several blocks, their standardisation from the same features.
        The (M,) scores are kept, so that serving can move the threshold (``at_rate``) without features."""
        raw = self.block_scores(held_out_features)
        if len(raw) < 2:
            raise ValueError("need at least 2 held-out radiographs to calibrate the OOD threshold")
        arrays = dict(self.arrays)
        if raw.shape[1] > 1:
            arrays["block_mean"], arrays["block_std"] = raw.mean(0), np.clip(raw.std(0), 1e-9, None)
        scores = np.sort(((raw - arrays["block_mean"]) / arrays["block_std"]).sum(axis=1))
        arrays["calibration_scores"] = scores
        return replace(self, arrays=arrays, n_calibration=len(scores)).at_rate(in_flag_rate)

    def at_rate(self, in_flag_rate: float) -> OODDetector:
        """The threshold moved to flag ``in_flag_rate`` of the calibration radiographs."""
        if not 0.0 < in_flag_rate < 1.0:
            raise ValueError(f"in_flag_rate must be in (0, 1), not {in_flag_rate}")
        if "calibration_scores" not in self.arrays:
            raise ValueError("this detector was never calibrated on held-out radiographs")
        threshold = threshold_for_rate(self.arrays["calibration_scores"], in_flag_rate)
        return replace(self, threshold=threshold, in_flag_rate=in_flag_rate)

    def to_bytes(self) -> bytes:
        meta = np.array([self.k, self.threshold, np.nan if self.in_flag_rate is None else self.in_flag_rate])
        named: dict[str, Any] = {
            "method": np.array(self.method), "meta": meta, "n_calibration": np.array(self.n_calibration), **self.arrays
        }  # fmt: skip
        buf = io.BytesIO()
        np.savez_compressed(buf, **named)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> OODDetector:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            method = str(z["method"])
            if method not in METHODS:
                raise ValueError(f"unknown OOD method {method!r}")
            k, threshold, rate = (float(v) for v in z["meta"])
            arrays = {n: z[n] for n in z.files if n not in ("method", "meta", "n_calibration")}
            n_calibration = int(z["n_calibration"])
        return cls(method, arrays, int(k), threshold, None if np.isnan(rate) else rate, n_calibration)

    def describe(self) -> dict[str, float | str]:
        """What a manifest or a report says about it (plain JSON)."""
        out: dict[str, float | str] = {"method": self.method, "threshold": self.threshold}
        if self.method == "knn":
            out["k"] = float(self.k)
        if self.in_flag_rate is not None:
            out["in_flag_rate"] = self.in_flag_rate
            out["n_calibration"] = float(self.n_calibration)
        return out


def threshold_for_rate(in_scores: np.ndarray, rate: float) -> float:
    """The score above which ``rate`` of ``in_scores`` lie (their 1 - rate quantile, interpolated)."""
    return float(np.quantile(np.asarray(in_scores, dtype=np.float64), 1.0 - rate))


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B, D), (C, D) -> (B, C) squared Euclidean distances."""
    d2: np.ndarray = np.clip((a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :], 0.0, None)
    return d2


def _spans(dims: list[int]) -> np.ndarray:
    ends = np.cumsum(dims)
    return np.stack([ends - np.asarray(dims), ends], axis=1)


def _gaussians(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D), (N,) -> whitening L (D, D) of the shared, shrunk covariance and the whitened means (C, D)."""
    from sklearn.covariance import ledoit_wolf

    classes = np.unique(y)
    means = np.stack([f[y == c].mean(0) for c in classes])
    sigma, _ = ledoit_wolf(f - means[np.searchsorted(classes, y)], assume_centered=True)
    whiten = np.linalg.inv(np.linalg.cholesky(sigma)).T  # Sigma^-1 = L L^T with L = chol(Sigma)^-T
    return whiten, means @ whiten


def fit_mahalanobis(
    features: np.ndarray, labels: np.ndarray, block_dims: list[int] | None = None, *, layers: bool = True
) -> OODDetector:
    """Training features (N, F) with their blocks' widths (default: one block) and class indices (N,) ->
    class means and the shared covariance per block (Lee et al. 2018); ``layers`` False: the last block only."""
    f, y = np.asarray(features, dtype=np.float64), np.asarray(labels)
    dims = block_dims or [f.shape[1]]
    if f.ndim != 2 or len(f) != len(y) or len(f) < 2 or sum(dims) != f.shape[1]:
        raise ValueError(f"need (N, F) features, (N,) labels, N >= 2 and blocks {dims} summing to F; got {f.shape}")
    spans = _spans(dims) if layers else _spans(dims)[-1:]
    arrays: dict[str, np.ndarray] = {"dim": np.array(f.shape[1]), "spans": spans}
    for b, (start, stop) in enumerate(spans):
        arrays[f"whiten{b}"], arrays[f"means{b}"] = _gaussians(f[:, start:stop], y)
    arrays["block_mean"], arrays["block_std"] = np.zeros(len(spans)), np.ones(len(spans))
    return OODDetector("mahalanobis_layers" if layers else "mahalanobis", arrays)


def fit_knn(features: np.ndarray, block_dims: list[int] | None = None, k: int = DEFAULT_K) -> OODDetector:
    """Training features (N, F) -> the L2-normalised last block (Sun et al. 2022), float32."""
    f = np.asarray(features, dtype=np.float64)
    dims = block_dims or [f.shape[1]]
    if f.ndim != 2 or len(f) < 1 or k < 1 or sum(dims) != f.shape[1]:
        raise ValueError(f"need (N, F) features with N >= 1, k >= 1, blocks summing to F; got {f.shape}, k={k}")
    ((start, stop),) = _spans(dims)[-1:]
    last = f[:, start:stop]
    bank = last / np.clip(np.linalg.norm(last, axis=1, keepdims=True), 1e-12, None)
    arrays = {"dim": np.array(f.shape[1]), "spans": _spans(dims)[-1:], "bank": bank.astype(np.float32)}
    return OODDetector("knn", {**arrays, "block_mean": np.zeros(1), "block_std": np.ones(1)}, k=k)


def fit(
    method: str, features: np.ndarray, labels: np.ndarray, block_dims: list[int] | None = None, *, k: int = DEFAULT_K
) -> OODDetector:
    if method in ("mahalanobis_layers", "mahalanobis"):
        return fit_mahalanobis(features, labels, block_dims, layers=method == "mahalanobis_layers")
    if method == "knn":
        return fit_knn(features, block_dims, k)
    raise ValueError(f"OOD method must be one of {METHODS}, not {method!r}")


def block_dims(model: Classifier) -> list[int]:
    """The widths of the blocks ``features_and_logits`` returns: 2 x channels of stages 1-3 (64, 128, 256
    times the block expansion: 1 for ResNet-18/34, 4 for ResNet-50), then the head's input."""
    expansion = model.backbone.feature_dim // 512
    return [2 * c * expansion for c in (64, 128, 256)] + [model.backbone.feature_dim]


@torch.inference_mode()
def features_and_logits(model: Classifier, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The eval-transformed batch (B, 1, S, S) -> features (B, F) (``block_dims``) and logits (B, C), one
    pass through the backbone's ResNet (the same layers, in the same order, as ``model(x)``)."""
    penultimate, stages = model.backbone.net.forward_stages(x)
    stats = [s for h in stages for s in (h.mean(dim=(2, 3)), h.std(dim=(2, 3), correction=0))]
    logits: torch.Tensor = model.head(penultimate)
    return torch.cat([*stats, penultimate], dim=1).float(), logits.float()


@torch.inference_mode()
def features_of(
    model: Classifier, images: torch.Tensor, size: int, device: torch.device | str = "cpu", batch_size: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 squares (N, 1, H, W) -> features (N, F) and logits (N, C), float32 numpy, of the eval view in
    float32: what the serving replica computes (no autocast, so phase 2's calibration and serving agree)."""
    model = model.to(device).eval()
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        f, z = features_and_logits(model, eval_transform(images[start : start + batch_size].to(device), size))
        feats.append(f.cpu().numpy())
        logits.append(z.cpu().numpy())
    if not feats:
        return np.zeros((0, sum(block_dims(model))), np.float32), np.zeros((0, model.head.out_features), np.float32)
    return np.concatenate(feats), np.concatenate(logits)


__all__ = [
    "DEFAULT_IN_FLAG_RATE",
    "DEFAULT_K",
    "DEFAULT_METHOD",
    "METHODS",
    "OODDetector",
    "block_dims",
    "features_and_logits",
    "features_of",
    "fit",
    "fit_knn",
    "fit_mahalanobis",
    "threshold_for_rate",
]
