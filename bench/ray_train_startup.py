"""What a Ray Train job costs before its first step, and what Ray Train's local knobs buy.

Every phase-1 and phase-2 run goes through ``samx_trainer.common.ray_train.fit_torch_job``: a
``TrainController`` actor, an autoscaling coordinator, a preemption watcher and the worker group, each a
process of its own that imports what the training loop needs. On a small archive that start-up is a
large share of the run (the demo's phase 2 waited ~60 s for its first epoch on 2 cores). This script
measures it through the same wrapper, with a training loop that imports what phase 2's loop imports and
reports one checkpoint, so the figure is the fixed cost of a run and nothing else.

Each variant runs in a fresh interpreter with a fresh local Ray (``num_cpus=2``), two fits in a row (the
first pays for the cluster's detached actors), variants interleaved and repeated. Printed per variant:
the median wall time of the first and the second fit, the time from ``fit()`` to the first line of the
training loop, and the ratio of the second fit to the baseline's (``stack``) in the same run.

    uv run python bench/ray_train_startup.py --repeats 2 --out bench/results/ray-train-startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS: dict[str, dict[str, str]] = {
    # The local stack's drivers and head (samx_cli.stack.components.NO_UV_HOOK_ENV): the baseline.
    "stack": {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"},
    # Ray's default under ``uv run`` (this script is one): every worker through ``uv run``, the current
    # folder shipped as working_dir; what the demo's phase-2 job did before the stack switched it off.
    "uv-hook": {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "1"},
    # A spot-instance preemption poller: a 0-CPU actor process per worker group, of no use on one node.
    "no-preemption-watcher": {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"},
    # A virtual environment without bytecode, as ``uv sync`` leaves it by default, on a machine that sets
    # PYTHONDONTWRITEBYTECODE (CI images do): every process compiles torch's and Ray's modules from source
    # again. An empty cache prefix hides the compiled files from every process of the run, Ray's included.
    "no-bytecode": {"RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": ""},
}
STATE_FILE = "startup.pt"


def _loop(config: dict) -> None:
    """Imports what phase 2's loop imports, then reports one checkpoint holding when it started."""
    started = time.time()
    import ray.train
    import samx_trainer.phase2.train  # noqa: F401  (the real loop's import graph)
    import torch

    with tempfile.TemporaryDirectory() as d:
        torch.save({"loop_started": started}, os.path.join(d, STATE_FILE))
        checkpoint = ray.train.Checkpoint.from_directory(d) if ray.train.get_context().get_world_rank() == 0 else None
        ray.train.report({"done": 1}, checkpoint=checkpoint)


def _child(workers: int) -> dict[str, float]:
    import ray
    from samx_trainer.common.ray_train import fit_torch_job
    from samx_trainer.settings import TrainerSettings

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    figures: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as storage:
            for fit in ("first", "second"):
                t0 = time.time()
                result = fit_torch_job(
                    _loop,
                    {},
                    TrainerSettings(num_workers=workers, max_failures=0),
                    name=f"startup-{fit}",
                    state_file=STATE_FILE,
                    storage_path=storage,
                    storage_filesystem=None,
                    checkpoints_kept=1,
                )
                figures[f"{fit}_fit_s"] = time.time() - t0
                figures[f"{fit}_to_loop_s"] = result.state["loop_started"] - t0
    finally:
        ray.shutdown()
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2, help="Ray Train workers per fit (the tests use 2)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.workers)))
        return 0
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    total = args.repeats * len(VARIANTS)
    for r in range(args.repeats):
        for i, (name, env) in enumerate(VARIANTS.items()):
            print(f"[{r * len(VARIANTS) + i + 1}/{total}] {name} ...", file=sys.stderr, flush=True)
            if "PYTHONPYCACHEPREFIX" in env:
                env = {**env, "PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="samx-no-bytecode-")}
            done = subprocess.run(
                [sys.executable, __file__, "--child", "--workers", str(args.workers)],
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    table = {
        name: {key: round(statistics.median(run[key] for run in found), 1) for key in found[0]}
        for name, found in runs.items()
    }
    base = table["stack"]
    for row in table.values():
        row["first_fit_vs_stack"] = round(row["first_fit_s"] / base["first_fit_s"], 2)
        row["second_fit_vs_stack"] = round(row["second_fit_s"] / base["second_fit_s"], 2)
    report = {"workers": args.workers, "repeats": args.repeats, "cpus": os.cpu_count(), "variants": table, "runs": runs}
    print(json.dumps(table, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
