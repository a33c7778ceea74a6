"""The SAM-X services the demo runs against the local stack, each its own process (run, never imported):
labeling (API + web UI), the trainer's event consumer (phase 2 on ``labels.published``), serving (the Ray
Serve app on the stack's Ray head, with its hot-swap watcher) and the streaming sort.

All are ``ManagedProcess``es with PID files beside the stack's, so ``samx stack down`` stops them too."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from samx_cli.stack.components import NO_UV_HOOK_ENV
from samx_cli.stack.ports import free_port, wait_until
from samx_cli.stack.processes import ManagedProcess


def service_executable(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


@dataclass(frozen=True)
class LabelingAccess:
    url: str
    labeler_token: str
    admin_token: str
    tokens_file: Path | None


@dataclass(frozen=True)
class DeployedServices:
    """Services already running elsewhere (a Kubernetes install, port-forwarded by k8s/e2e.sh)."""

    labeling_url: str
    labeling_token: str
    serving_url: str


def deployed_services() -> DeployedServices | None:
    """``SAMX_LABELING_URL``, ``SAMX_LABELING_TOKEN`` and ``SAMX_SERVING_URL`` all set: use those services
    (and the Kafka/S3 of ``SAMX_KAFKA_*``/``SAMX_S3_*``) instead of starting any here."""
    names = ("SAMX_LABELING_URL", "SAMX_LABELING_TOKEN", "SAMX_SERVING_URL")
    values = [os.environ.get(n, "") for n in names]
    if not any(values):
        return None
    if not all(values):
        raise SystemExit(f"set all of {', '.join(names)} to use deployed services, or none of them")
    return DeployedServices(*values)


def labeling_tokens(state_dir: Path) -> tuple[Path, str, str]:
    """A token file for this machine's demo (made once, 0600): a radiologist (labeler) and an admin."""
    path = state_dir / "labeling-tokens.json"
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        table = {
            secrets.token_urlsafe(24): {"user": "radiologist", "role": "labeler"},
            secrets.token_urlsafe(24): {"user": "admin", "role": "admin"},
        }
        path.write_text(json.dumps(table, indent=1))
        path.chmod(0o600)
    table = json.loads(path.read_text())
    by_role = {grant["role"]: token for token, grant in table.items()}
    return path, by_role["labeler"], by_role["admin"]


def _ready(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback URL we built)
        return response.status == 200


def _start(
    state_dir: Path, name: str, command: list[str], env: dict[str, str], ready_url: str | None, timeout_s: float
) -> ManagedProcess:
    process = ManagedProcess(name, state_dir / "pids", state_dir / "logs")
    process.stop()  # one left from an earlier run restarts with this run's settings and code
    process.start(command, env=env)
    if ready_url:
        wait_until(
            lambda: _ready(ready_url),
            timeout_s=timeout_s,
            what=name,
            alive=process.running,
            log_hint=f"; see {process.log_file}",
        )
    return process


def start_labeling(
    state_dir: Path, env: dict[str, str], serving_url: str | None = None
) -> tuple[ManagedProcess, LabelingAccess]:
    """``serving_url``: where serving will answer (it starts later); the page then shows its prediction and
    Grad-CAM, asking with the stack's serving client token."""
    tokens_file, labeler, admin = labeling_tokens(state_dir)
    port = free_port()
    child = {
        **env,
        "SAMX_LABELING_DATABASE_URL": f"sqlite:///{(state_dir / 'labeling.db').resolve()}",
        "SAMX_LABELING_TOKENS": str(tokens_file.resolve()),
        "SAMX_LABELING_HOST": "127.0.0.1",
        "SAMX_LABELING_PORT": str(port),
    }
    if serving_url and env.get("SAMX_SERVING_CLIENT_TOKEN"):
        child["SAMX_LABELING_SERVING_URL"] = serving_url
        child["SAMX_LABELING_SERVING_TOKEN"] = env["SAMX_SERVING_CLIENT_TOKEN"]
    url = f"http://127.0.0.1:{port}"
    process = _start(state_dir, "labeling", [service_executable("samx-labeling"), "serve"], child, f"{url}/readyz", 90)
    return process, LabelingAccess(url, labeler, admin, tokens_file)


def start_trainer_consumer(state_dir: Path, env: dict[str, str], profile: str) -> ManagedProcess:
    """Phase 2 for every ``labels.published``; promotes what it trains (the demo's policy)."""
    child = {**env, "SAMX_TRAINER_AUTO_PROMOTE": "true", **NO_UV_HOOK_ENV}
    command = [service_executable("samx-trainer"), "consume", "--profile", profile]
    return _start(state_dir, "trainer-consumer", command, child, None, 0)


def serving_client_token(env: dict[str, str]) -> str:
    """The bearer token the demo's serving clients send (the stack makes one per machine)."""
    token = env.get("SAMX_SERVING_CLIENT_TOKEN")
    if not token or not env.get("SAMX_SERVING_TOKENS"):
        raise SystemExit(
            "no serving token: 'samx stack up' makes one, or set SAMX_SERVING_TOKENS and SAMX_SERVING_CLIENT_TOKEN"
        )
    return token


def start_serving(state_dir: Path, env: dict[str, str], port: int | None = None) -> tuple[ManagedProcess, str]:
    """The Serve app on the stack's Ray head, and its watcher that hot-swaps on ``model.published``;
    it answers the stack's serving token (``SAMX_SERVING_TOKENS``). ``port``: the one labeling was told."""
    serving_client_token(env)
    port = port or free_port()
    child = {
        **env,
        "SAMX_SERVING_HTTP_HOST": "127.0.0.1",
        "SAMX_SERVING_HTTP_PORT": str(port),
        **NO_UV_HOOK_ENV,
    }
    url = f"http://127.0.0.1:{port}"
    process = _start(state_dir, "serving", [service_executable("samx-serving"), "deploy"], child, f"{url}/readyz", 300)
    return process, url


def start_sorter(state_dir: Path, env: dict[str, str], serving_url: str) -> ManagedProcess:
    child = {**env, "SAMX_SERVING_SERVING_URL": serving_url, "SAMX_SERVING_CLIENT_TOKEN": serving_client_token(env)}
    return _start(state_dir, "serving-sort", [service_executable("samx-serving"), "sort"], child, None, 0)
