"""Settings refuse missing or placeholder tokens; ``alembic upgrade head`` works on SQLite and
PostgreSQL; the web UI folder is served at ``/`` and ``/static``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from samx_labeling.api.app import create_app
from samx_labeling.settings import LabelingSettings
from sqlalchemy import create_engine, inspect

from .conftest import make_context

SERVICE_DIR = Path(__file__).resolve().parents[1]
TABLES = {"runs", "clusters", "members", "vocabulary", "audit", "labelsets", "suggestions", "alembic_version"}


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (None, "not set"),
        ('{"changeme": {"user": "a", "role": "admin"}}', "placeholder"),
        ('{"aaaaaaaaaaaaaaaaaaaa": {"user": "a", "role": "admin"}}', "placeholder"),
        ('{"a-real-looking-token-123": {"user": "a", "role": "root"}}', "viewer|labeler|admin"),
        ("{not json", "not valid JSON"),
        ("/no/such/file.json", "neither JSON nor"),
    ],
)
def test_bad_token_tables_are_refused(tokens, message):
    with pytest.raises(ValueError, match=message):
        LabelingSettings(tokens=tokens).token_grants()


def test_tokens_from_a_file(tmp_path):
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"a-real-looking-token-123": {"user": "dr.x", "role": "labeler"}}))
    grants = LabelingSettings(tokens=str(path)).token_grants()
    assert grants["a-real-looking-token-123"].user == "dr.x"


def test_serve_exits_with_a_message_on_placeholder_tokens(test_env):
    env = {**test_env, "SAMX_LABELING_TOKENS": '{"changethis": {"user": "a", "role": "admin"}}'}
    done = subprocess.run([sys.executable, "-m", "samx_labeling", "serve"], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "placeholder" in done.stderr


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_alembic_upgrade_head_and_downgrade_from_the_command_line(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path}/cli.db" if backend == "sqlite" else request.getfixturevalue(
        "postgres_server").create_database()  # fmt: skip
    env = {"SAMX_LABELING_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    alembic = [sys.executable, "-m", "alembic"]
    subprocess.run([*alembic, "upgrade", "head"], cwd=SERVICE_DIR, env=env, check=True, timeout=60)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == TABLES
    subprocess.run([*alembic, "downgrade", "base"], cwd=SERVICE_DIR, env=env, check=True, timeout=60)
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


def test_web_folder_is_served(tmp_path, archive_s3, kafka_settings):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>SAM-X labeling</title>")
    (web / "app.js").write_text("console.log('hi');")
    (tmp_path / "secret.txt").write_text("outside")
    context = make_context(f"sqlite:///{tmp_path}/web.db", archive_s3, kafka_settings, web_dir=web)
    with TestClient(create_app(context, max_request_bytes=1024)) as client:
        page = client.get("/")
        assert page.status_code == 200 and "SAM-X labeling" in page.text
        assert page.headers["content-type"].startswith("text/html")
        assert client.get("/static/app.js").text == "console.log('hi');"
        assert client.get("/static/../secret.txt").status_code == 404
        assert client.get("/static/%2e%2e/secret.txt").status_code == 404
        assert client.get("/static/nope.js").status_code == 404
    context.close()
