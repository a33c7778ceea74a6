"""Phase-1 benchmark on this machine's CPU, ``dev`` profile (SimCLR 96 px -> kNN -> SCAN -> self-label),
scored on the 30% patient split against the raw-pixel k-means floor and SimCLR + k-means, in one run.

    uv run python bench/gpu/prepare_data.py            # once: packs .gpu/data (the same split as the GPU run)
    PYTHONPATH=libs/samx-ml/src uv run python bench/phase1_cpu.py --out bench/results/phase1-cpu [--budget-s 3500]
    PYTHONPATH=libs/samx-ml/src uv run python bench/phase1_cpu.py --out /tmp/p1 --smoke

Same code path as ``bench/gpu/run_method.py`` (phase 1 only); the wall-clock budget defaults to 58 minutes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "gpu"))

from run_method import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if "--budget-s" not in argv and "--smoke" not in argv:
        argv += ["--budget-s", "3480"]
    if "--data" not in argv:
        argv += ["--data", str(Path(__file__).resolve().parents[1] / ".gpu" / "data")]
    raise SystemExit(main(argv, phase1_only=True, default_profile="dev"))
