"""Streaming-sort benchmark: radiographs/s from ``radiograph.ingested`` to the sorted index and
``radiograph.classified``, with the sort's consumer handling one event at a time (what it did before
2026-12-08: the baseline, measured in the same run) and ``--concurrency`` at once (``SAMX_SERVING_SORT_
CONCURRENCY``, 8 by default), beside the served API's own classify rate at as many HTTP clients.

Real components: Kafka and MinIO as processes, real radiographs through the ingest workers (their
``radiograph.ingested`` events and derivatives are what the sort reads), Ray Serve with the replica of
``samx_serving`` (ResNet-18 with random weights at ``--image-size``), the sort's own ``RadiographSorter``
over HTTP. Each measurement is a fresh consumer group reading the same ingested events from the start.

    uv run python bench/sort.py [--count 120] [--concurrency 8] [--data ../shared/datasets/unifesp-dev]

Prints a table and writes ``bench/results/sort.json``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # workers use this venv as is

import ingest as ingest_bench  # noqa: E402
import ray  # noqa: E402
import serving as serving_bench  # noqa: E402
from ray import serve  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from samx_cli.stack.manager import LocalStack  # noqa: E402
from samx_cli.workers import start_ingest_workers  # noqa: E402
from samx_core.bus.consumer import EventConsumer, Subscription  # noqa: E402
from samx_core.bus.producer import EventPublisher  # noqa: E402
from samx_core.events import RadiographIngested  # noqa: E402
from samx_core.model_registry import ModelRegistry  # noqa: E402
from samx_core.storage import ObjectStore  # noqa: E402
from samx_serving.app import AppArgs, deploy  # noqa: E402
from samx_serving.classifier_client import HttpClassifier  # noqa: E402
from samx_serving.index import SortedIndex  # noqa: E402
from samx_serving.settings import ServingSettings  # noqa: E402
from samx_serving.sorter import RadiographSorter  # noqa: E402

from tests.support.serving_models import publish_random_model  # noqa: E402
from tests.support.stream import Stream, collect_outcomes  # noqa: E402

console = Console()


def ingest(files: list[bytes], stack: LocalStack, env: dict[str, str], kafka, s3) -> int:
    """The radiographs through two ingest workers, until every one has its outcome; how many were
    ingested (the data set's duplicates and rejects have no ``radiograph.ingested`` to sort)."""
    workers = start_ingest_workers(stack.state_dir / kafka.topic_namespace, env, 2)
    stream = Stream(kafka, s3)
    try:
        sent = stream.send_all(files)
        outcomes = collect_outcomes(kafka, sent, timeout_s=900)
        return sum(any(isinstance(o, RadiographIngested) for o in outcomes.distinct(event.event_id)) for event in sent)
    finally:
        stream.close()
        for process, _ in workers:
            process.stop()


def sort_rate(kafka, s3, url: str, token: str, expected: int, concurrency: int) -> float:
    """Radiographs/s of the streaming sort over all ingested events, in a fresh consumer group."""
    store = ObjectStore(s3)
    classifier = HttpClassifier(url, token=token)
    handled, lock, finished = 0, threading.Lock(), threading.Event()
    with EventPublisher(kafka) as publisher:
        sorter = RadiographSorter(
            classifier, SortedIndex(store, s3.archive_bucket), publisher, store, s3.archive_bucket
        )

        def on_ingested(event: RadiographIngested) -> None:
            nonlocal handled
            sorter.on_ingested(event)
            with lock:
                handled += 1
                if handled == expected:
                    finished.set()

        consumer = EventConsumer(
            kafka, group_id=f"sort-{uuid.uuid4().hex[:8]}", publisher=publisher, concurrency=concurrency,
            subscriptions=[Subscription(RadiographIngested, on_ingested)],
        )  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
        started = time.perf_counter()
        thread.start()
        try:
            if not finished.wait(timeout=900):
                raise SystemExit(f"the sort handled {handled} of {expected} in 15 minutes")
            elapsed = time.perf_counter() - started
        finally:
            stop.set()
            thread.join(timeout=60)
            consumer.close()
            classifier.close()
    return expected / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=ServingSettings().sort_concurrency)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "unifesp-dev")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "sort.json")
    args = parser.parse_args()
    files = ingest_bench.load_files(args.data, args.count)
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="samx-bench-") as state:
        stack = LocalStack(REPO / ".samx" / "build", Path(state), say=lambda m: console.print(m))
        stack_env = stack.up(("kafka", "minio"))
        try:
            env, kafka, s3 = ingest_bench.settings_for(stack_env, "sort" + uuid.uuid4().hex[:8])
            console.print(f"ingesting {len(files)} radiographs")
            ingested = ingest(files, stack, env, kafka, s3)
            registry = ModelRegistry(ObjectStore(s3), s3.archive_bucket)
            publish_random_model(registry, "bench", seed=0, image_size=args.image_size, load_size=args.image_size)
            port = serving_bench._free_port()
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            try:
                serve.start(http_options={"host": "127.0.0.1", "port": port})
                settings = ServingSettings(torch_threads=1, tokens=stack_env["SAMX_SERVING_TOKENS"])
                deploy(AppArgs.from_settings(settings, s3, model_version="bench"), name="bench")
                url, token = f"http://127.0.0.1:{port}", stack_env["SAMX_SERVING_CLIENT_TOKEN"]
                http = asyncio.run(serving_bench.http_load(url, "/v1/classify", files, args.concurrency, 64, token))
                runs[f"HTTP /v1/classify, {args.concurrency} clients (the API's rate)"] = [http["images_per_s"]]
                for concurrency in (1, args.concurrency, 1, args.concurrency):  # alternated: the VM's pace drifts
                    console.print(f"sort: {ingested} ingested events, {concurrency} at once")
                    rate = sort_rate(kafka, s3, url, token, ingested, concurrency)
                    runs.setdefault(f"sort, {concurrency} at once", []).append(rate)
            finally:
                serve.shutdown()
                ray.shutdown()
        finally:
            stack.down()
    rates = {name: sum(r) / len(r) for name, r in runs.items()}
    baseline = rates["sort, 1 at once"]
    table = Table(
        title=f"streaming sort: {ingested} ingested real radiographs, {platform.node()} ({os.cpu_count()} CPUs)"
    )
    for column in ("measure", "radiographs/s", "ratio to the sort one at a time"):
        table.add_column(column)
    for name, rate in rates.items():
        each = " / ".join(f"{r:.1f}" for r in runs[name])
        table.add_row(f"{name} ({each})" if len(runs[name]) > 1 else name, f"{rate:.1f}", f"{rate / baseline:.2f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"files": len(files), "ingested": ingested, "cpu_count": os.cpu_count(), "runs_per_s": runs}, indent=2
        )
        + "\n"
    )
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
