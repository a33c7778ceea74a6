"""Ingest benchmark: radiographs per second end to end (send -> ``radiograph.ingested``) with 1 and 2
worker processes, against the bare rate of decode + derivatives + MinIO puts of the same files in one
process, measured in the same run on the same stack.

    uv run python bench/ingest.py [--count 300] [--data ../shared/datasets/unifesp-dev]

Prints a table and writes ``bench/results/ingest.json``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402
from samx_cli.stack.manager import LocalStack  # noqa: E402
from samx_cli.workers import start_ingest_workers  # noqa: E402
from samx_core.imaging import decode_radiograph, encode_derivative_png, encode_thumbnail_png  # noqa: E402
from samx_core.settings import KafkaSettings, S3Settings  # noqa: E402
from samx_core.storage import ObjectStore  # noqa: E402

from tests.support.stream import Stream, collect_outcomes  # noqa: E402

console = Console()


def load_files(data: Path, count: int) -> list[bytes]:
    files = sorted((data / "images").glob("*.png")) + sorted((data / "unlabeled").glob("*.png"))
    if len(files) < count:
        raise SystemExit(f"only {len(files)} images under {data}")
    step = len(files) / count
    return [files[int(i * step)].read_bytes() for i in range(count)]


def settings_for(stack_env: dict[str, str], namespace: str) -> tuple[dict[str, str], KafkaSettings, S3Settings]:
    env = {
        **stack_env,
        "SAMX_KAFKA_TOPIC_NAMESPACE": namespace,
        "SAMX_S3_INCOMING_BUCKET": f"{namespace}-in",
        "SAMX_S3_ARCHIVE_BUCKET": f"{namespace}-archive",
        "SAMX_INGEST_CONSUMER_GROUP": f"{namespace}-ingest",
    }
    kafka = KafkaSettings(bootstrap_servers=env["SAMX_KAFKA_BOOTSTRAP_SERVERS"], topic_namespace=namespace)
    s3 = S3Settings(
        endpoint=env["SAMX_S3_ENDPOINT"],
        access_key=env["SAMX_S3_ACCESS_KEY"],
        secret_key=env["SAMX_S3_SECRET_KEY"],
        incoming_bucket=env["SAMX_S3_INCOMING_BUCKET"],
        archive_bucket=env["SAMX_S3_ARCHIVE_BUCKET"],
    )
    return env, kafka, s3


def bare_rate(files: list[bytes], s3: S3Settings) -> float:
    """What one process does per radiograph without the bus: decode, derivatives, three puts."""
    store = ObjectStore(s3)
    store.ensure_buckets(s3.archive_bucket)
    started = time.perf_counter()
    for index, data in enumerate(track(files, description="bare decode+put", console=console)):
        decoded = decode_radiograph(data)
        store.put_bytes(s3.archive_bucket, f"raw/{index}", data)
        store.put_bytes(s3.archive_bucket, f"derived/{index}.png", encode_derivative_png(decoded))
        store.put_bytes(s3.archive_bucket, f"derived/{index}.thumb.png", encode_thumbnail_png(decoded))
    return len(files) / (time.perf_counter() - started)


def end_to_end_rate(files: list[bytes], stack: LocalStack, stack_env: dict[str, str], workers: int) -> float:
    namespace = "bench" + uuid.uuid4().hex[:8]
    env, kafka, s3 = settings_for(stack_env, namespace)
    started_workers = start_ingest_workers(stack.state_dir / namespace, env, workers)
    stream = Stream(kafka, s3)
    try:
        started = time.perf_counter()
        sent = stream.send_all(files)
        outcomes = collect_outcomes(kafka, sent, timeout_s=900)
        elapsed = time.perf_counter() - started
        done = sum(1 for event in sent if outcomes.distinct(event.event_id))
        if done != len(files):
            raise SystemExit(f"only {done}/{len(files)} radiographs came out")
        return len(files) / elapsed
    finally:
        stream.close()
        for process, _ in started_workers:
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "datasets" / "unifesp-dev")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "ingest.json")
    args = parser.parse_args()
    files = load_files(args.data, args.count)
    with tempfile.TemporaryDirectory(prefix="samx-bench-") as state:
        stack = LocalStack(REPO / ".samx" / "build", Path(state), say=lambda m: console.print(m))
        stack_env = stack.up(("kafka", "minio"))
        try:
            _, _, s3 = settings_for(stack_env, "bare" + uuid.uuid4().hex[:8])
            bare = bare_rate(files, s3)
            rates = {workers: end_to_end_rate(files, stack, stack_env, workers) for workers in (1, 2)}
        finally:
            stack.down()
    table = Table(title=f"ingest: {len(files)} real radiographs (PNG, up to 512 px), {platform.node()}")
    for column in ("measure", "radiographs/s", "ratio to bare"):
        table.add_column(column)
    table.add_row("bare decode + derivatives + puts (1 process, no bus)", f"{bare:.1f}", "1.00")
    for workers, rate in rates.items():
        table.add_row(f"end to end, {workers} worker process(es)", f"{rate:.1f}", f"{rate / bare:.2f}")
    console.print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "files": len(files),
                "cpu_count": __import__("os").cpu_count(),
                "bare_per_s": round(bare, 2),
                "end_to_end_per_s": {str(k): round(v, 2) for k, v in rates.items()},
                "ratio_to_bare": {str(k): round(v / bare, 3) for k, v in rates.items()},
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"written to {args.out}")


if __name__ == "__main__":
    main()
