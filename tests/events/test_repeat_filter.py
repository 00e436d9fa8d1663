"""The repeat filter: a record's bytes seen lately are a repeat."""

from __future__ import annotations

import pytest

from trustwatch.events.repeats import RepeatFilter


def test_only_the_last_records_are_remembered() -> None:
    seen = RepeatFilter(size=3)
    assert [seen.is_repeat(r) for r in (b"a", b"b", b"c", b"d")] == [False] * 4
    assert seen.is_repeat(b"a") is False  # pushed out by d
    assert seen.is_repeat(b"d") is True
    assert len(seen) == 3


def test_the_memory_survives_a_round_trip() -> None:
    seen = RepeatFilter(size=100)
    for n in range(50):
        seen.is_repeat(f"event {n}".encode())
    restored = RepeatFilter(size=100)
    restored.set_state(seen.get_state())
    assert restored.is_repeat(b"event 7") is True
    assert restored.is_repeat(b"event 50") is False


def test_a_smaller_window_keeps_the_newest_of_a_saved_state() -> None:
    seen = RepeatFilter(size=10)
    for n in range(10):
        seen.is_repeat(bytes([n]))
    smaller = RepeatFilter(size=2)
    smaller.set_state(seen.get_state())
    assert [smaller.is_repeat(bytes([n])) for n in (9, 8, 0)] == [True, True, False]


def test_a_damaged_state_is_refused() -> None:
    with pytest.raises(ValueError, match="damaged"):
        RepeatFilter().set_state(b"12345")
