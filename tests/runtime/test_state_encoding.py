"""Saved partition states: Zstandard-compressed JSON, zlib ones still read,
damaged ones a clear error."""

from __future__ import annotations

import struct
import zlib

import msgspec
import pytest

from trustwatch.errors import ConfigError
from trustwatch.runtime.stream.worker import decode_state, encode_state

STATE = {
    "pipeline": {"rings": {"members": [["acct-1", 1.5], ["acct-2", 2.0]]}},
    "offsets": {"events": 1234},
    "text": "ünïcode " * 200,
}


def test_a_state_round_trips_through_zstandard() -> None:
    blob = encode_state(STATE)
    assert blob[:4] == b"\x28\xb5\x2f\xfd"  # a Zstandard frame
    assert len(blob) < len(msgspec.json.encode(STATE))
    assert decode_state(blob) == STATE


def test_a_state_saved_with_zlib_is_still_read() -> None:
    old = zlib.compress(msgspec.json.encode(STATE), 1)
    assert decode_state(old) == STATE


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-3],  # cut short
        lambda blob: blob[:4],  # the magic number alone
        lambda blob: blob[:6] + bytes(b ^ 0xFF for b in blob[6:]),
        lambda blob: b"",
        lambda blob: b"\x78\x01garbage",  # a zlib header, then nonsense
        # a frame whose header asks for a petabyte
        lambda blob: blob[:4] + b"\xe0" + struct.pack("<Q", 1 << 50) + b"\x01\x00\x00",
    ],
)
def test_a_damaged_state_is_a_configuration_error(damage) -> None:
    with pytest.raises(ConfigError, match="saved partition state"):
        decode_state(damage(encode_state(STATE)))
