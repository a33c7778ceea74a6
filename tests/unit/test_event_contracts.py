"""The event contracts: versioned topic names, the shared envelope, exported schemas in step."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError
from samx_core.events import ALL_EVENTS, MAX_INLINE_BYTES, RadiographReceived, event_type_for_topic
from samx_core.events.base import ObjectRef
from samx_core.events.schemas import render_schemas

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "libs" / "samx-core" / "schemas"


def test_exported_schemas_match_the_models():
    rendered = render_schemas()
    on_disk = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.json")}
    stale = sorted(name for name in rendered.keys() | on_disk.keys() if rendered.get(name) != on_disk.get(name))
    assert not stale, f"schemas out of date: {stale}; run 'uv run samx dev export-schemas'"


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda e: e.TOPIC)
def test_every_topic_is_versioned_and_every_event_has_the_envelope(event_type):
    assert event_type.TOPIC.startswith("samx.")
    assert event_type.TOPIC.rsplit(".", 1)[1].startswith("v")
    assert {"event_id", "occurred_at", "schema_version"} <= set(event_type.model_fields)
    assert event_type.model_config["frozen"] is True
    assert event_type_for_topic(event_type.TOPIC) is event_type


def test_received_needs_exactly_one_payload_and_round_trips():
    sha = "a" * 64
    with pytest.raises(ValidationError, match="exactly one"):
        RadiographReceived(site_id="site", sha256=sha, size_bytes=1)
    with pytest.raises(ValidationError, match="exactly one"):
        RadiographReceived(
            site_id="site", sha256=sha, size_bytes=1, inline_data=b"x", object=ObjectRef(bucket="bucket", key="k")
        )
    with pytest.raises(ValidationError, match="larger than"):
        RadiographReceived(site_id="site", sha256=sha, size_bytes=1, inline_data=b"x" * (MAX_INLINE_BYTES + 1))
    event = RadiographReceived(site_id="site", sha256=sha, size_bytes=3, inline_data=b"\x00\xff\x10")
    again = RadiographReceived.from_bytes(event.to_bytes())
    assert again == event
    assert again.inline_data == b"\x00\xff\x10"
    with pytest.raises(ValidationError):
        event.site_id = "other"  # frozen


def test_site_ids_cannot_smuggle_paths_or_names():
    with pytest.raises(ValidationError):
        RadiographReceived(site_id="../etc", sha256="a" * 64, size_bytes=1, inline_data=b"x")
    assert RadiographReceived(
        site_id="uni-hospital_2", sha256="a" * 64, size_bytes=1, inline_data=b"x", event_id=uuid.UUID(int=1)
    ).event_id == uuid.UUID(int=1)
