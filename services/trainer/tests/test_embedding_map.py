"""The report's embedding map: PCA recovers the dominant axes; the PNG shows one colour per cluster."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from samx_trainer.phase1.embedding_map import cluster_colour, embedding_map_png, pca_2d


def test_pca_keeps_the_axis_of_largest_spread():
    rng = np.random.default_rng(0)
    x = np.zeros((200, 5))
    x[:, 3] = rng.normal(0, 10, 200)  # the dominant direction
    x[:, 1] = rng.normal(0, 1, 200)
    xy = pca_2d(x)
    assert abs(np.corrcoef(xy[:, 0], x[:, 3])[0, 1]) > 0.999
    assert abs(np.corrcoef(xy[:, 1], x[:, 1])[0, 1]) > 0.99


def test_map_draws_each_cluster_in_its_own_colour():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0, 0], [20, 0, 0], [0, 20, 0]], dtype=float)
    clusters = np.repeat(np.arange(3), 50)
    emb = centres[clusters] + rng.normal(0, 0.5, (150, 3))
    img = np.asarray(Image.open(io.BytesIO(embedding_map_png(emb, clusters))).convert("RGB"))
    colours = {tuple(map(int, p)) for p in img.reshape(-1, 3)}
    assert all(cluster_colour(k) in colours for k in range(3))
    assert cluster_colour(0) != cluster_colour(1) != cluster_colour(2)


def test_degenerate_inputs_do_not_fail():
    assert pca_2d(np.ones((1, 4))).shape == (1, 2)
    assert embedding_map_png(np.ones((3, 1)), np.array([0, 0, 1]))[:8] == b"\x89PNG\r\n\x1a\n"
