"""``samx-labeling serve`` as a real process for tests that drive it over HTTP (the browser, the CLI):
a free loopback port, SQLite in the test's tmp_path, one throwaway labeler token; stopped by its PID."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from samx_cli.stack.ports import free_port, wait_until
from samx_cli.stack.processes import ManagedProcess

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LabelingService:
    url: str
    token: str  # a throwaway labeler grant of this test's own service process

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def lists_run(self, run_id: str) -> bool:
        runs = httpx.get(f"{self.url}/api/v1/runs", headers=self.headers, timeout=2).json()["items"]
        return any(r["run_id"] == run_id for r in runs)


@contextmanager
def running_labeling_service(test_env: dict, namespace: str, tmp_path: Path, run_id: str) -> Iterator[LabelingService]:
    """The service, ready once its consumer has opened ``run_id``'s session from ``clustering.completed``."""
    port, token = free_port(), f"ui-{secrets.token_hex(12)}"
    process = ManagedProcess("labeling", tmp_path, tmp_path)
    env = {
        **test_env,
        "SAMX_LABELING_DATABASE_URL": f"sqlite:///{tmp_path / 'labeling.db'}",
        "SAMX_LABELING_TOKENS": json.dumps({token: {"user": "dr-ui", "role": "labeler"}}),
        "SAMX_LABELING_CONSUMER_GROUP": f"{namespace}-labeling",
        "SAMX_LABELING_HOST": "127.0.0.1",
    }
    process.start([sys.executable, "-m", "samx_labeling", "serve", "--port", str(port)], env=env, cwd=REPO_ROOT)
    service = LabelingService(f"http://127.0.0.1:{port}", token)
    hint = f"; log: {process.log_file}"
    try:
        wait_until(
            lambda: httpx.get(f"{service.url}/readyz", timeout=1).status_code == 200,
            timeout_s=60, what="labeling service", alive=process.running, log_hint=hint,
        )  # fmt: skip
        wait_until(
            lambda: service.lists_run(run_id),
            timeout_s=60, what="the run's labeling session", alive=process.running, log_hint=hint,
        )  # fmt: skip
        yield service
    finally:
        process.stop()
