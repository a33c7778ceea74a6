"""JSON Schemas of the event contracts and of the stored payloads they point to (``samx_core.archive``),
for consumers in other languages and for review of changes. They are generated into
``libs/samx-core/schemas/`` (``samx dev export-schemas``) and a test fails when the files there differ
from the models."""

from __future__ import annotations

import json
from pathlib import Path

from samx_core.archive import ALL_PAYLOADS
from samx_core.events import ALL_EVENTS


def render_schemas() -> dict[str, str]:
    """File name -> JSON text, one per topic."""
    rendered: dict[str, str] = {}
    for event_type in ALL_EVENTS:
        schema = event_type.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:samx:event:{event_type.TOPIC}"
        schema["x-topic"] = event_type.TOPIC
        rendered[f"{event_type.TOPIC}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    for name, payload_type in ALL_PAYLOADS.items():
        schema = payload_type.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:samx:payload:{name}"
        rendered[f"payload.{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    for stale in set(directory.glob("*.json")) - set(written):
        stale.unlink()
    return written
