"""Honeypot session rows become login events; samples keep sources whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

from trustwatch.devdata.feeds import SshSession
from trustwatch.devdata.logins import sample_by_source, session_logins, shift


def _session(
    sid: str, ip: str, failed: int = 0, ok: int = 0, gap: float = 0.0
) -> SshSession:
    return SshSession(sid, "2025-02-18T05:25:41.5Z", ip, failed, ok, gap)


def test_session_becomes_failures_then_successes() -> None:
    events = session_logins([_session("abc", "198.51.100.4", 3, 1, 0.8)], "cowrie")
    assert [e.success for e in events] == [False, False, False, True]
    assert [e.event_id for e in events] == [f"cowrie-abc-{n}" for n in range(4)]
    assert events[1].ts - events[0].ts == timedelta(seconds=0.8)
    assert events[0].ts == datetime(2025, 2, 18, 5, 25, 41, 500000, tzinfo=UTC)
    assert {e.failure_reason for e in events[:3]} == {"bad_credentials"}
    assert all(e.account is None and e.ip == "198.51.100.4" for e in events)


def test_session_without_attempts_has_no_events() -> None:
    assert session_logins([_session("abc", "198.51.100.4")], "cowrie") == []


def test_sample_keeps_every_session_of_a_source_within_budget() -> None:
    rows = [_session(f"a{n}", "198.51.100.1") for n in range(5)]
    rows += [_session(f"b{n}", f"203.0.113.{n}") for n in range(20)]
    picked = sample_by_source(rows, 10, Random(1))
    assert len(picked) <= 10
    by_ip = {s.src_ip for s in picked}
    if "198.51.100.1" in by_ip:
        assert sum(s.src_ip == "198.51.100.1" for s in picked) == 5
    assert picked == sample_by_source(rows, 10, Random(1))


def test_shift_moves_the_first_event_to_the_target() -> None:
    events = session_logins([_session("abc", "198.51.100.4", 2, 0, 30.0)], "cowrie")
    target = datetime(2026, 11, 2, tzinfo=UTC)
    moved, span = shift(events, target)
    assert moved[0].ts == target
    assert span == timedelta(seconds=30)
    assert shift([], target) == ([], timedelta(0))
