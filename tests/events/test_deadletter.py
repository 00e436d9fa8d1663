"""Tests for trustwatch.events.deadletter."""

from __future__ import annotations

import msgspec
import pytest

from trustwatch.events.deadletter import MAX_RAW_CHARS, DeadLetter


def _letter(raw: bytes | str = b'{"oops"', location: str = "line 3") -> DeadLetter:
    return DeadLetter.build("in.jsonl", location, "malformed_json", "bad", raw)


def test_id_is_deterministic_and_32_hex_digits() -> None:
    first, second = _letter(), _letter()
    assert first.dead_letter_id == second.dead_letter_id
    assert len(first.dead_letter_id) == 32
    int(first.dead_letter_id, 16)


def test_id_depends_on_location_and_raw() -> None:
    ids = {
        _letter().dead_letter_id,
        _letter(location="line 4").dead_letter_id,
        _letter(raw=b'{"other"').dead_letter_id,
    }
    assert len(ids) == 3


def test_bytes_and_text_of_the_same_record_share_an_id() -> None:
    assert _letter(b"caf\xc3\xa9").dead_letter_id == _letter("café").dead_letter_id


def test_raw_is_truncated_but_the_id_covers_the_whole_record() -> None:
    long_a = _letter(b"a" * (MAX_RAW_CHARS + 10))
    long_b = _letter(b"a" * (MAX_RAW_CHARS + 11))
    assert len(long_a.raw) == MAX_RAW_CHARS
    assert long_a.raw == long_b.raw
    assert long_a.dead_letter_id != long_b.dead_letter_id


def test_invalid_utf8_is_kept_as_escapes_and_stays_encodable() -> None:
    letter = _letter(b"\xff\xfe{")
    assert letter.raw == "\\xff\\xfe{"
    decoded = msgspec.json.decode(msgspec.json.encode(letter), type=DeadLetter)
    assert decoded == letter


def test_lone_surrogates_in_text_stay_encodable() -> None:
    letter = _letter("\ud800x")
    assert b"\\\\xed" in msgspec.json.encode(letter)


def test_repr_never_shows_the_raw_record() -> None:
    letter = _letter(b'{"password":"hunter2"}')
    assert "hunter2" not in repr(letter)
    assert "22 chars" in repr(letter)


def test_dead_letters_are_immutable() -> None:
    letter = _letter()
    with pytest.raises(AttributeError):
        letter.reason = "other"  # type: ignore[misc]
