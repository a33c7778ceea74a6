# The trainer-launcher: turns SAM-X events into KubeRay RayJobs (run in the trainer image by the
# trainer-launcher Deployment; the chart mounts it with the RayJob templates from the same ConfigMap).
#
#   python rayjob_launcher.py consume                 a phase-2 RayJob per samx.labels.published.v1
#   python rayjob_launcher.py submit phase1 RUN_ID    one phase-1 RayJob (an operator's command)
#   python rayjob_launcher.py submit phase2 RUN_ID V  one phase-2 RayJob (label set version V), by hand
#
# It only creates RayJobs, from the reviewed templates: it sets metadata.name (derived from the run, so
# a re-delivered event finds its job already there and is acknowledged: 409 Conflict) and appends the
# run's arguments to spec.entrypoint. Settings: the SAMX_KAFKA_* environment, SAMX_LAUNCHER_TEMPLATES
# (the templates' folder, default: this file's), SAMX_LAUNCHER_CONSUMER_GROUP, SAMX_LAUNCHER_DRY_RUN=1
# (print the RayJob as JSON instead of creating it), SAMX_LAUNCHER_MAX_EVENTS (stop after N messages,
# handled or dead-lettered: for tests).
import hashlib
import json
import logging
import os
import re
import shlex
import signal
import ssl
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import yaml

# the run id pattern of samx_core's events (LabelsPublished.run_id)
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
USAGE = "usage: rayjob_launcher.py consume | submit phase1 RUN_ID | submit phase2 RUN_ID LABELSET_VERSION"
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
log = logging.getLogger("samx.launcher")


class JobExists(Exception):
    """The RayJob of this run is there already (an event delivered twice)."""


def build_rayjob(template: dict, phase: str, run_id: str, labelset_version: int | None = None) -> dict:
    """The RayJob of one run from its phase's template (a copy; the template is left as it is)."""
    job = json.loads(json.dumps(template))
    identity = run_id if labelset_version is None else f"{run_id}.ls{labelset_version}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    # RayJob names become RayCluster, Service and pod names: short, DNS-safe, one per run
    job["metadata"]["name"] = f"{job['metadata']['name'][:40]}-{digest}"
    job["metadata"].setdefault("labels", {})["samx.io/run"] = digest
    job["metadata"].setdefault("annotations", {})["samx.io/run-id"] = run_id
    args = ["--run-id", run_id]
    if labelset_version is not None:
        args += ["--labelset-version", str(labelset_version)]
        job["metadata"]["annotations"]["samx.io/labelset-version"] = str(labelset_version)
    job["spec"]["entrypoint"] = f"{job['spec']['entrypoint']} {shlex.join(args)}"
    return job


def templates_dir() -> Path:
    return Path(os.environ.get("SAMX_LAUNCHER_TEMPLATES", Path(__file__).resolve().parent))


def load_template(phase: str) -> dict:
    return yaml.safe_load((templates_dir() / f"{phase}.yaml").read_text())


def create(job: dict) -> None:
    """POST the RayJob to the Kubernetes API with the pod's ServiceAccount token (or print it)."""
    if os.environ.get("SAMX_LAUNCHER_DRY_RUN") == "1":
        print(json.dumps(job, sort_keys=True), flush=True)
        return
    namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip()
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    url = f"https://{host}:{port}/apis/ray.io/v1/namespaces/{namespace}/rayjobs"
    request = urllib.request.Request(
        url,
        data=json.dumps({**job, "metadata": {**job["metadata"], "namespace": namespace}}).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {(SERVICE_ACCOUNT / 'token').read_text().strip()}",
            "Content-Type": "application/json",
        },
    )
    context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
    try:
        with urllib.request.urlopen(request, context=context, timeout=30):  # noqa: S310 - https, built above
            pass
    except urllib.error.HTTPError as exc:
        if exc.code == 409:
            raise JobExists(job["metadata"]["name"]) from None
        raise
    log.info("created RayJob %s", job["metadata"]["name"])


def submit(phase: str, run_id: str, labelset_version: int | None = None) -> None:
    job = build_rayjob(load_template(phase), phase, run_id, labelset_version)
    try:
        create(job)
    except JobExists as exc:
        log.info("RayJob %s exists already: nothing to do", exc)


def consume() -> None:
    """A phase-1 RayJob per phase1.requested and a phase-2 RayJob per labels.published event, at least once
    (samx_core.bus: an event is committed after its RayJob exists; a bad event is dead-lettered with its
    reason)."""
    from samx_core.bus import EventConsumer, EventPublisher
    from samx_core.bus.consumer import Subscription
    from samx_core.events import LabelsPublished, Phase1Requested
    from samx_core.settings import KafkaSettings

    stop = threading.Event()
    budget = int(os.environ.get("SAMX_LAUNCHER_MAX_EVENTS", "0"))
    outcomes = []

    def handle(event: LabelsPublished) -> None:
        submit("phase2", event.run_id, event.labelset_version)

    def handle_phase1(event: Phase1Requested) -> None:
        submit("phase1", event.run_id)

    def counted(topic: str, outcome: object, seconds: float) -> None:
        # handled or dead-lettered: a test stops the launcher after its messages
        outcomes.append(outcome)
        if budget and len(outcomes) >= budget:
            stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    kafka = KafkaSettings()
    publisher = EventPublisher(kafka)
    consumer = EventConsumer(
        kafka,
        group_id=os.environ.get("SAMX_LAUNCHER_CONSUMER_GROUP", "samx-trainer-launcher"),
        subscriptions=[Subscription(LabelsPublished, handle), Subscription(Phase1Requested, handle_phase1)],
        publisher=publisher,
        max_batch=1,
        on_outcome=counted,
    )
    try:
        consumer.run(stop)
    finally:
        consumer.close()
        publisher.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    match argv:
        case ["consume"]:
            consume()
        case ["submit", "phase1", run_id] if RUN_ID.fullmatch(run_id):
            submit("phase1", run_id)
        case ["submit", "phase2", run_id, version] if RUN_ID.fullmatch(run_id) and version.isdigit():
            submit("phase2", run_id, int(version))
        case _:
            print(USAGE, file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
