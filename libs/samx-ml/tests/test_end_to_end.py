"""Tiny end to end on real radiographs: SimCLR 1 epoch (32 px) -> kNN -> SCAN -> metrics -> phase 2 step."""

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from samx_ml import metrics as M
from samx_ml.classifier import predict_proba, train_classifier
from samx_ml.clustering import assign, feature_bank, self_label, train_scan
from samx_ml.k_rule import choose_k
from samx_ml.labelsets import parse_label_sets
from samx_ml.neighbors import mine_neighbors
from samx_ml.pretext import train_pretext
from samx_ml.profiles import ClassifierConfig, PretextConfig, ScanConfig, SelfLabelConfig

DATA = (
    Path(os.environ.get("SAMX_DATASETS", Path(__file__).resolve().parents[4] / "shared" / "datasets")) / "unifesp-dev"
)


def _load(n: int, size: int):
    from PIL import Image

    with open(DATA / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["labels"]][:n]
    imgs = [np.asarray(Image.open(DATA / r["image"]).convert("L").resize((size, size))) for r in rows]
    return torch.from_numpy(np.stack(imgs))[:, None], parse_label_sets([r["labels"] for r in rows])


@pytest.mark.skipif(not (DATA / "labels.csv").exists(), reason=f"dev radiographs not found at {DATA}")
def test_phase1_and_phase2_smoke():
    torch.set_num_threads(2)
    images, labels = _load(64, 40)
    dev = torch.device("cpu")
    events = []
    pt = train_pretext(images, PretextConfig(image_size=32, epochs=1, batch_size=32), dev, events.append)
    assert pt.epochs == 1 and np.isfinite(pt.losses).all() and pt.images_per_s > 0
    assert events and events[0].stage == "pretext"
    bank = feature_bank(pt.backbone, images, 32, 2, ScanConfig().augment, dev, whiten_dims=4).views
    assert bank.shape == (2, 64, 4)  # whitened to 4 dims (64 images: at least 10 per dim)
    nbrs = mine_neighbors(bank[0], 5)
    k = choose_k(len(images))
    scan = train_scan(bank, nbrs, k, ScanConfig(epochs=5, n_heads=2, batch_size=32))
    assert 0 <= scan.best_head < 2 and len(scan.head_losses) == 2
    scan = self_label(scan, bank, SelfLabelConfig(epochs=2, threshold=0.5))
    assert "nonempty_before" in scan.self_label
    out = assign(scan.head(), bank[0])
    clusters = out["cluster"].numpy()
    assert clusters.shape == (64,) and clusters.max() < k and (out["confidence"] >= 1 / k - 1e-6).all()
    rep = M.cluster_report(clusters, labels.primary, labels.multi_hot, k)
    assert 0 <= rep["nmi"] <= 1 and rep["n_decisions"] <= k
    # phase 2: inject majority names, one epoch
    names = M.name_clusters(clusters, labels.multi_hot, k)
    targets = np.eye(len(labels.classes), dtype=np.float32)[names[clusters]]
    clf = train_classifier(images, targets, pt.backbone, ClassifierConfig(image_size=32, epochs=1, batch_size=32), dev)
    probs = predict_proba(clf.model, images, 32, dev)
    assert probs.shape == (64, len(labels.classes)) and np.allclose(probs.sum(1), 1, atol=1e-4)
