"""The pipeline every runtime drives: detectors, then the decision engine.

The embedded runner (files in, SQLite out) and the stream workers share this one
class, so the same event meets the same detectors and the same policy wherever
it runs. A detector that raises on an event is recorded as a dead letter
(reason ``detector_failed``) and the other detectors still decide the event.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import Action, Verdict
from trustwatch.detectors.base import Detector, Signal
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext

__all__ = ["Decision", "Pipeline"]

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict on one event and the actions it started."""

    verdict: Verdict
    actions: list[Action]


class Pipeline:
    """Run each event through every detector, then through the policy.

    Parameters
    ----------
    detectors
        Detectors, run in this order for each event.
    engine
        The decision engine holding the policy.
    geo
        Resolves source addresses to countries and networks for detectors.
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        engine: DecisionEngine,
        geo: GeoResolver | None = None,
    ) -> None:
        self.detectors = list(detectors)
        self.engine = engine
        self.geo = geo
        # detectors by event type, so each event meets only those that read it
        self._for_type: dict[type[EventBase], list[Detector]] = {}
        self.events_seen = 0
        self.signals_raised = 0
        #: Detector failures not yet collected by the runtime, as dead letters.
        self.failures: list[DeadLetter] = []

    def process_one(self, event: EventBase, t: float | None = None) -> Decision | None:
        """Return the decision on ``event``, or ``None`` when nothing fired.

        ``t`` is the event time in epoch seconds, if the caller has it.
        """
        self.events_seen += 1
        ctx = EventContext(event, self.geo, t)
        signals: list[Signal] = ctx.raised  # later detectors see earlier ones' signals
        kind = type(event)
        readers = self._for_type.get(kind)
        if readers is None:
            readers = self._for_type[kind] = [
                d
                for d in self.detectors
                if d.event_types is None or kind in d.event_types
            ]
        for detector in readers:
            try:
                found = detector.process_one(event, ctx)
            except Exception as exc:  # one detector failing must not stop the rest
                self._failed(detector, event, exc)
                continue
            if found:
                signals.extend(found)
        if not signals:
            return None
        self.signals_raised += len(signals)
        verdict, actions = self.engine.decide(event, signals)
        return Decision(verdict, actions)

    def _failed(self, detector: Detector, event: EventBase, exc: Exception) -> None:
        log.error(
            "detector %s failed on event %s: %s",
            detector.name,
            event.event_id,
            type(exc).__name__,
        )
        self.failures.append(
            DeadLetter.build(
                f"detector:{detector.name}",
                f"event {event.event_id}",
                "detector_failed",
                f"{detector.name} v{detector.version} raised "
                f"{type(exc).__name__}: {exc}",
                _encode(event),
            )
        )

    def process(self, events: Iterable[EventBase]) -> Iterator[Decision]:
        """Yield the decisions on a stream of events, in order."""
        for event in events:
            decision = self.process_one(event)
            if decision is not None:
                yield decision

    def get_state(self) -> dict[str, Any]:
        """Return every detector's state and the actions in force."""
        return {
            "detectors": {d.name: d.get_state() for d in self.detectors},
            "engine": self.engine.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        detectors = state.get("detectors", {})
        for detector in self.detectors:
            if detector.name in detectors:
                detector.set_state(detectors[detector.name])
        self.engine.set_state(state.get("engine", {}))
