"""The whole method from the outside, on the README's main job: ``samx demo`` on the bundled sample (a
copy, with one file beside the images that is no radiograph) with its own local stack (Kafka, MinIO, Ray
as processes) and the services as processes (ingest, labeling, trainer consumer, Ray Serve, streaming
sort). Then, over the services' public interfaces only: every file sent has its outcome (the stray file
rejected, not lost), the labeling API has the run and its published label set, serving classifies and
explains real radiographs over HTTP to its bearer token (and refuses callers without one) and refuses bad
input with a 4xx, the sorted index answers by class, and every radiograph has its
``radiograph.classified`` event. ``samx stack status`` finds every process alive and ready, and ``samx
stack down`` stops every process it started."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from samx_core.bus.reader import EventReader
from samx_core.events import RadiographClassified
from samx_core.settings import KafkaSettings

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
# The whole main job runs in the module fixture: ~8 minutes alone on 2 cores, ~20 beside a second xdist
# worker. The subprocess has its own bound below; this one is pytest-timeout's for the setup.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]


def _samx(*args: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    samx = shutil.which("samx") or str(Path(sys.executable).parent / "samx")
    return subprocess.run([samx, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _http(method: str, url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _stack_env(home: Path) -> dict[str, str]:
    env = {}
    for line in (home / "stack" / "stack.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    return env


KIND = os.environ.get("SAMX_E2E_TARGET") == "kind"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The local stack by default; with SAMX_E2E_TARGET=kind (k8s/e2e.sh) the chart's services, port-forwarded:
    the same command drives them (phase 1 through ``phase1.requested`` and the launcher's RayJob)."""
    home = tmp_path_factory.mktemp("home")
    data = tmp_path_factory.mktemp("data") / "sample"
    shutil.copytree(SAMPLE, data)
    (data / "images" / "notes.bin").write_bytes(b"this is not a radiograph")
    env = {k: v for k, v in os.environ.items() if KIND or not k.startswith("SAMX_")}
    env |= {"SAMX_HOME": str(home), "SAMX_BUILD": str(REPO / ".samx" / "build"), "COLUMNS": "140"}
    if KIND:
        env |= {
            "SAMX_LABELING_URL": os.environ["SAMX_E2E_LABELING_URL"],
            "SAMX_LABELING_TOKEN": os.environ["SAMX_E2E_LABELING_TOKEN"],
            "SAMX_SERVING_URL": os.environ["SAMX_E2E_SERVING_URL"],
        }
    try:
        run = _samx("demo", "--data", str(data), env=env, timeout=3600 if KIND else 1500)
        # the whole output: a failing step (a child process, say) prints its cause well before its end
        assert run.returncode == 0, run.stdout[-40000:] + "\n--- stderr ---\n" + run.stderr[-40000:]
        result = json.loads((home / "stack" / "demo.json").read_text())
        stack = {} if KIND else _stack_env(home)
        kafka = env["SAMX_KAFKA_BOOTSTRAP_SERVERS"] if KIND else stack["SAMX_KAFKA_BOOTSTRAP_SERVERS"]
        # the token the stack made for its serving API; a deployment's from its Secret (k8s/e2e.sh)
        serving_token = os.environ["SAMX_E2E_SERVING_TOKEN"] if KIND else stack["SAMX_SERVING_CLIENT_TOKEN"]
        yield run.stdout, result, kafka, {"Authorization": f"Bearer {serving_token}"}
        if not KIND:
            # every process the demo started, alive and ready (exit 0 says none is down or not ready)
            status = _samx("stack", "status", env=env, timeout=60)
            assert status.returncode == 0, status.stdout + status.stderr
            rows = _table_rows(status.stdout)
            for name in ("kafka", "minio", "ray", "ingest-0", "labeling", "serving"):
                assert "yes" in rows[name] and "ready" in rows[name], status.stdout
            for name in ("trainer-consumer", "serving-sort"):  # no readiness endpoint: alive
                assert "yes" in rows[name], status.stdout
    finally:
        if not KIND:
            down = _samx("stack", "down", env=env, timeout=180)
            assert down.returncode == 0, down.stderr
            assert "ingest-0" in down.stdout and "kafka" in down.stdout, down.stdout
            assert list((home / "stack" / "pids").glob("*.pid")) == [], "stack down left processes running"


