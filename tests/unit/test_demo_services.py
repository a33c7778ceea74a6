"""The demo's two targets: services it starts here, or a deployment's (all three variables or none); the
serving token the local stack makes for its serving API and the clients of it."""

from __future__ import annotations

import csv
import hashlib
import json
import shlex
import sys

import pytest
from samx_cli.main import app
from samx_cli.pipeline import known_labels_csv
from samx_cli.services import deployed_services, labeling_tokens, serving_client_token
from samx_cli.stack.manager import LocalStack
from samx_cli.stack.ports import port_is_free, wait_until
from samx_core.auth import parse_token_grants
from typer.testing import CliRunner


def test_no_variables_means_local_services(monkeypatch):
    for name in ("SAMX_LABELING_URL", "SAMX_LABELING_TOKEN", "SAMX_SERVING_URL"):
        monkeypatch.delenv(name, raising=False)
    assert deployed_services() is None


def test_all_variables_name_a_deployment_and_a_partial_set_is_refused(monkeypatch):
    monkeypatch.setenv("SAMX_LABELING_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SAMX_LABELING_TOKEN", "t" * 24)
    monkeypatch.delenv("SAMX_SERVING_URL", raising=False)
    with pytest.raises(SystemExit, match="SAMX_SERVING_URL"):
        deployed_services()
    monkeypatch.setenv("SAMX_SERVING_URL", "http://127.0.0.1:2")
    assert deployed_services().serving_url == "http://127.0.0.1:2"


def test_demo_tokens_are_made_once_private_and_by_role(tmp_path):
    path, labeler, admin = labeling_tokens(tmp_path)
    assert oct(path.stat().st_mode & 0o777) == "0o600" and labeler != admin and len(labeler) >= 24
    assert labeling_tokens(tmp_path)[1:] == (labeler, admin)


def test_known_labels_become_sha256_suggestions(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(b"first")
    (tmp_path / "images" / "b.png").write_bytes(b"second")
    with (tmp_path / "labels.csv").open("w", newline="") as handle:
        w = csv.writer(handle)
        rows = [["image", "labels"], ["images/a.png", "hand;wrist"], ["images/b.png", ""], ["images/gone.png", "knee"]]
        w.writerows(rows)
    body, rows = known_labels_csv(tmp_path)
    assert rows == 1
    assert body.decode().splitlines() == ["sha256,labels", f"{hashlib.sha256(b'first').hexdigest()},hand;wrist"]


def test_the_stack_makes_one_serving_token_and_exports_it_for_the_api_and_its_clients(tmp_path):
    stack = LocalStack(tmp_path / "build", tmp_path / "stack", say=lambda _m: None)
    env = stack.up(())  # no component: only the stack's config and environment
    assert stack.up(())["SAMX_SERVING_CLIENT_TOKEN"] == env["SAMX_SERVING_CLIENT_TOKEN"], "made once per machine"
    assert f"SAMX_SERVING_CLIENT_TOKEN={env['SAMX_SERVING_CLIENT_TOKEN']}" in stack.env_file.read_text()
    grants = parse_token_grants(env["SAMX_SERVING_TOKENS"], setting_name="SAMX_SERVING_TOKENS")
    assert {t: (g.user, g.role) for t, g in grants.items()} == {
        env["SAMX_SERVING_CLIENT_TOKEN"]: ("samx-local", "viewer")
    }
    assert serving_client_token(env) == env["SAMX_SERVING_CLIENT_TOKEN"]
    with pytest.raises(SystemExit, match="no serving token"):
        serving_client_token({"SAMX_SERVING_CLIENT_TOKEN": env["SAMX_SERVING_CLIENT_TOKEN"]})


def test_samx_env_quotes_the_json_of_the_serving_tokens(tmp_path, monkeypatch):
    tokens = '{"a-long-local-token-0123456789":{"user":"samx-local","role":"viewer"}}'
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "stack.env").write_text(f"SAMX_SERVING_TOKENS={tokens}\n")
    monkeypatch.setenv("SAMX_HOME", str(tmp_path))
    monkeypatch.delenv("SAMX_SERVING_TOKENS", raising=False)
    out = CliRunner().invoke(app, ["env"]).stdout
    (line,) = [line for line in out.splitlines() if "SAMX_SERVING_TOKENS" in line]
    assert shlex.split(line) == ["export", f"SAMX_SERVING_TOKENS={tokens}"]


def test_bringing_up_one_component_leaves_the_running_ones_on_their_ports(tmp_path):
    """``up(("ray",))`` on a stack whose MinIO runs must not move MinIO in stack.json: its clients hold
    that port (a re-picked one sent a later restart of MinIO to a port no client knew)."""
    stack = LocalStack(tmp_path / "build", tmp_path / "stack", say=lambda _m: None)
    stack.up(())
    config = json.loads(stack.config_file.read_text())
    port = config["minio_port"]
    listener = f"import socket, time; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(120)"
    minio = stack.process("minio")
    minio.start([sys.executable, "-c", listener])
    try:
        wait_until(lambda: not port_is_free(config["minio_port"]), timeout_s=30, what="the stand-in MinIO")
        stack._save_config({**config, "components": ["minio"]})
        stack.up(())  # another component's up (none started here): the config step is the same
        after = json.loads(stack.config_file.read_text())
        assert (
            after["minio_port"] == config["minio_port"] and after["minio_console_port"] == config["minio_console_port"]
        )
        assert stack.environment()["SAMX_S3_ENDPOINT"] == f"127.0.0.1:{config['minio_port']}"
    finally:
        minio.stop()
    assert not minio.running()


def test_the_ray_head_and_its_drivers_start_workers_without_the_uv_hook(tmp_path):
    """Ray's uv hook applies in any driver with a ``uv run`` ancestor, the head's own Jobs API included
    (``uv run samx demo`` is one): each worker would start through ``uv run`` with the checkout shipped as
    its working_dir. The head and every driver of the stack (the stack environment) switch it off."""
    from samx_cli.stack.components import RayHead

    head = RayHead(tmp_path, port=1, dashboard_port=2, num_cpus=2)
    assert head.env()["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] == "0"
    assert head.client_env()["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] == "0"
