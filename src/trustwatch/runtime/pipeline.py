"""The pipeline every runtime drives: detectors, then the decision engine.

The embedded runner (files in, SQLite out) and the stream workers share this one
class, so the same event meets the same detectors and the same policy wherever
it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import Action, Verdict
from trustwatch.detectors.base import Detector, Signal
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext

__all__ = ["Decision", "Pipeline"]

log = logging.getLogger(__name__)


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
        self.events_seen = 0
        self.signals_raised = 0

    def process_one(self, event: EventBase) -> Decision | None:
        """Return the decision on ``event``, or ``None`` when nothing fired."""
        self.events_seen += 1
        ctx = EventContext(event, self.geo)
        signals: list[Signal] = []
        for detector in self.detectors:
            found = detector.process_one(event, ctx)
            if found:
                signals.extend(found)
        if not signals:
            return None
        self.signals_raised += len(signals)
        verdict, actions = self.engine.decide(event, signals)
        return Decision(verdict, actions)

    def process(self, events: Iterable[EventBase]) -> Iterator[Decision]:
        """Yield the decisions on a stream of events, in order."""
        for event in events:
            decision = self.process_one(event)
            if decision is not None:
                yield decision

    def get_state(self) -> dict[str, Any]:
        """Return every detector's state, keyed by detector name."""
        return {d.name: d.get_state() for d in self.detectors}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore detector states returned by :meth:`get_state`."""
        for detector in self.detectors:
            if detector.name in state:
                detector.set_state(state[detector.name])
