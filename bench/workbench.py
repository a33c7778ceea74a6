"""What the workbench buys: a simulated radiologist on the dev data, through the labeling service's domain.

On the dev protocol of ``bench/gpu/run_method.py`` (phase 1 on the fit part = 70 % of the labeled
patients + all unlabeled radiographs; phase 2 scored on the other 30 %), phase 1 runs once (the shipped
backbone, frozen, then SCAN + self-labeling) and its clusters open a real labeling session (SQLite, the
service's own ``open_session``, suggestions from the fit part's true labels as an uploaded CSV, the run's
embeddings for splits). The radiologist is simulated three ways, each on a copy of that session:

  (a) names every cluster after its majority (accepting every suggestion, as today);
  (b) as (a), after splitting every cluster the service proposes (suggestion share under the threshold)
      into as many parts as regions they see in it (2-4), and naming the parts;
  (c) as (b), plus excluding, among the ``--least`` least confident members of each named cluster (the
      ones the page shows first), those whose true label differs from the cluster's name.

For each: naming accuracy of the published label set (injected labels that are right, on the fit part's
labeled radiographs), decisions per radiograph (from the label set), and phase 2 (the same fine-tuning
from phase 1's backbone, same epochs and seed) top-1 / top-2 on the 30 % part. Ratios are to (a), measured
in the same run.

    uv run python bench/gpu/prepare_data.py --size 192     # once: .gpu/data
    uv run python bench/workbench.py --out bench/results/workbench     # 15-20 min on 2 idle cores
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))

import numpy as np  # noqa: E402
import run_method as RM  # noqa: E402
import torch  # noqa: E402
from samx_core.labels import canonical_label  # noqa: E402
from samx_labeling.db.engine import make_engine, make_sessionmaker  # noqa: E402
from samx_labeling.db.models import Cluster, Member  # noqa: E402
from samx_labeling.db.setup import prepare_database  # noqa: E402
from samx_labeling.domain.curation import reassign, split_cluster  # noqa: E402
from samx_labeling.domain.labeling import accept_suggestions  # noqa: E402
from samx_labeling.domain.ports import Assignment, ClusterSummary, ImageRecord, PublishedObject  # noqa: E402
from samx_labeling.domain.publishing import publish  # noqa: E402
from samx_labeling.domain.sessions import RunDescription, open_session  # noqa: E402
from samx_labeling.domain.suggestions import (  # noqa: E402
    best_suggestions,
    csv_suggestions,
    store_known_labels,
    store_suggestions,
)
from samx_labeling.domain.vocabulary import Vocabulary  # noqa: E402
from samx_ml import metrics as M  # noqa: E402
from samx_ml.classifier import predict_proba, train_classifier  # noqa: E402
from samx_ml.profiles import get_profile  # noqa: E402
from samx_ml.runtime import pick_device  # noqa: E402
from samx_trainer.phase2.data import LabelSet, inject_labels  # noqa: E402
from sqlalchemy import select  # noqa: E402

RUN_ID = "workbench"
THRESHOLD = 0.6  # SAMX_LABELING_SUGGESTION_MIN_SHARE's default: below it the service proposes a split
WHO = "simulated-radiologist"


class RunArtifacts:
    """Phase 1's output handed to ``open_session`` (the service reads the same from MinIO)."""

    def __init__(self, ids: list[str], clusters: np.ndarray, confidence: np.ndarray, k: int) -> None:
        self.ids, self.c, self.conf, self.k = ids, clusters, confidence, k

    def clusters(self) -> list[ClusterSummary]:
        out = []
        for j in range(self.k):
            members = np.flatnonzero(self.c == j)
            order = members[np.argsort(-self.conf[members], kind="stable")]
            mean = float(self.conf[members].mean()) if len(members) else None
            out.append(ClusterSummary(j, len(members), mean, [self.ids[i] for i in order[:16]]))
        return out

    def assignments(self) -> list[Assignment]:
        return [Assignment(i, int(c), float(p)) for i, c, p in zip(self.ids, self.c, self.conf, strict=True)]

    def image_records(self, image_ids: list[str]) -> dict[str, ImageRecord]:
        return {i: ImageRecord(sha256=None, body_part=None, thumbnail_key=f"derived/{i}.thumb.png") for i in image_ids}


class Embeddings:
    def __init__(self, matrix: np.ndarray) -> None:
        self.matrix = matrix

    def rows(self, bucket: str, key: str, rows: list[int]) -> np.ndarray:
        return self.matrix[np.asarray(rows)]


