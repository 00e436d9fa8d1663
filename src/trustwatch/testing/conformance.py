"""Checks every detector must pass, importable by users for their own detectors.

>>> from trustwatch.detectors import CredentialAttackDetector
>>> check_detector(CredentialAttackDetector)

The checks: signals are well formed (score in ``[0, 1]``, stamped with the
detector's name and the raising event); two fresh detectors on the same events
agree exactly; a detector checkpointed half-way through, serialised to JSON and
restored into a fresh instance continues exactly as one that never stopped;
a damaged checkpoint (a key missing, a value of the wrong type) is either
restored or refused with an ``Exception``, which the pipeline reports as a
damaged checkpoint of that detector, and never with a ``BaseException`` that
would escape it; events with every optional field missing are handled; and
the parameters it reports rebuild an equivalent detector.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from trustwatch.detectors.base import Detector, Signal
from trustwatch.events.model import (
    EventBase,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
    Login,
    UrlPosted,
)
from trustwatch.features.context import EventContext

__all__ = ["check_detector", "synthetic_events"]

_URLS = (
    "https://docs.python.org/3/library/asyncio.html",
    "http://198.51.100.7:8080/bin.sh",
    "https://paypal.com.secure-login.example/webscr?cmd=login",
    "https://www.wikipedia.org/",
    "http://203.0.113.9/invoice.exe",
)


def _legitimate_ip(i: int) -> str:
    """A regular user's address: a handful of one network, rarely another."""
    return "192.0.2.77" if i % 97 == 0 else f"203.0.113.{i % 9}"


def synthetic_events(n: int = 600, seed: int = 1) -> list[EventBase]:
    """Return a small mixed stream with bursts of abuse, in event-time order."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)
    events: list[EventBase] = []
    for i in range(n):
        ts = start + timedelta(seconds=i * 7)
        eid = f"syn-{i}"
        roll = i % 6
        if roll < 3:
            attacker = rng.random() < 0.5
            user = f"user{rng.randrange(40 if attacker else 5)}"
            events.append(
                Login(
                    event_id=eid,
                    ts=ts,
                    account=user,
                    username=user,
                    ip="198.51.100.66" if attacker else _legitimate_ip(i),
                    success=not attacker or rng.random() < 0.05,
                )
            )
        elif roll == 3:
            events.append(
                FileUploaded(
                    event_id=eid,
                    ts=ts,
                    account=f"user{rng.randrange(30)}",
                    file_id=f"f{i}",
                    sha256=f"{rng.randrange(3):064x}",
                )
            )
        elif roll == 4:
            events.append(
                UrlPosted(event_id=eid, ts=ts, account="user1", url=rng.choice(_URLS))
            )
        else:
            events.append(_sharing_event(rng, eid, ts, i))
    return events


def _sharing_event(rng: random.Random, eid: str, ts: datetime, i: int) -> EventBase:
    if i % 4 == 0:
        return LinkCreated(
            event_id=eid, ts=ts, account="user2", link_id="l1", file_id="f3"
        )
    if i % 4 == 1:
        recipients = tuple(f"r{rng.randrange(200)}" for _ in range(5))
        return FileShared(
            event_id=eid, ts=ts, account="user2", file_id="f3", recipients=recipients
        )
    return LinkAccessed(
        event_id=eid, ts=ts, link_id="l1", ip=f"198.51.100.{rng.randrange(250)}"
    )


def _run(detector: Detector, events: Sequence[EventBase]) -> list[Signal]:
    signals: list[Signal] = []
    for event in events:
        signals.extend(detector.process_one(event, EventContext(event)))
    return signals


def _bare(event: EventBase) -> EventBase:
    """Return the event with every optional base field removed."""
    return msgspec.structs.replace(
        event, account=None, ip=None, user_agent=None, device_id=None, session_id=None
    )


def check_detector(
    factory: Callable[[], Detector], events: Sequence[EventBase] | None = None
) -> None:
    """Run the conformance checks on detectors built by ``factory``.

    Raises ``AssertionError`` naming the check that failed.
    """
    events = list(events) if events is not None else synthetic_events()
    first = _run(factory(), events)
    for signal in first:
        assert isinstance(signal, Signal), f"not a Signal: {signal!r}"
        assert 0.0 <= signal.score <= 1.0, f"score out of [0, 1]: {signal}"
        assert signal.event_id in {e.event_id for e in events}, "unknown event id"
    detector = factory()
    assert all(s.detector == detector.name for s in first), "signal not stamped"
    undeclared = {s.kind for s in first} - set(detector.signal_kinds)
    assert not undeclared, f"kinds not in signal_kinds: {sorted(undeclared)}"
    if detector.event_types is not None:
        # runtimes skip the other types: the detector must not need them
        read = [e for e in events if type(e) in detector.event_types]
        assert _run(factory(), read) == first, "needs events outside event_types"
    assert _run(factory(), events) == first, "two fresh runs disagree"

    half = len(events) // 2
    before = factory()
    head = _run(before, events[:half])
    state = msgspec.json.decode(msgspec.json.encode(before.get_state()))
    after = factory()
    after.set_state(state)
    assert head + _run(after, events[half:]) == first, "state did not round-trip"
    for damaged in _damaged(state):
        _refused_as_exception(factory, damaged)

    _run(factory(), [_bare(e) for e in events])  # must not raise
    params = detector.get_params()
    assert msgspec.json.decode(msgspec.json.encode(params)) is not None


def _damaged(state: Any) -> Iterator[Any]:
    """Yield damaged copies of a checkpoint: each key dropped, each value wrong."""
    yield {}
    yield None
    if not isinstance(state, dict):
        return
    for key in state:
        yield {k: v for k, v in state.items() if k != key}
        yield {**state, key: "damaged"}


def _refused_as_exception(factory: Callable[[], Detector], state: Any) -> None:
    """Restore a damaged state; only an ``Exception`` may refuse it."""
    try:
        factory().set_state(state)
    except Exception:  # any Exception is a clean refusal
        return
    except BaseException as exc:  # a native panic, say: what the check is for
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise AssertionError(
            f"a damaged checkpoint raised {type(exc).__name__}, not an "
            "Exception: the pipeline cannot report it as a damaged checkpoint"
        ) from exc
