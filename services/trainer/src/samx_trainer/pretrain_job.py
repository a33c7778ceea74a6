"""``samx-trainer pretrain``: trains the backbone SAM-X ships (``samx_ml.pretrain``) on a folder of public
radiographs described by ``corpus.csv`` (image, region, source, dataset, license, original), on this
machine's GPU or CPUs, and exports it as package data of samx-ml (``samx_ml.pretrained.export``).

The corpus is uneven (4,224 chest films, 377 skulls): each epoch draws as many images as it has, with
probabilities proportional to 1/sqrt(source size), so that small sources are seen more often without
being repeated to death. A checkpoint after every epoch (atomically replaced) lets a later run resume:
the same command with the same checkpoint goes on from the epoch it reached, within its own budget.
"""

from __future__ import annotations

import csv
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from samx_ml.compute import resolve_policy
from samx_ml.pretrain import RegionHead, pretrain_epoch, pretrain_optimizer
from samx_ml.pretrained import ShippedBackbone, export
from samx_ml.profiles import PretextConfig
from samx_ml.runtime import pick_device, setup_device
from samx_ml.simclr import SimCLRModel


@dataclass(frozen=True)
class Corpus:
    images: torch.Tensor  # uint8 (N, 1, S, S)
    regions: torch.Tensor  # int64 (N,)
    region_names: list[str]
    sources: list[str]  # per image
    licenses: dict[str, str]  # source -> license
    datasets: dict[str, str]  # source -> data set (citation)


def load_corpus(folder: Path, size: int, limit: int | None = None) -> Corpus:
    """Every image of ``corpus.csv``, squashed to size x size (the pretext crops and resizes anyway)."""
    with (folder / "corpus.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    if limit:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    if not rows:
        raise ValueError(f"{folder / 'corpus.csv'} lists no images")
    names = sorted({r["region"] for r in rows})
    out = np.empty((len(rows), 1, size, size), np.uint8)
    for i, row in enumerate(rows):
        with Image.open(folder / row["image"]) as image:
            out[i, 0] = np.asarray(image.convert("L").resize((size, size), Image.Resampling.BILINEAR))
    return Corpus(
        torch.from_numpy(out),
        torch.tensor([names.index(r["region"]) for r in rows]),
        names,
        [r["source"] for r in rows],
        {r["source"]: r["license"] for r in rows},
        {r["source"]: r["dataset"] for r in rows},
    )


def balanced_draw(sources: list[str], generator: torch.Generator) -> torch.Tensor:
    """len(sources) indices, drawn with probability ~ 1/sqrt(size of the image's source)."""
    counts = Counter(sources)
    weights = torch.tensor([counts[s] ** -0.5 for s in sources], dtype=torch.float64)
    return torch.multinomial(weights, len(sources), replacement=True, generator=generator)


@dataclass
class PretrainRun:
    model: SimCLRModel
    epochs: int
    history: list[dict]
    seconds: float
    compute: dict


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def run_pretrain(
    corpus: Corpus,
    cfg: PretextConfig,
    *,
    checkpoint: Path,
    budget_s: float | None,
    region_weight: float = 0.5,
    precision: str = "auto",
    seed: int = 0,
    device_name: str | None = None,
    train: bool = True,
) -> PretrainRun:
    """Trains (resuming from ``checkpoint`` when it exists) until the schedule's end or the budget;
    ``train=False`` only loads the checkpoint (to export it)."""
    device = pick_device(device_name)
    setup_device(device)
    policy = resolve_policy(device, precision)
    torch.manual_seed(seed)
    model = policy.prepare_module(SimCLRModel(cfg.arch, cfg.proj_hidden, cfg.proj_dim)).to(device)
    regions = RegionHead(model.backbone.feature_dim, len(corpus.region_names)).to(device)
    bs = min(cfg.batch_size, len(corpus.images))
    steps = max(1, len(corpus.images) // bs)
    opt, base_lr = pretrain_optimizer(model, regions, cfg, bs)
    start, history = 0, []
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        regions.load_state_dict(state["regions"])
        opt.load_state_dict(state["optimizer"])
        start, history = state["epoch"], state["history"]
        print(f"[pretrain] resumed from {checkpoint} at epoch {start}", flush=True)
    x_all, y_all = corpus.images.to(device), corpus.regions.to(device)
    generator = torch.Generator().manual_seed(seed + start)
    began = time.perf_counter()
    model.train()
    for epoch in range(start, cfg.epochs if train else start):
        t0 = time.perf_counter()
        order = balanced_draw(corpus.sources, generator).to(device)

        def batch_at(s: int, order: torch.Tensor = order) -> tuple[torch.Tensor, torch.Tensor]:
            rows = order[s * bs : (s + 1) * bs]
            return x_all[rows], y_all[rows]

        figures = pretrain_epoch(
            model, regions, opt, batch_at, steps, epoch, cfg.epochs, base_lr, cfg, policy, region_weight
        )
        epoch_s = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, **asdict(figures), "seconds": round(epoch_s, 1)})
        _save(checkpoint, {"model": model.state_dict(), "regions": regions.state_dict(), "optimizer": opt.state_dict(),
                           "epoch": epoch + 1, "history": history, "config": asdict(cfg)})  # fmt: skip
        left = cfg.epochs - epoch - 1
        print(
            f"[pretrain] epoch {epoch + 1}/{cfg.epochs}: NT-Xent {figures.contrastive:.3f}, region CE "
            f"{figures.region:.3f} (accuracy {figures.region_accuracy:.2f}), {steps * bs / epoch_s:.0f} images/s, "
            f"ETA {left * epoch_s / 60:.0f} min",
            flush=True,
        )
        if budget_s is not None and time.perf_counter() - began + epoch_s > budget_s:
            print(f"[pretrain] budget of {budget_s / 60:.0f} min reached after epoch {epoch + 1}", flush=True)
            break
    epochs = history[-1]["epoch"] if history else 0
    return PretrainRun(model.eval(), epochs, history, time.perf_counter() - began, policy.describe())


