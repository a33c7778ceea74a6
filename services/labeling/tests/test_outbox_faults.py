"""Label sets through the outbox, with the real Kafka stopped by PID mid-test and started again: a publish
while the broker is down is committed and stored (202, version taken), announced once the broker is
back, exactly once, with the version it was given; nothing is rewritten."""

from __future__ import annotations

import time

import pytest
from samx_core.bus.reader import EventReader
from samx_core.events import LabelsPublished
from samx_labeling.domain.publishing import announce_pending

from .conftest import LENA, auth

pytestmark = [pytest.mark.integration, pytest.mark.fault]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_label_set_published_while_kafka_is_down_is_announced_when_it_is_back(labeling, local_stack):
    client, run_id = labeling.client, labeling.run_id
    items = [{"cluster": c["cluster"], "label": "hand", "version": c["version"]} for c in labeling.non_empty_clusters()]
    assert client.post(f"/api/v1/runs/{run_id}/labels", json={"items": items}, headers=auth(LENA)).status_code == 200
    local_stack.stop_component("kafka")
    try:
        started = time.monotonic()
        published = client.post(f"/api/v1/runs/{run_id}/publish", headers=auth(LENA))
        assert published.status_code == 202, published.text
        # bounded by the sink's announce timeout (10 s here), the broker's bootstrap included: the
        # radiologist's publish waited 30 s, kafka-python's default bootstrap, before that bound covered it
        assert time.monotonic() - started < 20, "the publish waited longer than twice the announce timeout"
        assert published.headers["SAMX-Announced"] == "pending" and published.json()["version"] == 1
        listed = client.get(f"/api/v1/runs/{run_id}/labelsets", headers=auth(LENA)).json()["items"]
        assert [s["version"] for s in listed] == [1]
        stored = labeling.store.get_json(labeling.bucket, listed[0]["object_key"])
        assert stored == published.json(), "stored before the commit, and not rewritten after"
        with labeling.context.sessions() as session:
            assert announce_pending(session, labeling.context.sink()) == 0, "still down: still pending"
    finally:
        local_stack.start_component("kafka")
    with labeling.context.sessions() as session:
        assert announce_pending(session, labeling.context.sink()) == 1
        assert announce_pending(session, labeling.context.sink()) == 0
    with EventReader(labeling.kafka, [LabelsPublished.TOPIC], from_beginning=True) as reader:
        events = [e for e in reader.events(timeout_s=30, idle_s=5) if e.run_id == run_id]
    assert len({e.event_id for e in events}) == 1 and events[0].labelset_version == 1
    assert events[0].labelset.sha256 == listed[0]["sha256"]
    again = client.post(f"/api/v1/runs/{run_id}/publish", headers=auth(LENA))
    assert again.status_code == 201 and again.json()["version"] == 2
