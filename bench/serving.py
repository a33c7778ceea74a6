"""Serving benchmark: images/s and p50/p99 latency of ``POST /v1/classify`` and ``POST /v1/explain``
over real HTTP (Ray Serve on a local Ray) with 1, 8 and 32 concurrent clients, beside the bare model's
rates in the same run: classify against the network and its preprocessing in-process in batches of
``--batch``; explain against Grad-CAM and the PNG overlay in-process, one image at a time (as the
route computes it; the ratio to the forward rate is printed too).

    uv run python bench/serving.py [--requests 64] [--image-size 128] [--threads 1] [--clients 1 8 32]
        [--serve-env RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0 ...]

``--serve-env`` sets Ray Serve's environment switches for this run (read by the replicas and the proxy
when Ray starts), so that each one is measured against the default in the same way.

The model is a ResNet-18 classifier with random weights (speed does not depend on the weights) stored
in a real MinIO registry; inputs are real radiographs of data/sample (PNG). Prints a table and writes
``bench/results/serving.json``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers use this venv as is

import httpx  # noqa: E402
import ray  # noqa: E402
import torch  # noqa: E402
from ray import serve  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from samx_cli.stack.manager import LocalStack  # noqa: E402
from samx_core.imaging import decode_radiograph  # noqa: E402
from samx_core.model_registry import ModelRegistry  # noqa: E402
from samx_core.settings import S3Settings  # noqa: E402
from samx_core.storage import ObjectStore  # noqa: E402
from samx_serving.app import AppArgs, deploy  # noqa: E402
from samx_serving.engine import ModelEngine  # noqa: E402
from samx_serving.overlay import overlay_on_radiograph  # noqa: E402
from samx_serving.settings import ServingSettings  # noqa: E402

from tests.support.serving_models import publish_random_model  # noqa: E402

console = Console()


def bare_rate(engine: ModelEngine, files: list[bytes], batch: int, seconds: float = 5.0) -> float:
    """Images/s of the network and its preprocessing alone (display pixels -> logits), in batches."""
    pixels = [decode_radiograph(f).pixels for f in files]
    engine.logits(pixels[:batch])  # warm-up
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        chunk = [pixels[(done + i) % len(pixels)] for i in range(batch)]
        engine.logits(chunk)
        done += batch
    return done / (time.perf_counter() - t0)


def bare_explain_rate(engine: ModelEngine, files: list[bytes], seconds: float = 5.0) -> float:
    """Images/s of what an explain answer needs, in-process: Grad-CAM (its forward and backward pass)
    and the overlay PNG on the radiograph."""
    pixels = [decode_radiograph(f).pixels for f in files]
    long_side = ServingSettings().cam_long_side_px
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        image = pixels[done % len(pixels)]
        exp = engine.explain(image)
        overlay_on_radiograph(image, exp.cam, exp.box, long_side=long_side)
        done += 1
    return done / (time.perf_counter() - t0)


async def http_load(url: str, path: str, files: list[bytes], clients: int, requests: int, token: str) -> dict:
    latencies: list[float] = []
    failures = 0
    counter = iter(range(requests))

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal failures
        for i in counter:
            t0 = time.perf_counter()
            r = await http.post(path, content=files[i % len(files)], headers={"content-type": "image/png"})
            latencies.append(time.perf_counter() - t0)
            failures += r.status_code != 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    auth = {"Authorization": f"Bearer {token}"}  # as every client of the API (the stack's serving token)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits, headers=auth) as http:
        await http.post(path, content=files[0], headers={"content-type": "image/png"})  # warm-up
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "clients": clients,
        "requests": len(latencies),
        "failures": failures,
        "images_per_s": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
    }


def cpu_seconds_by_process() -> dict[int, tuple[str, float]]:
    """pid -> (its role in this benchmark, user + system CPU seconds so far), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        out[int(entry.name)] = (_role(int(entry.name), command), (int(fields[11]) + int(fields[12])) / tick)
    return out


def _role(pid: int, command: str) -> str:
    if pid == os.getpid():
        return "load generator (httpx, this process)"
    for marker, role in (
        ("ServeReplica", "serving replica (routes + model)"),
        ("ProxyActor", "Serve HTTP proxy"),
        ("ServeController", "Serve controller"),
        ("minio", "MinIO"),
    ):
        if marker in command:
            return role
    return "Ray control (GCS, raylet, agents) and the rest"


