"""The README's main job, driven from the outside: ``samx demo`` on a slice of the dev data, with its
own local stack (Kafka, MinIO, Ray as processes), then ``samx stack down``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.datasets import unifesp_dir

REPO = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("SAMX_E2E_TARGET") == "kind",
        reason="starts its own local stack; the kind target runs test_pipeline",
    ),
]


def _samx(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    samx = shutil.which("samx") or str(Path(sys.executable).parent / "samx")
    return subprocess.run([samx, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def test_demo_streams_a_data_set_through_the_pipeline_and_stack_down_stops_it(tmp_path):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for png in sorted((unifesp_dir() / "images").glob("*.png"))[:24]:
        shutil.copy(png, data / "images" / png.name)
    (data / "images" / "notes.bin").write_bytes(b"this is not a radiograph")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAMX_")}
    env |= {"SAMX_HOME": str(tmp_path / "home"), "SAMX_BUILD": str(REPO / ".samx" / "build"), "COLUMNS": "120"}
    try:
        demo = _samx("demo", "--data", str(data), "--workers", "1", "--phase1", "none", env=env, timeout=600)
        assert demo.returncode == 0, demo.stdout + demo.stderr
        lines = {line.strip("│ ").split("│")[0].strip(): line for line in demo.stdout.splitlines() if "│" in line}
        assert lines["sent"].split("│")[-2].strip() == "25"
        assert lines["ingested (new radiographs)"].split("│")[-2].strip() == "24"
        assert lines["not_an_image"].split("│")[-2].strip() == "1"
        status = _samx("stack", "status", env=env, timeout=60)
        # every process the demo started, alive and ready (exit 0 says none is down or not ready)
        assert status.returncode == 0, status.stdout + status.stderr
        rows = {line.strip("│ ").split("│")[0].strip(): line for line in status.stdout.splitlines() if "│" in line}
        for name in ("kafka", "minio", "ray", "ingest-0"):
            assert "yes" in rows[name] and "ready" in rows[name], status.stdout
    finally:
        down = _samx("stack", "down", env=env, timeout=120)
    assert down.returncode == 0
    assert "ingest-0" in down.stdout and "kafka" in down.stdout
    pids = list((tmp_path / "home" / "stack" / "pids").glob("*.pid"))
    assert pids == []
