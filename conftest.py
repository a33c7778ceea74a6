"""Session fixtures for every test folder (tests/, libs/, services/, e2e/): the real local stack (Kafka in
KRaft mode and a MinIO server, as processes of this machine on free loopback ports), and per-test
isolation on it (own topic namespace, own buckets). One conftest at the root, so one stack per pytest
process (with ``make test TEST_WORKERS=N``, each xdist worker has its own stack on its own ports).

Every process a test starts is stopped by its PID at teardown."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from samx_cli.stack.manager import LocalStack
from samx_cli.stack.processes import ManagedProcess
from samx_cli.workers import start_ingest_workers
from samx_core.settings import KafkaSettings, S3Settings

REPO_ROOT = Path(__file__).resolve().parent

# Ray workers started by tests run this interpreter and venv directly. Under 'uv run', Ray would build a
# per-worker uv environment first (a minute per start). Read by Ray when it is first imported.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
# Before pyarrow is first imported (by Ray): see samx_cli.stack.components.ARROW_ENV.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
BUILD_DIR = Path(os.environ.get("SAMX_BUILD", REPO_ROOT / ".samx" / "build"))


def _interrupt(signum: int, _frame) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A CI time limit or a user's kill sends SIGTERM, which would end pytest at once and leave Kafka,
    # MinIO, Ray and service processes running. As an interrupt, the fixtures' teardowns still run.
    signal.signal(signal.SIGTERM, _interrupt)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    # Kafka's logs on tmpfs where the machine has one: every test's namespace adds topics, and a clean
    # stop (the fault tests' broker restarts, the session's end) flushes all ~2,400 partitions, which
    # took ~25 s on this VM's disk (longer than the stop's 20 s grace: the broker was killed and the
    # restarted one recovered its logs) and ~6 s on tmpfs. Still a real broker on real files: ~14 MiB of
    # them by the session's end (sparse index files), so a small /dev/shm (a container's 64 MiB) is skipped.
    shm = Path("/dev/shm")  # noqa: S108 (mkdtemp below: a private 0700 folder of its own)
    roomy = os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= 1 << 30
    kafka_data = Path(tempfile.mkdtemp(prefix="samx-test-kafka-", dir=shm)) if roomy else None
    stack = LocalStack(
        BUILD_DIR, tmp_path_factory.mktemp("stack"), say=lambda message: print(message), kafka_data_dir=kafka_data
    )
    try:
        stack.up(("kafka", "minio"))
        yield stack
    finally:
        stack.down()
        if kafka_data is not None:
            shutil.rmtree(kafka_data, ignore_errors=True)


@pytest.fixture(scope="session")
def stack_env(local_stack: LocalStack) -> dict[str, str]:
    return local_stack.environment()


@pytest.fixture
def namespace() -> str:
    """A fresh topic namespace and bucket prefix: tests never see each other's events or objects."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def test_env(stack_env: dict[str, str], namespace: str) -> dict[str, str]:
    """The SAMX_* environment of one test, for the service processes it starts."""
    return {
        **stack_env,
        "SAMX_KAFKA_TOPIC_NAMESPACE": namespace,
        "SAMX_S3_INCOMING_BUCKET": f"{namespace}-incoming",
        "SAMX_S3_ARCHIVE_BUCKET": f"{namespace}-archive",
        "SAMX_INGEST_CONSUMER_GROUP": f"{namespace}-ingest",
    }


@pytest.fixture
def kafka_settings(test_env: dict[str, str]) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=test_env["SAMX_KAFKA_BOOTSTRAP_SERVERS"],
        topic_namespace=test_env["SAMX_KAFKA_TOPIC_NAMESPACE"],
    )


@pytest.fixture
def s3_settings(test_env: dict[str, str]) -> S3Settings:
    return S3Settings(
        endpoint=test_env["SAMX_S3_ENDPOINT"],
        access_key=test_env["SAMX_S3_ACCESS_KEY"],
        secret_key=test_env["SAMX_S3_SECRET_KEY"],
        incoming_bucket=test_env["SAMX_S3_INCOMING_BUCKET"],
        archive_bucket=test_env["SAMX_S3_ARCHIVE_BUCKET"],
    )


@pytest.fixture
def ingest_workers(local_stack: LocalStack, test_env: dict[str, str]) -> Iterator:
    """Starts ``samx-ingest worker`` processes on demand; all of them are stopped after the test."""
    started: list[ManagedProcess] = []

    def start(count: int = 1, extra_env: dict[str, str] | None = None) -> list[tuple[ManagedProcess, int]]:
        workers = start_ingest_workers(
            local_stack.state_dir / test_env["SAMX_KAFKA_TOPIC_NAMESPACE"], {**test_env, **(extra_env or {})}, count
        )
        started.extend(process for process, _ in workers)
        return workers

    yield start
    for process in started:
        process.stop()
