"""Fixtures of the labeling tests (the Kafka + MinIO stack comes from the root conftest.py): a real
PostgreSQL server, the database parametrized over SQLite and PostgreSQL, and a phase-1 run built
from real radiographs (tests/support/phase1_fixture.py)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from samx_core.settings import KafkaSettings, S3Settings
from samx_core.storage import ObjectStore
from samx_labeling.adapters.embeddings import ObjectStoreEmbeddings
from samx_labeling.adapters.labelsets import ArchiveLabelSetSink
from samx_labeling.adapters.links import PresignedImageLinks
from samx_labeling.api.app import create_app
from samx_labeling.api.context import AppContext
from samx_labeling.consumer import handle_clustering_completed
from samx_labeling.db.engine import make_engine, make_sessionmaker
from samx_labeling.db.setup import prepare_database
from samx_labeling.settings import TokenGrant

from tests.support.phase1_fixture import Phase1Run, build_phase1_run
from tests.support.postgres import PostgresServer

TOKENS = {
    "viewer-7f3a9c2e51d84b06": {"user": "vera", "role": "viewer"},
    "labeler-2b8e4f1a9c3d7e50": {"user": "lena", "role": "labeler"},
    "labeler-9d1c5e7b3a2f8046": {"user": "lars", "role": "labeler"},
    "admin-5e2a8c4f6b1d9e37a0": {"user": "ada", "role": "admin"},
}
VIEWER, LENA, LARS, ADMIN = (f"Bearer {t}" for t in TOKENS)
MAX_REQUEST_BYTES = 256 * 1024


def auth(token: str) -> dict[str, str]:
    return {"Authorization": token}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file that tests copy (migrating each time costs a second)."""
    path = tmp_path_factory.mktemp("template") / "labeling.db"
    prepare_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    url = postgres_server.create_database()
    prepare_database(url)
    return url.rsplit("/", 1)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "labeling.db")
        return f"sqlite:///{tmp_path}/labeling.db"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(template=request.getfixturevalue("postgres_template"))


@pytest.fixture(scope="module")
def archive_s3(stack_env: dict[str, str]) -> S3Settings:
    """One archive bucket per test module: the fixture run's images are written once per module."""
    prefix = "m" + uuid.uuid4().hex[:10]
    return S3Settings(
        endpoint=stack_env["SAMX_S3_ENDPOINT"],
        access_key=stack_env["SAMX_S3_ACCESS_KEY"],
        secret_key=stack_env["SAMX_S3_SECRET_KEY"],
        incoming_bucket=f"{prefix}-incoming",
        archive_bucket=f"{prefix}-archive",
    )


@pytest.fixture(scope="module")
def phase1_run(archive_s3: S3Settings) -> Phase1Run:
    return build_phase1_run(ObjectStore(archive_s3), archive_s3.archive_bucket, n_images=48, seed=3)


@dataclass
class Labeling:
    client: TestClient
    context: AppContext
    run: Phase1Run
    store: ObjectStore
    kafka: KafkaSettings
    bucket: str

    @property
    def run_id(self) -> str:
        return self.run.event.run_id

    def cluster(self, number: int) -> dict:
        response = self.client.get(f"/api/v1/runs/{self.run_id}/clusters/{number}", headers=auth(VIEWER))
        assert response.status_code == 200, response.text
        return response.json()

    def non_empty_clusters(self) -> list[dict]:
        response = self.client.get(
            f"/api/v1/runs/{self.run_id}/clusters",
            params={"sort": "cluster", "order": "asc", "limit": 1000},
            headers=auth(VIEWER),
        )
        return [c for c in response.json()["items"] if c["size"] > 0]


def make_context(database_url: str, s3: S3Settings, kafka: KafkaSettings, web_dir=None) -> AppContext:
    prepare_database(database_url)
    engine = make_engine(database_url)
    store = ObjectStore(s3)
    grants = {token: TokenGrant.model_validate(grant) for token, grant in TOKENS.items()}
    return AppContext.with_tokens(
        grants,
        engine=engine,
        sessions=make_sessionmaker(engine),
        links=PresignedImageLinks(store, expiry_s=600),
        sink_factory=lambda: ArchiveLabelSetSink.connect(store, kafka, archive_bucket=s3.archive_bucket),
        embeddings=ObjectStoreEmbeddings(store),
        web_dir=web_dir or Path("/nonexistent-web-ui"),
    )


@pytest.fixture
def labeling(
    database_url: str, archive_s3: S3Settings, kafka_settings: KafkaSettings, phase1_run
) -> Iterator[Labeling]:
    context = make_context(database_url, archive_s3, kafka_settings)
    store = ObjectStore(archive_s3)
    assert handle_clustering_completed(phase1_run.event, context.sessions, store)
    app = create_app(context, max_request_bytes=MAX_REQUEST_BYTES)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Labeling(client, context, phase1_run, store, kafka_settings, archive_s3.archive_bucket)
    context.close()
