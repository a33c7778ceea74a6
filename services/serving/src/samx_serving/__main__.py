"""``samx-serving deploy`` (the Serve app + the hot-swap watcher), ``samx-serving sort`` (the streaming
sort and reclassification), ``samx-serving export --out DIR`` (the sorted index as files)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn

from samx_core.telemetry import bootstrap_telemetry

from samx_serving.settings import get_kafka_settings, get_s3_settings, get_settings

log = logging.getLogger("samx_serving")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _configuration_error(exc: Exception) -> NoReturn:
    print(f"samx-serving: configuration error: {exc}", file=sys.stderr)
    sys.exit(2)


def deploy_command(detach: bool) -> None:
    try:
        settings, s3, kafka = get_settings(), get_s3_settings(), get_kafka_settings()
        settings.token_table()  # missing or placeholder tokens stop the deploy before anything starts
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        _configuration_error(exc)
    # Replicas run this environment as is; under 'uv run', Ray would otherwise build one per worker.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray
    from ray import serve
    from samx_core.bus import EventConsumer, EventPublisher, ensure_topics
    from samx_core.bus.consumer import Subscription
    from samx_core.events import ModelPublished

    from samx_serving.app import AppArgs, deploy, serve_tracing_config
    from samx_serving.watcher import ModelSwapper

    args = AppArgs.from_settings(settings, s3)
    ray.init(address=settings.ray_address, include_dashboard=False)
    # The proxy takes its tracing config when it starts (the replicas take theirs from each deploy).
    serve.start(
        http_options={"host": settings.http_host, "port": settings.http_port}, tracing_config=serve_tracing_config()
    )
    deploy(args, name=settings.app_name)
    print(f"serving model {args.model_version or '(none yet)'} at http://{settings.http_host}:{settings.http_port}")
    if detach:
        return
    stop = _stop_on_signals()
    ensure_topics(kafka, [ModelPublished.TOPIC])
    swapper = ModelSwapper(args, lambda new: deploy(new, name=settings.app_name))
    with EventPublisher(kafka) as publisher:
        consumer = EventConsumer(
            kafka,
            group_id=settings.watcher_consumer_group,
            subscriptions=[Subscription(ModelPublished, swapper.on_model_published)],
            publisher=publisher,
        )
        try:
            consumer.run(stop)
        finally:
            consumer.close()
            serve.delete(settings.app_name)


def sort_command() -> None:
    from samx_core.bus import EventConsumer, EventPublisher, ensure_topics
    from samx_core.bus.consumer import Subscription
    from samx_core.events import ModelPublished, RadiographClassified, RadiographIngested
    from samx_core.storage import ObjectStore

    from samx_serving.classifier_client import HttpClassifier
    from samx_serving.index import SortedIndex
    from samx_serving.sorter import RadiographSorter

    try:
        settings, s3, kafka = get_settings(), get_s3_settings(), get_kafka_settings()
        token = settings.client_bearer_token()
    except (ValueError, OSError) as exc:  # OSError: SAMX_SERVING_CLIENT_TOKEN_FILE cannot be read
        _configuration_error(exc)
    if token is None:
        log.warning("SAMX_SERVING_CLIENT_TOKEN is not set: only a serving API with SAMX_SERVING_AUTH=off will answer")
    ensure_topics(kafka, [RadiographIngested.TOPIC, ModelPublished.TOPIC, RadiographClassified.TOPIC])
    stop = _stop_on_signals()
    store = ObjectStore(s3)
    classifier = HttpClassifier(settings.url(), token=token)
    with EventPublisher(kafka) as publisher:
        sorter = RadiographSorter(
            classifier, SortedIndex(store, s3.archive_bucket), publisher, store, s3.archive_bucket,
            concurrency=settings.sort_concurrency, swap_timeout_s=settings.swap_timeout_s,
        )  # fmt: skip
        # Two groups, two threads: a long reclassification does not hold back newly ingested images.
        consumers = [
            EventConsumer(
                kafka, group_id=settings.sort_consumer_group, publisher=publisher,
                subscriptions=[Subscription(RadiographIngested, sorter.on_ingested)],
                concurrency=settings.sort_concurrency,  # each radiograph waits on an HTTP call: keep batches full
            ),
            EventConsumer(
                kafka, group_id=settings.reclassify_consumer_group, publisher=publisher, max_batch=1,
                subscriptions=[Subscription(ModelPublished, lambda e: sorter.on_model_published(e, stop))],
            ),
        ]  # fmt: skip
        threads = [threading.Thread(target=c.run, args=(stop,), name="sort", daemon=True) for c in consumers]
        for t in threads:
            t.start()
        print(f"sorting with the model served at {settings.url()}")
        stop.wait()
        for t in threads:
            t.join(timeout=30)
        for c in consumers:
            c.close()
    classifier.close()


def export_command(out: Path, model_version: str | None, images: bool) -> None:
    from samx_core.model_registry import ModelRegistry
    from samx_core.storage import ObjectStore

    from samx_serving.export import export_index

    s3 = get_s3_settings()
    store = ObjectStore(s3)
    version = model_version or get_settings().model_version or ModelRegistry(store, s3.archive_bucket).current()
    if version is None:
        sys.exit("no model version given and none promoted in the registry")
    summary = export_index(store, s3.archive_bucket, version, out, images=images)
    print(f"model {summary.model_version}: {summary.images} radiographs -> {out}")
    for label, count in summary.per_label.items():
        print(f"  {label:<20} {count}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="samx-serving", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="deploy the Serve app on SAMX_SERVING_RAY_ADDRESS and watch for new models")
    d.add_argument("--detach", action="store_true", help="deploy and return (no hot-swap watcher)")
    sub.add_parser("sort", help="classify ingested radiographs into the sorted index; reclassify on new models")
    e = sub.add_parser("export", help="write the sorted index as manifest.csv/.parquet and a folder per region")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--model-version", default=None, help="default: the promoted version")
    e.add_argument("--no-images", dest="images", action="store_false", help="the manifests only")
    args = parser.parse_args(argv)
    # This process: the hot-swap watcher (deploy), the streaming sort, or an export. The replicas trace
    # in their own processes (samx_serving.app.serve_tracing_config).
    bootstrap_telemetry(f"samx-serving-{args.command}")
    if args.command == "deploy":
        deploy_command(args.detach)
    elif args.command == "sort":
        sort_command()
    else:
        export_command(args.out, args.model_version, args.images)


if __name__ == "__main__":
    main()