def _table_rows(stdout: str) -> dict[str, str]:
    """A rich table's rows by their first cell."""
    return {line.strip("│ ").split("│")[0].strip(): line for line in stdout.splitlines() if "│" in line}


def _cell(row: str) -> str:
    return row.split("│")[-2].strip()


def _viewer_token(result: dict) -> str:
    if KIND:
        return os.environ["SAMX_E2E_LABELING_TOKEN"]
    return next(iter(json.loads(Path(result["labeling_tokens_file"]).read_text())))


def test_the_main_job_prints_what_a_user_needs(demo):
    stdout, result, _, _ = demo
    assert result["classified"] == result["n_images"] >= 300
    for needle in ("suggestions", "play the radiologist", "labeling page:", "curl", "/v1/classify", "/v1/explain"):
        assert needle in stdout, needle
    # Phase 2 learned from cluster names: clearly better than always answering the majority class.
    metrics = result["model_metrics"]
    top1 = next(v for k, v in metrics.items() if "top1" in k)
    majority = next((v for k, v in metrics.items() if "majority" in k), None)
    if majority is not None:
        assert top1 > majority, metrics


def test_every_file_sent_has_its_outcome_and_the_stray_file_is_rejected(demo):
    stdout, result, _, _ = demo
    rows = _table_rows(stdout)
    sent, ingested, duplicates = (int(_cell(rows[k])) for k in ("sent", "ingested (new radiographs)", "duplicates"))
    assert _cell(rows["not_an_image"]) == "1" and sent == ingested + duplicates + int(_cell(rows["rejected"]))
    assert ingested == result["n_images"]


def test_labeling_api_has_the_published_label_set(demo):
    _, result, _, _ = demo
    auth = {"Authorization": f"Bearer {_viewer_token(result)}"}
    base = result["labeling_url"] + f"/api/v1/runs/{result['run_id']}"
    status, body = _http("GET", base + "/labelsets", headers=auth)
    assert status == 200, body
    assert json.loads(body)["items"][0]["version"] == result["labelset_version"]
    assert _http("GET", base + "/labelsets")[0] == 401  # no anonymous reads
    status, page = _http("GET", result["labeling_url"] + "/")
    assert status == 200 and b"<html" in page.lower()


def test_serving_classifies_explains_and_refuses_bad_input(demo):
    _, result, _, auth = demo
    url = result["serving_url"]
    png = sorted((SAMPLE / "images").glob("*.png"))[0].read_bytes()
    status, body = _http("POST", url + "/v1/classify", png, {"Content-Type": "image/png"})
    assert status == 401 and json.loads(body)["reason"] == "unauthorized", "no anonymous classification"
    status, body = _http("POST", url + "/v1/classify", png, {"Content-Type": "image/png", **auth})
    assert status == 200, body
    answer = json.loads(body)
    assert answer["model_version"] == result["model_version"]
    assert 0 < answer["top"][0]["probability"] <= 1 and set(answer["flags"]) >= {"uncertain", "not_msk"}

    status, body = _http("POST", url + "/v1/explain", png, {"Content-Type": "image/png", **auth})
    assert status == 200, body
    explanation = json.loads(body)
    assert base64.b64decode(explanation["overlay_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert max(max(row) for row in explanation["map"]) > 0

    for bad, content_type in ((b"", "image/png"), (b"not a radiograph at all", "application/octet-stream")):
        status, body = _http("POST", url + "/v1/classify", bad, {"Content-Type": content_type, **auth})
        assert 400 <= status < 500, (status, body)
        assert json.loads(body)  # a reason, not an empty page


def test_sorted_index_and_classified_events_cover_the_archive(demo):
    _, result, bootstrap, auth = demo
    assert _http("GET", result["serving_url"] + "/v1/index")[0] == 401  # the archive is not listed to anyone
    status, body = _http("GET", result["serving_url"] + "/v1/index", headers=auth)
    assert status == 200, body
    counts = json.loads(body)["counts"]
    assert sum(counts.values()) == result["n_images"]
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    seen: set[str] = set()
    with EventReader(kafka, [RadiographClassified.TOPIC], from_beginning=True) as reader:
        for event in reader.events(timeout_s=60, idle_s=5):
            if event.model_version == result["model_version"]:
                seen.add(event.image_id)
    assert len(seen) == result["n_images"]
