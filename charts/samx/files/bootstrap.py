# Creates the SAM-X topics and buckets (run by the bootstrap hook Job with the ingest image: python -c).
# Settings come from the SAMX_KAFKA_* / SAMX_S3_* environment, as for every service.
import os
import sys
import time

from samx_core.bus import ensure_topics
from samx_core.events import ALL_EVENTS
from samx_core.settings import KafkaSettings, S3Settings
from samx_core.storage import ObjectStore

deadline = time.monotonic() + float(os.environ.get("SAMX_BOOTSTRAP_WAIT_S", "300"))


def retry(what, action):
    while True:
        try:
            return action()
        except Exception as exc:  # noqa: BLE001 - a broker or S3 that is not up yet raises anything
            if time.monotonic() > deadline:
                print(f"bootstrap: {what} still failing, giving up: {exc!r}", file=sys.stderr, flush=True)
                raise
            print(f"bootstrap: waiting for {what}: {type(exc).__name__}: {exc}", flush=True)
            time.sleep(5)


kafka = KafkaSettings()
s3 = S3Settings()
names = [event.TOPIC for event in ALL_EVENTS]
created = retry("kafka", lambda: ensure_topics(kafka, names))
print(
    f"bootstrap: topics {[kafka.topic(n) for n in names]} present ({len(created)} created,"
    f" {kafka.topic_partitions} partitions, replication {kafka.topic_replication})",
    flush=True,
)
retry("s3", lambda: ObjectStore(s3).ensure_buckets(s3.incoming_bucket, s3.archive_bucket))
print(f"bootstrap: buckets {s3.incoming_bucket}, {s3.archive_bucket} present", flush=True)
