"""``samx-trainer pretrain`` on real radiographs of the pretrain corpus (a few, at the ci size): it trains,
checkpoints after each epoch, resumes from the checkpoint, and exports a backbone phase 1 can load."""

from __future__ import annotations

import pytest
from samx_ml import pretrained
from samx_ml.pretrained import resolve_init
from samx_trainer.phase1.pretext import _simclr_model
from samx_trainer.pretrain_job import export_run, load_corpus, pretext_config, run_pretrain

from tests.support.datasets import DatasetsMissing, pretrain_corpus_dir


@pytest.fixture(scope="module")
def corpus():
    try:
        return load_corpus(pretrain_corpus_dir(), 32, limit=96)
    except DatasetsMissing as missing:
        pytest.skip(str(missing))


def test_pretrain_resumes_from_its_checkpoint_and_exports(corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path / "weights")
    assert len(set(corpus.sources)) >= 5 and len(corpus.region_names) >= 5  # several sources, balanced draw
    checkpoint = tmp_path / "pretrain.pt"
    cfg = pretext_config(32, epochs=2, batch_size=32)
    first = run_pretrain(corpus, cfg, checkpoint=checkpoint, budget_s=0.001)  # the budget ends it after 1
    assert first.epochs == 1 and checkpoint.exists()
    second = run_pretrain(corpus, cfg, checkpoint=checkpoint, budget_s=None)
    assert [h["epoch"] for h in second.history] == [1, 2] and second.history[0] == first.history[0]
    shipped = export_run(second, corpus, cfg, "samx-rad-t1", "cpu")
    assert {s["source"] for s in shipped.card["corpus"]["sources"]} == set(corpus.sources)
    assert all(s["license"] for s in shipped.card["corpus"]["sources"])
    # phase 1's pretext model starts from it
    model = _simclr_model(cfg, resolve_init("samx-rad-t1").name)
    for name, tensor in second.model.state_dict().items():
        if tensor.is_floating_point():
            assert (model.state_dict()[name] - tensor).abs().max() < 2e-2 * (1 + tensor.abs().max()), name


def _dev_sample(regions=("chest", "knee", "pelvis", "cervical_spine", "hand"), per_region=24, size=64):
    """Real dev radiographs of five regions (pelvis: one the pretrain corpus never showed)."""
    import numpy as np
    import torch
    from PIL import Image

    from tests.support.datasets import load_unifesp_labels

    picked: dict[str, list] = {r: [] for r in regions}
    for image in load_unifesp_labels(labeled_only=True):
        r = image.labels[0] if len(image.labels) == 1 else None
        if r in picked and len(picked[r]) < per_region:
            with Image.open(image.path) as im:
                picked[r].append(np.asarray(im.convert("L").resize((size, size), Image.Resampling.BILINEAR)))
    x = torch.from_numpy(np.stack([a for r in regions for a in picked[r]]))[:, None]
    y = np.repeat(np.arange(len(regions)), [len(picked[r]) for r in regions])
    return x, y


def _loo_knn_accuracy(features, y, k: int = 5) -> float:
    import numpy as np
    import torch.nn.functional as F

    f = F.normalize(features, dim=1)
    sim = f @ f.T
    sim.fill_diagonal_(-2)
    nearest = sim.topk(k, dim=1).indices.numpy()
    votes = np.array([np.bincount(y[row], minlength=y.max() + 1).argmax() for row in nearest])
    return float((votes == y).mean())


def test_the_shipped_backbone_sorts_real_radiographs_better_than_scratch_at_the_same_budget():
    """The point of shipping weights: at a tiny budget (what a CPU-only hospital has), features that start
    from the shipped backbone separate regions far better than ones learned from scratch, pelvis included."""
    import torch
    from samx_ml.pretext import embed, train_pretext
    from samx_ml.pretrained import shipped_model
    from samx_ml.profiles import get_profile

    try:
        x, y = _dev_sample()
    except DatasetsMissing as missing:
        pytest.skip(str(missing))
    shipped = resolve_init("default")
    assert shipped is not None, "samx-ml ships no backbone"
    from dataclasses import replace

    cfg = replace(get_profile("ci").pretext, epochs=4)  # the same tiny budget, in epochs: any machine's
    cpu = torch.device("cpu")
    scratch = train_pretext(x, cfg, cpu)
    adapted = train_pretext(x, cfg, cpu, init=shipped_model(shipped))
    frozen = shipped_model(shipped).backbone.eval()
    scores = {
        name: _loo_knn_accuracy(embed(backbone, x, cfg.image_size, cpu), y)
        for name, backbone in (("scratch", scratch.backbone), ("adapted", adapted.backbone), ("frozen", frozen))
    }
    print(f"leave-one-out 5-NN top-1 on {len(y)} dev radiographs, {cfg.epochs} SimCLR epochs each: {scores}")
    assert scores["frozen"] > scores["scratch"] + 0.1 and scores["adapted"] > scores["scratch"] + 0.1, scores
