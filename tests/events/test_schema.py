"""Tests for trustwatch.events.schema."""

from __future__ import annotations

import json

from trustwatch.events.model import EVENT_TYPES, SCHEMA_VERSION
from trustwatch.events.schema import SCHEMA_ID, json_schema


def test_schema_names_itself_and_its_version() -> None:
    schema = json_schema()
    assert (
        schema["$id"] == SCHEMA_ID == f"urn:trustwatch:schema:event:v{SCHEMA_VERSION}"
    )
    assert schema["x-schema-version"] == SCHEMA_VERSION
    assert schema["title"] == "trustwatch event"
    assert schema["$schema"].endswith("2020-12/schema")


def test_schema_covers_every_event_type_by_its_tag() -> None:
    schema = json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(EVENT_TYPES)
    login = schema["$defs"]["Login"]
    assert "event_id" in login["required"] and "ts" in login["required"]
    assert login["properties"]["ts"]["format"] == "date-time"


def test_schema_is_plain_json() -> None:
    text = json.dumps(json_schema())
    assert json.loads(text) == json_schema()
