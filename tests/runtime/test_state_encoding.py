"""Saved partition states: Zstandard-compressed MessagePack; JSON ones (with
Zstandard or zlib) still read; damaged ones a clear error."""

from __future__ import annotations

import struct
import zlib

import msgspec
import pytest
import zstandard

from trustwatch.errors import ConfigError
from trustwatch.runtime.stream.worker import decode_state, encode_state

STATE = {
    "pipeline": {"rings": {"members": [["acct-1", 1.5], ["acct-2", 2.0]]}},
    "offsets": {"events": 1234},
    "text": "ünïcode " * 200,
}


def test_a_state_round_trips_through_zstandard_and_messagepack() -> None:
    blob = encode_state(STATE)
    assert blob[:4] == b"\x28\xb5\x2f\xfd"  # a Zstandard frame
    raw = zstandard.ZstdDecompressor().decompress(blob)
    assert msgspec.msgpack.decode(raw) == STATE
    assert len(blob) < len(msgspec.json.encode(STATE))
    assert decode_state(blob) == STATE


def test_values_keep_their_types_and_order() -> None:
    state = {
        "floats": [0.1, 1e-300, 1.7976931348623157e308, -0.0, 3.0],
        "ints": [0, -1, 2**63 - 1, -(2**63)],
        "nested": {"b": [["x", {"y": None, "z": True}]], "a": ""},
    }
    back = decode_state(encode_state(state))
    assert back == state
    assert list(back["nested"]) == ["b", "a"]
    assert [type(v) for v in back["floats"]] == [float] * 5
    assert [type(v) for v in back["ints"]] == [int] * 4


@pytest.mark.parametrize(
    "old",
    [
        lambda raw: zlib.compress(raw, 1),
        lambda raw: zstandard.ZstdCompressor(level=1).compress(raw),
        lambda raw: zstandard.ZstdCompressor(level=1).compress(b"\n  " + raw),
    ],
    ids=["zlib", "zstandard", "zstandard, leading space"],
)
def test_a_state_saved_as_json_is_still_read(old) -> None:
    assert decode_state(old(msgspec.json.encode(STATE))) == STATE


@pytest.mark.parametrize(
    "damage",
    [
        lambda blob: blob[:-3],  # cut short
        lambda blob: blob[:4],  # the magic number alone
        lambda blob: blob[:6] + bytes(b ^ 0xFF for b in blob[6:]),
        lambda blob: b"",
        lambda blob: b"\x78\x01garbage",  # a zlib header, then nonsense
        # a MessagePack array that declares four billion items
        lambda blob: zstandard.ZstdCompressor().compress(b"\xdd\xff\xff\xff\xff"),
        lambda blob: zstandard.ZstdCompressor().compress(b"{not json"),
        # a frame whose header asks for a petabyte
        lambda blob: blob[:4] + b"\xe0" + struct.pack("<Q", 1 << 50) + b"\x01\x00\x00",
    ],
)
def test_a_damaged_state_is_a_configuration_error(damage) -> None:
    with pytest.raises(ConfigError, match="saved partition state"):
        decode_state(damage(encode_state(STATE)))


def test_a_state_in_an_unknown_format_names_the_version_as_the_likely_cause() -> None:
    # a later format opens with another byte than a JSON object or a map
    later = zstandard.ZstdCompressor().compress(b"\x02" + msgspec.msgpack.encode(STATE))
    with pytest.raises(ConfigError, match="written by a newer trustwatch"):
        decode_state(later)