def cpu_ms_per_request(before: dict, after: dict, requests: int) -> dict[str, float]:
    """CPU milliseconds per request of each role between two snapshots."""
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return {role: round(1000 * s / requests, 1) for role, s in sorted(spent.items(), key=lambda kv: -kv[1]) if s > 0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=64, help="classify requests per concurrency level")
    parser.add_argument("--explain-requests", type=int, default=16)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32, help="max batch size (serving) and bare batch")
    # 1: what a replica gets by default (Ray sets OMP_NUM_THREADS to its num_cpus, SAMX_SERVING_MODEL_NUM_CPUS=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, bare and per model replica")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="@serve.batch wait for more requests")
    parser.add_argument("--replicas", type=int, default=1, help="serving replicas (SAMX_SERVING_MODEL_REPLICAS)")
    parser.add_argument("--serve-env", nargs="*", default=[], metavar="NAME=VALUE", help="Serve switches")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "serving.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    switches = dict(item.split("=", 1) for item in args.serve_env)
    os.environ.update(switches)  # before ray.init: the raylet passes them to every Serve process
    files = [p.read_bytes() for p in sorted((REPO / "data" / "sample" / "images").glob("*.png"))[:64]]
    results: dict = {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "image_size": args.image_size,
        "torch_threads": args.threads,
        "max_batch_size": args.batch,
        "batch_wait_ms": args.batch_wait_ms,
        "replicas": args.replicas,
        "serve_env": switches,
    }
    with tempfile.TemporaryDirectory(prefix="samx-bench-") as state:
        stack = LocalStack(REPO / ".samx" / "build", Path(state), say=lambda m: console.print(m))
        env = stack.up(("minio",))
        try:
            s3 = S3Settings(
                endpoint=env["SAMX_S3_ENDPOINT"],
                access_key=env["SAMX_S3_ACCESS_KEY"],
                secret_key=env["SAMX_S3_SECRET_KEY"],
                incoming_bucket="bench-incoming",
                archive_bucket="bench-archive",
            )
            store = ObjectStore(s3)
            store.ensure_buckets(s3.incoming_bucket, s3.archive_bucket)
            registry = ModelRegistry(store, s3.archive_bucket)
            size = args.image_size
            publish_random_model(registry, "bench", seed=0, image_size=size, load_size=size)
            engine = ModelEngine.from_registry(registry, "bench")
            # Each baseline before and after the HTTP load (on a shared VM the CPU's pace drifts): the mean
            # is the baseline, and both runs are kept.
            bare_runs = [bare_rate(engine, files, args.batch)]
            explain_runs = [bare_explain_rate(engine, files)]
            port = _free_port()
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            try:
                serve.start(http_options={"host": "127.0.0.1", "port": port})
                settings = ServingSettings(
                    torch_threads=args.threads,
                    model_replicas=args.replicas,
                    max_batch_size=args.batch,
                    batch_wait_timeout_s=args.batch_wait_ms / 1000,
                    tokens=env["SAMX_SERVING_TOKENS"],
                )
                deploy(AppArgs.from_settings(settings, s3, model_version="bench"), name="bench")
                url = f"http://127.0.0.1:{port}"
                for kind, path, n in (
                    ("classify", "/v1/classify", args.requests),
                    ("explain", "/v1/explain?format=png", args.explain_requests),
                ):
                    results[kind] = []
                    for c in args.clients:
                        console.print(f"load: {path} with {c} clients, {n} requests")
                        token = env["SAMX_SERVING_CLIENT_TOKEN"]
                        before = cpu_seconds_by_process()
                        results[kind].append(asyncio.run(http_load(url, path, files, c, n, token)))
                        if c == max(args.clients):  # where the CPU goes at the highest load
                            used = cpu_ms_per_request(before, cpu_seconds_by_process(), results[kind][-1]["requests"])
                            results[kind][-1]["cpu_ms_per_request"] = used
            finally:
                serve.shutdown()
                ray.shutdown()
            bare_runs.append(bare_rate(engine, files, args.batch))
            explain_runs.append(bare_explain_rate(engine, files))
        finally:
            stack.down()
    results["bare_runs"], results["bare_explain_runs"] = bare_runs, explain_runs
    bare = results["bare_images_per_s"] = statistics.mean(bare_runs)
    bare_explain = results["bare_explain_images_per_s"] = statistics.mean(explain_runs)
    title = f"serving: ResNet-18 at {args.image_size} px, {args.replicas} replica(s) x {args.threads} torch thread(s)"
    table = Table(title=f"{title}, {platform.node()} ({os.cpu_count()} CPUs)")
    columns = ("measure", "clients", "images/s", "p50 ms", "p99 ms", "failed", "ratio to bare", "to bare forward")
    for column in columns:
        table.add_column(column)
    runs = " / ".join(f"{r:.1f}" for r in bare_runs)
    table.add_row(f"bare forward (batches of {args.batch}, in-process; {runs})", "-", f"{bare:.1f}", "", "", "", "1.00",
                  "1.00")  # fmt: skip
    runs = " / ".join(f"{r:.1f}" for r in explain_runs)
    table.add_row(f"bare Grad-CAM + overlay (in-process; {runs})", "-", f"{bare_explain:.1f}", "", "", "", "1.00",
                  f"{bare_explain / bare:.2f}")  # fmt: skip
    for kind, baseline in (("classify", bare), ("explain", bare_explain)):
        for r in results[kind]:
            table.add_row(
                f"HTTP /v1/{kind}", str(r["clients"]), f"{r['images_per_s']:.1f}", f"{r['p50_ms']:.0f}",
                f"{r['p99_ms']:.0f}", str(r["failures"]), f"{r['images_per_s'] / baseline:.2f}",
                f"{r['images_per_s'] / bare:.2f}",
            )  # fmt: skip
    console.print(table)
    for kind in ("classify", "explain"):
        loaded = results[kind][-1]
        if "cpu_ms_per_request" in loaded:
            used = loaded["cpu_ms_per_request"]
            parts = ", ".join(f"{role} {ms:.0f}" for role, ms in used.items())
            total = sum(used.values())
            console.print(f"CPU ms per {kind} request at {loaded['clients']} clients: {total:.0f} ({parts})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
