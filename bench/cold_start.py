"""Cold start of the processes SAM-X starts most often: a serving model replica (import the replica's
module, build a ResNet-18 classifier, one forward pass) and the ``samx`` CLI (``samx --help``), each in
fresh interpreters, beside a baseline measured in the same run: the same replica steps after importing
what the replica's import graph held before SAM-X had its own ResNet trunk and lazy metrics imports
(``torchvision``, which imports ``torch._dynamo``, and ``sklearn.metrics`` / ``scipy.optimize``).

    uv run python bench/cold_start.py [--repeats 3]

Prints median CPU and wall seconds per case and the ratio to the baseline; writes
``bench/results/cold-start.json``. A benchmark, not a test: it asserts nothing. Wall times depend on
what else the machine runs; CPU seconds much less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "cold-start.json"
REPLICA = (
    "import torch, samx_serving.ingress; from samx_ml.backbone import Backbone; "
    "from samx_ml.classifier import Classifier; m = Classifier(Backbone('resnet18'), 22).eval(); "
    "m(torch.zeros(1, 1, 64, 64))"
)
BEFORE = "import torchvision, sklearn.metrics, scipy.optimize; "  # what the replica imported before


def _measure(argv: list[str]) -> tuple[float, float]:
    """(cpu seconds of the child, wall seconds) of one fresh process."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=REPO)
    wall = time.perf_counter() - started
    after = os.times()
    return after.children_user + after.children_system - before.children_user - before.children_system, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    samx = shutil.which("samx") or str(Path(sys.executable).parent / "samx")
    cases = {
        "replica (baseline: + torchvision, sklearn)": [sys.executable, "-c", BEFORE + REPLICA],
        "replica (now)": [sys.executable, "-c", REPLICA],
        "samx --help": [samx, "--help"],
    }
    results: dict[str, dict[str, float]] = {}
    for _ in range(args.repeats):  # interleaved, so that load changes hit every case alike
        for name, argv in cases.items():
            cpu, wall = _measure(argv)
            results.setdefault(name, {"cpu": [], "wall": []})  # type: ignore[dict-item]
            results[name]["cpu"].append(cpu)  # type: ignore[attr-defined]
            results[name]["wall"].append(wall)  # type: ignore[attr-defined]
    summary = {
        name: {"cpu_s": statistics.median(r["cpu"]), "wall_s": statistics.median(r["wall"])}  # type: ignore[arg-type]
        for name, r in results.items()
    }
    baseline = summary["replica (baseline: + torchvision, sklearn)"]
    table = Table(title=f"cold start, median of {args.repeats} fresh processes")
    for column in ("process", "CPU s", "wall s", "CPU / baseline"):
        table.add_column(column)
    for name, s in summary.items():
        ratio = f"{s['cpu_s'] / baseline['cpu_s']:.2f}" if name.startswith("replica") else "-"
        table.add_row(name, f"{s['cpu_s']:.1f}", f"{s['wall_s']:.1f}", ratio)
    Console().print(table)
    load = os.getloadavg()[0]
    RESULTS.write_text(
        json.dumps(
            {
                "machine": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "load_average_1m_at_end": load,
                "repeats": args.repeats,
                "cases": summary,
                "replica_cpu_ratio_to_baseline": summary["replica (now)"]["cpu_s"] / baseline["cpu_s"],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS.relative_to(REPO)} (1-minute load average {load:.1f})")


if __name__ == "__main__":
    main()
