"""``samx-labeling serve`` (API + clustering.completed consumer) and ``samx-labeling migrate``."""

from __future__ import annotations

import argparse
import logging
import sys
import threading

log = logging.getLogger("samx_labeling")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from samx_core.storage import ObjectStore

    from samx_labeling.api.app import build_context, create_app
    from samx_labeling.consumer import ClusteringConsumer
    from samx_labeling.db.engine import make_sessionmaker
    from samx_labeling.db.setup import prepare_database
    from samx_labeling.settings import get_settings

    try:
        settings = get_settings()
        settings.labeling.token_grants()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        print(f"samx-labeling: configuration error: {exc}", file=sys.stderr)
        return 2
    prepare_database(settings.labeling.database_url)
    consumer = None
    context = build_context(settings, consumer_alive=lambda: consumer is None or consumer.alive)
    if settings.labeling.consumer_enabled:
        consumer = ClusteringConsumer(
            settings.kafka,
            settings.labeling.consumer_group,
            make_sessionmaker(context.engine),
            ObjectStore(settings.s3),
        )
        consumer.start()
    app = create_app(context, max_request_bytes=settings.labeling.max_request_bytes)
    port = args.port if args.port is not None else settings.labeling.port
    stop = threading.Event()
    relay = threading.Thread(
        target=announce_loop, args=(context, settings.labeling.announce_retry_s, stop), name="outbox", daemon=True
    )
    relay.start()
    try:
        uvicorn.run(app, host=settings.labeling.host, port=port, log_level="warning", access_log=False)
    finally:
        stop.set()
        if consumer is not None:
            consumer.stop()
        context.close()
    return 0


def announce_loop(context, every_s: float, stop: threading.Event) -> None:
    """The outbox relay: label sets published while Kafka was down are announced when it is back."""
    from samx_labeling.domain.publishing import announce_pending

    while not stop.wait(every_s):
        try:
            with context.sessions() as session:
                if announced := announce_pending(session, context.sink()):
                    log.info("announced %d pending label set(s)", announced)
        except Exception:  # the object store or database down: the next round tries again
            log.warning("outbox round failed", exc_info=True)


def _migrate(_: argparse.Namespace) -> int:
    from samx_labeling.db.setup import prepare_database
    from samx_labeling.settings import get_labeling_settings

    prepare_database(get_labeling_settings().database_url)
    print("database at head")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samx-labeling", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API and the clustering.completed consumer")
    serve.add_argument("--port", type=int, default=None, help="overrides SAMX_LABELING_PORT (0: any free port)")
    serve.set_defaults(run=_serve)
    commands.add_parser("migrate", help="bring the database schema to head and seed the vocabulary").set_defaults(
        run=_migrate
    )
    args = parser.parse_args(argv)
    from samx_core.telemetry import bootstrap_telemetry

    # Before the service's own settings: a configuration error is logged like everything else, and the
    # API's requests and the consumer's messages (both in this process) are traced from the start.
    bootstrap_telemetry("samx-labeling")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
