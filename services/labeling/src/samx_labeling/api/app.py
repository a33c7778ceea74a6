"""The FastAPI application, built from an ``AppContext`` (tests and benchmarks build their own)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from samx_core.asgi import RequestMetrics
from samx_core.reachability import kafka_reachable, object_store_reachable
from samx_core.storage import ObjectStore

from samx_labeling.adapters.embeddings import ObjectStoreEmbeddings
from samx_labeling.adapters.labelsets import ArchiveLabelSetSink
from samx_labeling.adapters.links import PresignedImageLinks
from samx_labeling.adapters.serving_classifier import ServingClassifier
from samx_labeling.api.context import AppContext
from samx_labeling.api.errors import BodySizeLimit, install_error_handlers
from samx_labeling.api.middleware import SecurityHeaders, request_metrics
from samx_labeling.api.routes import (
    audit,
    clusters,
    curation,
    explain,
    health,
    labels,
    labelsets,
    pool,
    runs,
    suggestions,
    vocabulary,
    web,
)
from samx_labeling.db.engine import make_engine, make_sessionmaker
from samx_labeling.settings import ServiceSettings

API_PREFIX = "/api/v1"
PACKAGED_WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def create_app(context: AppContext, *, max_request_bytes: int) -> FastAPI:
    app = FastAPI(
        title="SAM-X labeling",
        version="1.0.0",
        description="A radiologist names the clusters of a phase-1 run, discards the unusable ones and "
        "publishes an immutable label set (Hinterwimmer et al., Eur Radiol 2023).",
    )
    app.state.context = context
    install_error_handlers(app)
    for module in (runs, clusters, curation, pool, explain, labels, suggestions, labelsets, audit, vocabulary):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(health.router)
    app.include_router(web.router)
    app.add_middleware(BodySizeLimit, max_bytes=max_request_bytes)
    app.state.metrics = CollectorRegistry()  # per app: tests build several
    app.add_middleware(RequestMetrics, **request_metrics(app.state.metrics))
    app.add_middleware(SecurityHeaders, image_origins=context.image_origins)
    return app


def build_context(settings: ServiceSettings, *, consumer_alive=None) -> AppContext:
    """The production wiring: the configured database, MinIO/S3 for images and label sets, Kafka."""
    engine = make_engine(settings.labeling.database_url)
    store = ObjectStore(settings.s3)

    def sink() -> ArchiveLabelSetSink:
        return ArchiveLabelSetSink.connect(
            store,
            settings.kafka,
            archive_bucket=settings.s3.archive_bucket,
            announce_timeout_s=settings.labeling.announce_timeout_s,
        )

    lab = settings.labeling
    serving_token = lab.serving_client_token()
    classifier = (
        ServingClassifier(lab.serving_url, serving_token, timeout_s=lab.serving_timeout_s)
        if lab.serving_url and serving_token
        else None
    )
    return AppContext.with_tokens(
        settings.labeling.token_grants(),
        engine=engine,
        sessions=make_sessionmaker(engine),
        links=PresignedImageLinks(store, expiry_s=settings.labeling.url_expiry_s),
        sink_factory=sink,
        embeddings=ObjectStoreEmbeddings(store),
        suggestion_min_share=settings.labeling.suggestion_min_share,
        classifier=classifier,
        image_origins=(f"{'https' if settings.s3.secure else 'http'}://{settings.s3.endpoint}",),
        dependency_checks={
            "object_store": lambda: object_store_reachable(settings.s3.endpoint, secure=settings.s3.secure),
            "kafka": lambda: kafka_reachable(settings.kafka.bootstrap_servers),
        },
        web_dir=settings.labeling.web_dir or PACKAGED_WEB_DIR,
        consumer_alive=consumer_alive,
    )
