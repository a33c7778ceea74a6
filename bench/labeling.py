"""Labeling API benchmark: a radiologist's 1000 clusters over real HTTP (``samx-labeling serve``, uvicorn
on loopback), on SQLite and on PostgreSQL, against the bare database update of the same labels in the
same run.

Per backend: list all 1000 clusters (pages of 100, as the UI does, and one page of 1000), then name
1000 clusters one PUT at a time, then 1000 more in one batch request. Baselines, same database, same
process as the benchmark: the bare conditional UPDATE + COMMIT per label (no HTTP, no audit, no
vocabulary), and the domain call (``set_label``: the same work as the API without HTTP).

    uv run python bench/labeling.py [--clusters 1000] [--members 5]

Prints a table and writes ``bench/results/labeling.json``. A benchmark, not a test: it asserts nothing.
Image URLs are presigned against a placeholder endpoint (signing is local; nothing is fetched).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from samx_cli.stack.ports import free_port, wait_until  # noqa: E402
from samx_cli.stack.processes import ManagedProcess  # noqa: E402
from samx_labeling.db.engine import make_engine, make_sessionmaker  # noqa: E402
from samx_labeling.db.models import Cluster, utcnow  # noqa: E402
from samx_labeling.db.setup import prepare_database  # noqa: E402
from samx_labeling.domain.labeling import set_label  # noqa: E402
from samx_labeling.domain.ports import Assignment, ClusterSummary, ImageRecord  # noqa: E402
from samx_labeling.domain.sessions import RunDescription, open_session  # noqa: E402
from sqlalchemy import update  # noqa: E402

from tests.support.postgres import PostgresServer  # noqa: E402

console = Console(width=140)
NAMES = ["hand", "foot", "knee", "pelvis", "shoulder", "c-spine", "Chest", "elbow", "wrist", "ankle"]


class SyntheticRun:
    """A phase-1 run of ``k`` clusters with ``members`` radiographs each (ids only: no pixels needed)."""

    def __init__(self, k: int, members: int) -> None:
        self.k, self.members = k, members

    def _ids(self, c: int) -> list[str]:
        return [f"img-{c:06d}{m:026x}" for m in range(self.members)]

    def clusters(self) -> list[ClusterSummary]:
        return [ClusterSummary(c, self.members, 0.5 + (c % 50) / 100, self._ids(c)[:8]) for c in range(self.k)]

    def assignments(self) -> list[Assignment]:
        return [Assignment(i, c, 0.9) for c in range(self.k) for i in self._ids(c)]

    def image_records(self, image_ids: list[str]) -> dict[str, ImageRecord]:
        return {i: ImageRecord(None, None, f"derived/{i}.thumb.png") for i in image_ids}


def open_runs(url: str, k: int, members: int, run_ids: list[str]) -> None:
    prepare_database(url)
    engine = make_engine(url)
    for run_id in run_ids:
        with make_sessionmaker(engine)() as session:
            description = RunDescription(run_id, "bench", k * members, k, "samx-archive", f"runs/phase1/{run_id}/", "0")
            open_session(session, description, SyntheticRun(k, members))
    engine.dispose()


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))], "n": len(ms)}


def bare_updates(url: str, run_id: str, k: int) -> dict[str, float]:
    """Conditional UPDATE + COMMIT per label, nothing else: the floor any API sits on."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times = []
    with sessions() as session:
        for c in range(k):
            t = time.perf_counter()
            session.execute(
                update(Cluster)
                .where(Cluster.run_id == run_id, Cluster.cluster == c, Cluster.version == 1)
                .values(label=NAMES[c % len(NAMES)].lower(), version=2, updated_by="bench", updated_at=utcnow())
            )
            session.commit()
            times.append(time.perf_counter() - t)
    engine.dispose()
    return percentiles(times)


def domain_updates(url: str, run_id: str, k: int) -> dict[str, float]:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    times = []
    for c in range(k):
        t = time.perf_counter()
        with sessions() as session:
            set_label(session, run_id, c, NAMES[c % len(NAMES)], 1, "bench")
        times.append(time.perf_counter() - t)
    engine.dispose()
    return percentiles(times)


