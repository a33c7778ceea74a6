"""``samx-trainer``: the trainer's command line, also the entrypoint of the phase-1/2 Ray jobs and RayJobs.

samx-trainer phase1 --profile ci|dev|gpu [--labels labels.csv] [--run-id ID]
samx-trainer phase2 --run-id R --labelset-version V [--profile ci] [--promote] [--model-version M]
samx-trainer consume [--profile ci]                 a phase-1/2 job per phase1.requested / labels.published
samx-trainer launch consume|phase1|phase2|status    the launcher (samx_trainer.launch): jobs by hand, or its consumer
samx-trainer promote VERSION                        registry 'current' + model.published
samx-trainer evaluate --model VERSION|current --data DIR    JSON figures on a folder with labels.csv
samx-trainer pretrain --data CORPUS [--size 64] [--epochs N] [--budget-min M]   the backbone SAM-X ships
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from samx_core.telemetry import bootstrap_telemetry

from samx_trainer.launch.cli import add_parser as launch_parser
from samx_trainer.phase1.data import Phase1DataError
from samx_trainer.settings import TrainerSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samx-trainer", description="SAM-X trainer")
    sub = parser.add_subparsers(dest="command", required=True)
    p1 = sub.add_parser("phase1", help="self-supervised clustering of the archive (SimCLR + SCAN on Ray Train)")
    p1.add_argument("--profile", default="ci", help="ci | dev | gpu (samx_ml.profiles)")
    p1.add_argument("--labels", type=Path, default=None, help="labels.csv for metrics (ground truth)")
    p1.add_argument("--run-id", default=None, help="run id; the same id resumes from its last checkpoint")
    p1.add_argument("--no-publish", action="store_true", help="do not publish clustering.completed")
    p1.add_argument("--n-clusters", type=int, default=None, help="K (default: the K rule); a request's override")
    p2 = sub.add_parser("phase2", help="train the classifier on a published label set (Ray Train)")
    p2.add_argument("--run-id", required=True, help="phase-1 run whose clusters were named")
    p2.add_argument("--labelset-version", type=int, required=True, help="label set version of that run")
    p2.add_argument("--profile", default="ci", help="ci | dev | gpu")
    p2.add_argument("--promote", action="store_true", help="promote the model and publish model.published")
    p2.add_argument("--model-version", default=None, help="registry version (default: <run id>.ls<version>)")
    co = sub.add_parser("consume", help="a training job per phase1.requested / labels.published event")
    co.add_argument("--profile", default="ci", help="ci | dev | gpu")
    launch_parser(sub)
    pr = sub.add_parser("promote", help="make VERSION the served model and publish model.published")
    pr.add_argument("version")
    ev = sub.add_parser("evaluate", help="score a registered model on a folder with labels.csv (JSON out)")
    ev.add_argument("--model", required=True, help="registry version, or 'current'")
    ev.add_argument("--data", type=Path, required=True, help="folder with labels.csv (image, labels)")
    ev.add_argument("--device", default=None)
    pt = sub.add_parser("pretrain", help="train the backbone SAM-X ships, on a corpus of public radiographs")
    pt.add_argument("--data", type=Path, required=True, help="folder with corpus.csv (image, region, source, ...)")
    pt.add_argument("--name", default="samx-rad-v1", help="name of the exported backbone")
    pt.add_argument("--size", type=int, default=64, help="training input size (pixels)")
    pt.add_argument("--epochs", type=int, default=40, help="epochs of the schedule (the cosine ends there)")
    pt.add_argument("--batch-size", type=int, default=128)
    pt.add_argument("--budget-min", type=float, default=None, help="stop after this many minutes (resumable)")
    pt.add_argument("--checkpoint", type=Path, default=None, help="default .samx/pretrain/<name>.pt")
    pt.add_argument("--limit", type=int, default=None, help="use only this many images (a quick check)")
    pt.add_argument("--no-export", action="store_true", help="train and checkpoint only")
    pt.add_argument("--export-only", action="store_true", help="export the checkpoint as it is, no training")
    pt.add_argument("--device", default=None)
    return parser


def _phase1(args, settings) -> int:
    from samx_trainer.launch.run import with_overrides
    from samx_trainer.phase1.job import run_phase1

    try:
        event = run_phase1(
            with_overrides(settings, args.n_clusters),
            args.profile,
            run_id=args.run_id,
            labels_csv=args.labels,
            publish=not args.no_publish,
        )
    except Phase1DataError as exc:
        print(f"phase 1 cannot run: {exc}", file=sys.stderr)
        return 2
    print(
        f"phase 1 run {event.run_id}: {event.n_images} radiographs in {event.n_clusters} clusters; "
        f"artifacts in s3://{event.assignments.bucket}/{event.artifacts_prefix}"
    )
    if event.metrics:
        print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in event.metrics.items()))
    return 0


def _phase2(args, settings) -> int:
    from samx_core.archive import label_set_key
    from samx_core.storage import ObjectStore

    from samx_trainer.phase2.archive import read_labelset
    from samx_trainer.phase2.data import Phase2DataError
    from samx_trainer.phase2.job import ModelExistsError, run_phase2

    key = label_set_key(args.run_id, args.labelset_version)  # the consumer uses the event's reference
    try:
        labelset = read_labelset(ObjectStore(settings.s3), (settings.s3.archive_bucket, key))
        result = run_phase2(
            settings, args.profile, labelset, model_version=args.model_version, promote_now=args.promote
        )
    except (Phase2DataError, ModelExistsError) as exc:
        print(f"phase 2 cannot run: {exc}", file=sys.stderr)
        return 2
    m = result.manifest
    print(
        f"model {m.version}: {len(m.classes)} classes, report in s3://{settings.s3.archive_bucket}/{result.artifacts_prefix}"
    )
    print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in m.metrics.items()))
    print(f"uncertain threshold {m.uncertain_threshold:.3f}; {result.promotion_note}")
    return 0


def _promote(args, settings) -> int:
    from samx_core.model_registry import ModelNotFoundError, ModelRegistry
    from samx_core.storage import ObjectStore

    from samx_trainer.phase2.promotion import promote

    store = ObjectStore(settings.s3)
    try:
        event = promote(store, ModelRegistry(store, settings.s3.archive_bucket), settings.kafka, args.version)
    except (ModelNotFoundError, ValueError) as exc:
        print(f"cannot promote: {exc}", file=sys.stderr)
        return 2
    print(f"promoted {event.model_version}; model.published event {event.event_id}")
    return 0


def _evaluate(args, settings) -> int:
    from samx_core.model_registry import ModelNotFoundError, ModelRegistry
    from samx_core.storage import ObjectStore

    from samx_trainer.phase2.evaluate import EvaluationDataError, evaluate_registered

    registry = ModelRegistry(ObjectStore(settings.s3), settings.s3.archive_bucket)
    try:
        report = evaluate_registered(registry, args.model, args.data, args.device)
    except (ModelNotFoundError, EvaluationDataError, ValueError) as exc:
        print(f"cannot evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


def _pretrain(args, settings: TrainerSettings) -> int:
    from samx_trainer.pretrain_job import export_run, load_corpus, pretext_config, run_pretrain

    checkpoint = args.checkpoint or Path(".samx/pretrain") / f"{args.name}.pt"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    try:
        corpus = load_corpus(args.data, args.size, args.limit)
    except (OSError, ValueError, KeyError) as exc:
        print(f"pretrain cannot run: {exc}", file=sys.stderr)
        return 2
    print(f"[pretrain] {len(corpus.sources)} radiographs, regions {corpus.region_names}", flush=True)
    cfg = pretext_config(args.size, args.epochs, args.batch_size)
    budget = args.budget_min * 60 if args.budget_min else None
    run = run_pretrain(
        corpus,
        cfg,
        checkpoint=checkpoint,
        budget_s=budget,
        precision=settings.precision,
        device_name=args.device,
        train=not args.export_only,
    )
    if not args.no_export:
        shipped = export_run(run, corpus, cfg, args.name, args.device or ("cuda" if torch_cuda() else "cpu"))
        print(f"[pretrain] exported {shipped.path} (sha256 {shipped.sha256[:12]}..., {run.epochs} epochs)")
    return 0


def torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Every command: a phase-1/2 RayJob's driver, the consumer and the one-off commands all trace (the
    # consumer continues the trace of each event it handles) and log alike.
    bootstrap_telemetry("samx-trainer")

    if args.command == "pretrain":  # needs no object store or broker: a folder in, package data out
        return _pretrain(args, TrainerSettings())
    from samx_trainer.settings import get_settings

    settings = get_settings()
    if args.command == "consume":
        from samx_trainer.consumer import run_consumer

        run_consumer(settings, args.profile)
        return 0
    if args.command == "launch":
        from samx_trainer.launch.cli import main as launch_main

        return launch_main(args, settings)
    handlers = {
        "phase1": _phase1,
        "phase2": _phase2,
        "promote": _promote,
        "evaluate": _evaluate,
        "pretrain": _pretrain,
    }
    return handlers[args.command](args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