class KeptLabelSets:
    """A label-set sink that keeps the published documents (the service's stores them in MinIO)."""

    bucket = "bench"

    def __init__(self) -> None:
        self.documents: dict[int, dict] = {}

    def store(self, run_id: str, version: int, document: dict) -> PublishedObject:
        data = json.dumps(document).encode()
        self.documents[version] = document
        return PublishedObject(
            self.bucket, f"labelsets/{run_id}/v{version}.json", hashlib.sha256(data).hexdigest(), len(data)
        )

    def announce(self, run_id: str, version: int, stored: PublishedObject, document: dict) -> None:
        pass  # nobody listens in a benchmark

    def close(self) -> None:
        pass


def open_bench_session(db: Path, p1: dict, ids: list[str], known_csv: str):
    url = f"sqlite:///{db}"
    prepare_database(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    run = RunDescription(
        run_id=RUN_ID,
        profile="dev",
        n_images=len(ids),
        n_clusters=p1["k"],
        artifacts_bucket="bench",
        artifacts_prefix="",
        source_event_id=str(uuid.uuid4()),
        embeddings_bucket="bench",
        embeddings_key="embeddings.npy",
    )
    with sessions() as session:
        open_session(session, run, RunArtifacts(ids, p1["fit_clusters"], p1["confidence_fit"], p1["k"]))
        outcome = csv_suggestions(session, RUN_ID, known_csv, Vocabulary.load(session))
        store_suggestions(session, RUN_ID, "csv", outcome.proposals)
        store_known_labels(session, RUN_ID, outcome.known)
        session.commit()
    engine.dispose()  # SQLite in WAL mode: closing checkpoints the log into the file that is copied
    return url


def _regions_seen(session, cluster: int) -> int:
    """How many regions a radiologist sees in a cluster: names held by at least a fifth of its known members."""
    rows = session.scalars(
        select(Member.known_labels).where(
            Member.run_id == RUN_ID,
            Member.cluster == cluster,
            Member.excluded.is_(False),
            Member.known_labels.is_not(None),
        )
    ).all()
    votes = Counter(name for r in rows for name in set(r.split(";")) if name)
    return sum(1 for n in votes.values() if n >= 0.2 * max(len(rows), 1))


def simulate(url: str, variant: str, embeddings: Embeddings, least: int) -> dict:
    sessions = make_sessionmaker(make_engine(url))
    sink = KeptLabelSets()
    with sessions() as session:
        if variant in ("split", "split+exclude"):
            shares = best_suggestions(session, RUN_ID)
            for c in list(session.scalars(select(Cluster).where(Cluster.run_id == RUN_ID, Cluster.size >= 4))):
                s = shares.get(c.cluster)
                if s is None or s.share >= THRESHOLD:
                    continue
                parts = int(np.clip(_regions_seen(session, c.cluster), 2, min(4, c.size // 2)))
                split_cluster(session, RUN_ID, c.cluster, c.version, parts, WHO, embeddings)
        accept_suggestions(session, RUN_ID, WHO, source=None, min_share=0.0)
        if variant == "split+exclude":
            named = session.scalars(select(Cluster).where(Cluster.run_id == RUN_ID, Cluster.label.is_not(None))).all()
            for c in named:
                shown = session.scalars(
                    select(Member)
                    .where(Member.run_id == RUN_ID, Member.cluster == c.cluster, Member.excluded.is_(False))
                    .order_by(Member.confidence.asc(), Member.image_id)
                    .limit(least)
                ).all()
                strays = [m.image_id for m in shown if m.known_labels and c.label not in m.known_labels.split(";")]
                if strays and len(strays) < c.size:
                    reassign(session, RUN_ID, c.cluster, c.version, strays, WHO, to=None)
        publish(session, RUN_ID, WHO, sink, allow_incomplete=True)
    return sink.documents[max(sink.documents)]


def score_label_set(doc: dict, d: dict, p1: dict, ids: list[str], prof, dev, epochs: int) -> dict:
    labels = d["labels"]
    fit_y, test_y = labels.subset(d["fit"]), labels.subset(d["test"])
    index = {canonical_label(c): i for i, c in enumerate(labels.classes)}
    injected = inject_labels(LabelSet.from_document(doc), dict(zip(ids, map(int, p1["fit_clusters"]), strict=True)))
    rows = np.array([int(i[3:]) for i in injected.image_ids])
    target = np.array([index[injected.classes[t]] for t in injected.target])
    lab = fit_y.labeled[rows]
    correct = M.is_correct(target[lab], fit_y.multi_hot[rows][lab])
    cfg = replace(prof.classifier, epochs=epochs)
    onehot = np.eye(len(labels.classes), dtype=np.float32)[target]
    run = train_classifier(
        d["images"][d["fit"]][rows], onehot, p1["backbone"], cfg, dev, RM.progress, None, stage="phase2"
    )
    probs = predict_proba(run.model, d["images"][d["test"]], cfg.image_size, dev)
    decisions = doc["decisions"]
    return {
        "naming_accuracy": float(correct.mean()),
        "labeled_fit_covered": float(lab.sum() / max(fit_y.labeled.sum(), 1)),
        "trained_images": len(rows),
        "classes": len(injected.classes),
        "excluded": injected.n_excluded,
        "undecided": injected.n_undecided,
        "decisions": decisions,
        "decisions_per_image": decisions["per_image"],
        "top1": M.topk_accuracy(probs, test_y.multi_hot, 1),
        "top2": M.topk_accuracy(probs, test_y.multi_hot, 2),
        "phase2_epochs": run.epochs,
        "phase2_seconds": round(run.seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".gpu/data"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--profile", default="dev")
    ap.add_argument("--phase1-budget-s", type=float, default=600)
    ap.add_argument("--epochs", type=int, default=8, help="phase-2 epochs, the same for every variant")
    ap.add_argument("--least", type=int, default=8, help="least confident members a radiologist checks per cluster")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (CPU check of the script)")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    prof = get_profile(args.profile)
    if args.smoke:
        prof = RM.smoke_profile(prof)
    dev = pick_device(None)
    torch.manual_seed(0)
    d = RM.load_data(args.data, prof.pretext.image_size, args.smoke)
    RM.INIT.update(name="default", mode="frozen")
    res: dict = {"profile": prof.name, "smoke": args.smoke, "epochs": args.epochs, "least": args.least}
    clock = RM.Clock(args.phase1_budget_s, margin=0.0, reserve_s=0)
    p1 = RM.phase1(d, prof, dev, clock, res, only=True)
    ids = [f"img{i:05d}" for i in range(len(d["fit"]))]
    fit_y = d["labels"].subset(d["fit"])
    known = io.StringIO()
    known.write("image_id,labels\n")
    for i, image_id in enumerate(ids):
        if fit_y.labeled[i]:
            names = [d["labels"].classes[c] for c in np.flatnonzero(fit_y.multi_hot[i])]
            known.write(f"{image_id},{';'.join(names)}\n")
    work = Path(tempfile.mkdtemp(prefix="samx-workbench-"))
    try:
        template = work / "template.db"
        open_bench_session(template, p1, ids, known.getvalue())
        embeddings = Embeddings(p1["fit_embeddings"])
        res["variants"] = {}
        for variant in ("majority", "split", "split+exclude"):
            db = work / f"{variant}.db"
            shutil.copyfile(template, db)
            doc = simulate(f"sqlite:///{db}", variant, embeddings, args.least)
            res["variants"][variant] = score_label_set(doc, d, p1, ids, prof, dev, args.epochs)
            RM.log(f"{variant}: {json.dumps({k: v for k, v in res['variants'][variant].items() if k != 'decisions'})}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = res["variants"]["majority"]
    for v in res["variants"].values():
        v["top1_ratio_to_majority"] = round(v["top1"] / base["top1"], 3) if base["top1"] else None
        v["naming_ratio_to_majority"] = round(v["naming_accuracy"] / base["naming_accuracy"], 3)
    res["wall_s"] = round(time.perf_counter() - t0, 1)
    (args.out / "results.json").write_text(json.dumps(res, indent=1, default=float))
    lines = [
        f"# Workbench: what splits and exclusions buy (`bench/workbench.py`, profile `{prof.name}`)",
        "",
        f"Phase 1: shipped backbone frozen, K = {p1['k']}, {len(ids)} fit radiographs; phase 2: {args.epochs} epochs, "
        f"same seed per variant; exclusions among the {args.least} least confident per cluster.",
        "",
        "| variant | naming accuracy | decisions / image | names | splits | exclusions | phase-2 top-1 | top-2 "
        "| top-1 / (a) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, v in res["variants"].items():
        dc = v["decisions"]
        lines.append(
            f"| {name} | {v['naming_accuracy']:.3f} | {v['decisions_per_image']:.3f} | {dc['names']} "
            f"| {dc['splits']} | {dc['exclusions']} | {v['top1']:.3f} | {v['top2']:.3f} "
            f"| {v['top1_ratio_to_majority']} |"
        )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
