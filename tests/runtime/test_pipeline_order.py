"""Detectors run in order, and each sees the signals raised before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Detector, Signal
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