def export_run(run: PretrainRun, corpus: Corpus, cfg: PretextConfig, name: str, device: str) -> ShippedBackbone:
    counts = Counter(corpus.sources)
    description = {
        "recipe": {
            "objective": "SimCLR NT-Xent + 0.5 x region cross entropy (multi-task, region head discarded)",
            "pretext": {k: v for k, v in asdict(cfg).items() if k != "augment"},
            "augment": asdict(cfg.augment),
            "sampling": "per epoch N draws, p ~ 1/sqrt(source size)",
            "epochs_trained": run.epochs,
            "device": device,
            "compute": run.compute,
        },
        "corpus": {
            "images": len(corpus.sources),
            "regions": corpus.region_names,
            "sources": [
                {"source": s, "images": counts[s], "license": corpus.licenses[s], "dataset": corpus.datasets[s]}
                for s in sorted(counts)
            ],
        },
        "history": run.history,
    }
    shipped = export(run.model, name, description, image_size=cfg.image_size)
    shipped.path.with_suffix(".md").write_text(model_card(shipped))
    return shipped


_OPEN_LICENSES = ("CC BY 4.0", "NIH: no restrictions on use")


def model_card(shipped: ShippedBackbone) -> str:
    """The card beside the weights: what they are, what they saw under which terms, how they were made."""
    d = shipped.card
    sources = d["corpus"]["sources"]
    restricted = [s for s in sources if s["license"] not in _OPEN_LICENSES]
    last = d["history"][-1] if d["history"] else {}
    rows = "\n".join(f"| {s['source']} | {s['images']} | {s['license']} | {s['dataset']} |" for s in sources)
    terms = (
        "**Research use only.** Some sources carry research-only or non-commercial terms ("
        + ", ".join(s["source"] for s in restricted)
        + "); so do these weights. Retrain without them (`corpus.csv` lists each image's source) for other uses."
        if restricted
        else "All sources are under open terms (CC BY 4.0 or NIH, no restrictions); cite them."
    )
    recipe, nan, regions = d["recipe"], float("nan"), ", ".join(d["corpus"]["regions"])
    return f"""# Model card: `{shipped.name}`

SAM-X's own radiograph backbone: the starting weights of phase 1 (`SAMX_TRAINER_INIT`, default the newest
shipped backbone), from which phase 2 fine-tunes. Loaded by name from this package, never from the network;
`{shipped.path.name}` must have sha256 `{shipped.sha256}` (checked at every load).

## What it is
- {shipped.arch} (torchvision, 1-channel input, no ImageNet weights), with its SimCLR projection head
  ({shipped.proj_hidden} -> {shipped.proj_dim}); fp16 safetensors, {d["bytes"] / 2**20:.1f} MiB.
- Trained at {shipped.image_size} x {shipped.image_size} px on {recipe["device"]} for {recipe["epochs_trained"]} epochs
  of the {recipe["pretext"]["epochs"]}-epoch schedule (batch {recipe["pretext"]["batch_size"]}).
- Objective: {recipe["objective"]}. Sampling: {recipe["sampling"]}.
- Last epoch: NT-Xent {last.get("contrastive", nan):.3f}, region cross entropy {last.get("region", nan):.3f},
  region accuracy on augmented views {last.get("region_accuracy", nan):.2f}.

## What it saw
{d["corpus"]["images"]} public radiographs (longest side 160 px), regions {regions};
near-duplicates of the SAM-X development set and of every evaluation set kept aside were removed from the corpus before.

| source | images | terms | data set |
| --- | --- | --- | --- |
{rows}

{terms}

## Intended use and limits
- Intended: the start of phase 1 on a hospital's archive of projection radiographs (CR/DX), adapted there by
  SimCLR (`adapt`) or used as it is (`frozen`, for machines without a GPU); not a diagnostic model.
- The corpus shows no pelvis, hip, elbow, wrist, ankle, foot or abdomen source, and its knees are CLAHE-enhanced
  joint crops: features for those regions come from what transfers, which is why phase 1 adapts it.
- Mostly adult chest films and pediatric hands/chests: expect weaker features for rare views.
- How it compares with training from scratch on the development data: `bench/results/backbone.md` and the issue note.

## Retrain
`uv run samx-trainer pretrain --data ../shared/datasets/pretrain-corpus --size {shipped.image_size} --epochs
{recipe["pretext"]["epochs"]} [--budget-min M]` (resumes from `.samx/pretrain/{shipped.name}.pt`), then commit the new
`.safetensors`, `.json` and `.md` in place of the old ones.
"""


def pretext_config(size: int, epochs: int, batch_size: int) -> PretextConfig:
    return replace(PretextConfig(), image_size=size, epochs=epochs, batch_size=batch_size)
