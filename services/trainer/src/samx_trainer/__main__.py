"""``samx-trainer``: the trainer's command line, also the entrypoint of the phase-1 KubeRay RayJob.

samx-trainer phase1 --profile ci|dev|gpu [--labels labels.csv] [--run-id ID]
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from samx_trainer.data import Phase1DataError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samx-trainer", description="SAM-X trainer")
    sub = parser.add_subparsers(dest="command", required=True)
    p1 = sub.add_parser("phase1", help="self-supervised clustering of the archive (SimCLR + SCAN on Ray Train)")
    p1.add_argument("--profile", default="ci", help="ci | dev | gpu (samx_ml.profiles)")
    p1.add_argument("--labels", type=Path, default=None, help="labels.csv for metrics (ground truth)")
    p1.add_argument("--run-id", default=None, help="run id; the same id resumes from its last checkpoint")
    p1.add_argument("--no-publish", action="store_true", help="do not publish clustering.completed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)  # a line per connection otherwise

    from samx_trainer.job import run_phase1
    from samx_trainer.settings import get_settings

    try:
        event = run_phase1(
            get_settings(), args.profile, run_id=args.run_id, labels_csv=args.labels, publish=not args.no_publish
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


if __name__ == "__main__":
    raise SystemExit(main())
