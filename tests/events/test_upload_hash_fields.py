"""Upload hashes are schema-checked: a malformed one is a ``schema`` dead letter."""

from __future__ import annotations

import json

import pytest

from trustwatch.errors import InvalidEventError
from trustwatch.events.decode import EventDecoder
from trustwatch.events.model import FileUploaded
from trustwatch.events.schema import json_schema

DECODER = EventDecoder()
SHA256 = "45efa77a84b78bb618ca703018a0bb5d9b5c55de1dd50db498cdb0e4fc1c994d"
TLSH = "T1" + "0123456789ABCDEF" * 4 + "012345"


def upload_line(**fields: str) -> bytes:
    record = {
        "type": "file_uploaded",
        "event_id": "u1",
        "ts": "2026-12-01T12:00:00Z",
        "file_id": "f1",
        **fields,
    }
    return json.dumps(record).encode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sha256", "not-hex"),
        ("sha256", "../eicar_outside"),
        ("sha256", "/tmp/" + SHA256[:59]),
        ("sha256", SHA256 + "0"),
        ("sha256", ""),
        ("sha1", SHA256[:39]),
        ("md5", "g" * 32),
        ("tlsh", "T1" + "0" * 69),
        ("tlsh", "TNOTHEX" + "0" * 65),
        ("ssdeep", "3:abc"),
        ("ssdeep", "x:abc:def"),
    ],
)
def test_a_malformed_hash_is_a_schema_dead_letter_naming_the_field(
    field: str, value: str
) -> None:
    with pytest.raises(InvalidEventError) as info:
        DECODER.decode(upload_line(**{field: value}))
    assert info.value.reason == "schema"
    assert f"$.{field}" in str(info.value)


def test_well_formed_hashes_of_either_case_are_accepted() -> None:
    event = DECODER.decode(
        upload_line(
            sha256=SHA256.upper(),
            sha1="A" * 40,
            md5="0f" * 16,
            tlsh=TLSH,
            ssdeep="3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C",
        )
    )
    assert isinstance(event, FileUploaded)
    assert event.sha256 == SHA256.upper()
    assert event.tlsh == TLSH
    bare = DECODER.decode(upload_line(tlsh=TLSH[2:]))
    assert isinstance(bare, FileUploaded) and bare.tlsh == TLSH[2:]


def test_the_json_schema_states_the_hash_forms() -> None:
    text = json.dumps(json_schema())
    assert "^[0-9A-Fa-f]{64}$" in text
    assert "^[0-9A-Fa-f]{32}$" in text