def through_http(url: str, run_id: str, batch_run_id: str, k: int, work: Path) -> dict[str, dict]:
    port, token = free_port(), secrets.token_hex(16)
    process = ManagedProcess(f"labeling-bench-{port}", work, work)
    env = {
        "SAMX_LABELING_DATABASE_URL": url,
        "SAMX_LABELING_TOKENS": json.dumps({token: {"user": "bench", "role": "labeler"}}),
        "SAMX_LABELING_CONSUMER_ENABLED": "false",
        "SAMX_S3_ENDPOINT": "127.0.0.1:9",
        "SAMX_S3_REGION": "us-east-1",  # a known region: presigning makes no request
        "SAMX_S3_ACCESS_KEY": "bench",
        "SAMX_S3_SECRET_KEY": secrets.token_hex(16),
        "SAMX_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    }
    process.start([sys.executable, "-m", "samx_labeling", "serve", "--port", str(port)], env=env, cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, dict] = {}
    try:
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=1).status_code == 200, timeout_s=60,
                   what="labeling service", alive=process.running, log_hint=f"; log: {process.log_file}")  # fmt: skip
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            clusters_url = f"/api/v1/runs/{run_id}/clusters"
            client.get(clusters_url, params={"limit": 10})  # warm-up: connection, first query plans
            # First pass: every image URL is signed; later passes reuse them (adapters/links.py).
            for label in ("first pass, URLs signed", "again, URLs reused"):
                pages = []
                for offset in range(0, k, 100):
                    t = time.perf_counter()
                    client.get(clusters_url, params={"offset": offset, "limit": 100}).raise_for_status()
                    pages.append(time.perf_counter() - t)
                out[f"list page of 100, {label} (HTTP)"] = percentiles(pages)
            whole = []
            for _ in range(3):
                t = time.perf_counter()
                assert len(client.get(clusters_url, params={"limit": 1000}).json()["items"]) == min(k, 1000)
                whole.append(time.perf_counter() - t)
            out["list 1000 in one page, URLs reused (HTTP)"] = percentiles(whole)
            puts = []
            for c in range(k):
                t = time.perf_counter()
                response = client.put(f"{clusters_url}/{c}/label", json={"label": NAMES[c % len(NAMES)], "version": 1})
                puts.append(time.perf_counter() - t)
                response.raise_for_status()
            out["label, one PUT each (HTTP)"] = percentiles(puts)
            items = [{"cluster": c, "label": NAMES[c % len(NAMES)], "version": 1} for c in range(k)]
            t = time.perf_counter()
            client.post(f"/api/v1/runs/{batch_run_id}/labels", json={"items": items}).raise_for_status()
            batch = time.perf_counter() - t
            out["label 1000 in one batch (HTTP)"] = {"p50_ms": batch * 1000 / k, "p95_ms": None, "n": 1,
                                                     "total_ms": batch * 1000}  # fmt: skip
    finally:
        process.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "labeling.json")
    args = parser.parse_args()
    os.environ.setdefault("SAMX_S3_REGION", "us-east-1")
    k = args.clusters
    results: dict[str, dict] = {}
    postgres = PostgresServer()
    postgres.start()
    try:
        with tempfile.TemporaryDirectory(prefix="samx-bench-labeling-") as tmp:
            work = Path(tmp)
            for backend in ("sqlite", "postgresql"):
                url = f"sqlite:///{work}/bench.db" if backend == "sqlite" else postgres.create_database()
                console.print(f"[bold]{backend}[/]: opening 4 runs of {k} clusters x {args.members} radiographs")
                open_runs(url, k, args.members, ["http", "batch", "bare", "domain"])
                figures = through_http(url, "http", "batch", k, work)
                figures["baseline: bare UPDATE+COMMIT"] = bare_updates(url, "bare", k)
                figures["domain set_label (no HTTP)"] = domain_updates(url, "domain", k)
                results[backend] = figures
    finally:
        postgres.stop()

    table = Table(title=f"Labeling API, {k} clusters ({platform.node()}, {os.cpu_count()} CPUs)")
    for column in ("backend", "operation", "p50 ms", "p95 ms", "n", "p50 / bare update p50"):
        table.add_column(column, justify="right" if column != "operation" else "left")
    for backend, figures in results.items():
        floor = figures["baseline: bare UPDATE+COMMIT"]["p50_ms"]
        for name, f in figures.items():
            f["ratio_to_bare_update_p50"] = f["p50_ms"] / floor
            p95 = "-" if f["p95_ms"] is None else f"{f['p95_ms']:.2f}"
            table.add_row(
                backend, name, f"{f['p50_ms']:.2f}", p95, str(f["n"]), f"{f['ratio_to_bare_update_p50']:.1f}x"
            )
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clusters": k, "members_per_cluster": args.members, "cpus": os.cpu_count(),
                                    "results": results}, indent=1))  # fmt: skip
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
