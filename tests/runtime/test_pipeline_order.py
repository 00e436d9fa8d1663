"""Detectors run in order, and each sees the signals raised before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Detector, Signal
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, Login
from trustwatch.features.context import EventContext
from trustwatch.runtime.pipeline import Pipeline


class Raising(Detector):
    name = "raising"
    signal_kinds = ("first",)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        return [
            self.signal(
                event,
                kind="first",
                score=0.4,
                entity_type="account",
                entity=event.account or "",
                reasons=("first",),
            )
        ]

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: dict[str, object]) -> None:
        pass


class Reading(Raising):
    name = "reading"
    signal_kinds = ("second",)

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        self.seen.append([s.kind for s in ctx.raised])
        return []


def test_a_later_detector_reads_the_signals_raised_before_it_on_the_same_event():
    reading = Reading()
    pipeline = Pipeline([Raising(), reading], DecisionEngine(default_policy()))
    for i in range(2):
        event = Login(
            event_id=f"e{i}",
            ts=datetime(2026, 4, 1, tzinfo=UTC),
            account="bob",
            success=True,
        )
        pipeline.process_one(event)
    assert reading.seen == [["first"], ["first"]]  # per event, never accumulated
    assert pipeline.signals_raised == 2


def test_a_detector_run_first_sees_no_signals():
    reading = Reading()
    pipeline = Pipeline([reading, Raising()], DecisionEngine(default_policy()))
    event = Login(
        event_id="e", ts=datetime(2026, 4, 1, tzinfo=UTC), account="a", success=True
    )
    pipeline.process_one(event)
    assert reading.seen == [[]]


def _logins(n: int) -> list[Login]:
    return [
        Login(
            event_id=f"e{i}",
            ts=datetime(2026, 4, 1, tzinfo=UTC),
            account="bob",
            success=True,
        )
        for i in range(n)
    ]


def test_sampled_timing_counts_each_timed_event_for_the_events_it_stands_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = iter(range(1_000_000))
    monkeypatch.setattr(
        "trustwatch.runtime.pipeline.time.perf_counter", lambda: float(next(ticks))
    )
    reading = Reading()
    pipeline = Pipeline(
        [Raising(), reading], DecisionEngine(default_policy()), timed=True, time_every=4
    )
    for event in _logins(8):
        pipeline.process_one(event)

    # events 4 and 8 are timed; each clock pair spans one tick, counted 4 times
    assert pipeline.detector_seconds == {"raising": 8.0, "reading": 8.0}
    assert reading.seen == [["first"]] * 8  # untimed events run the same way


def test_every_event_is_timed_by_default_and_a_sample_below_one_is_refused() -> None:
    pipeline = Pipeline([Raising()], DecisionEngine(default_policy()), timed=True)
    for event in _logins(3):
        pipeline.process_one(event)
    assert pipeline.detector_seconds is not None
    assert pipeline.detector_seconds["raising"] > 0
    with pytest.raises(ConfigError, match="time_every=0"):
        Pipeline([Raising()], DecisionEngine(default_policy()), time_every=0)
