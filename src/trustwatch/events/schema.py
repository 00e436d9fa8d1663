"""Publish the JSON Schema that event producers write against.

The schema is generated from the event classes, so it cannot drift from what
:class:`~trustwatch.events.decode.EventDecoder` accepts. It describes the
canonical form (``ts`` as an RFC 3339 string with an offset); the decoder is
more lenient and also reads epoch numbers and other timestamp forms.
"""

from __future__ import annotations

from typing import Any

import msgspec

from trustwatch.events.model import SCHEMA_VERSION, Event

__all__ = ["SCHEMA_ID", "json_schema"]

SCHEMA_ID = f"urn:trustwatch:schema:event:v{SCHEMA_VERSION}"
"""The ``$id`` of the event schema; it changes with :data:`SCHEMA_VERSION`."""


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one event record.

    Examples
    --------
    >>> schema = json_schema()
    >>> schema["$id"], schema["x-schema-version"]
    ('urn:trustwatch:schema:event:v1', 1)
    """
    # A round trip turns tuple defaults into lists: plain JSON values only.
    body = msgspec.json.decode(msgspec.json.encode(msgspec.json.schema(Event)))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "trustwatch event",
        "description": (
            "One platform event, tagged by 'type'. Records are written one per "
            f"line; 'v' is the schema version ({SCHEMA_VERSION}) and readers "
            "refuse records from newer versions."
        ),
        "x-schema-version": SCHEMA_VERSION,
        **body,
    }
