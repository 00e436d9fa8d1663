"""The detector contract every detector follows, and the signals they emit.

A detector reads events in event-time order and returns :class:`Signal` values:
"this entity looks like this kind of abuse, with this score, for these
reasons". It never decides what to do; policies do that (see
:mod:`trustwatch.decisions`).

The vocabulary is river's for streams and scikit-learn's for batches:

- :meth:`Detector.process_one` sees one event, updates the detector's state and
  returns the signals that event raises; the stream runtime calls only this.
- :meth:`Detector.process` runs a batch through ``process_one`` in order.
- :meth:`Detector.get_state` / :meth:`Detector.set_state` checkpoint and restore
  the state (plain, serialisable values), so a restarted worker carries on.

Scores lie in ``[0, 1]``, and a higher score always means more suspicious.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec

from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext

if TYPE_CHECKING:
    from trustwatch.graph.rings import RingSnapshot

__all__ = ["Detector", "IndicatorRef", "Signal", "threshold_score"]


def threshold_score(count: int, threshold: int) -> float:
    """Score a count against its threshold: 0.5 at it, rising towards 1.

    ``1 - 0.5 ** (count / threshold)``: 0.75 at twice the threshold, 0.875 at
    three times.
    """
    return float(1.0 - 0.5 ** (count / threshold))


class IndicatorRef(msgspec.Struct, frozen=True, kw_only=True):
    """The threat-intel record a signal rests on: which feed said what, where."""

    type: str
    value: str
    feeds: tuple[str, ...]
    confidence: int
    reference: str | None = None
    matched_on: str | None = None


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """One detector's finding about one entity, raised by one event.

    Attributes
    ----------
    detector
        Registry name of the detector.
    detector_version
        Version of the detector's logic or model.
    kind
        What was found (``"credential_stuffing"``, ``"intel_url"``...).
    score
        Suspicion in ``[0, 1]``.
    entity_type
        What the entity is: ``"account"``, ``"ip"``, ``"url"``, ``"file"``,
        ``"link"``.
    entity
        The entity's key (an account id, an address, a canonical URL...).
    event_id
        The event that raised the signal.
    reasons
        Why, in words an analyst reads.
    evidence
        The figures behind the reasons (counts, windows, features).
    indicators
        The intel records matched, if any.
    """

    detector: str
    detector_version: str
    kind: str
    score: float
    entity_type: str
    entity: str
    event_id: str
    reasons: tuple[str, ...] = ()
    evidence: dict[str, Any] = {}
    indicators: tuple[IndicatorRef, ...] = ()


class Detector(abc.ABC):
    """Base class of every detector.

    Subclasses set ``name`` (the registry key), ``version`` and
    ``signal_kinds``, and implement
    :meth:`process_one`, :meth:`get_state` and :meth:`set_state`. Constructor
    arguments are the detector's parameters; :meth:`get_params` returns them so
    that a detector can be rebuilt from a configuration.
    """

    name: ClassVar[str]
    #: Raise it whenever the layout or meaning of ``get_state()`` changes: a
    #: checkpoint from another version is refused on restore.
    version: ClassVar[str] = "1"
    #: Every signal kind the detector can raise; policies read these.
    signal_kinds: ClassVar[tuple[str, ...]] = ()
    #: The event types the detector reads; ``None`` means every type. Runtimes
    #: skip the detector for other types; ``process_one`` still accepts them.
    event_types: ClassVar[frozenset[type[EventBase]] | None] = None

    @abc.abstractmethod
    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """See one event, update state, and return the signals it raises."""

    def process(self, events: Iterable[EventBase]) -> list[Signal]:
        """Run a batch of events, in the order given, through :meth:`process_one`."""
        signals: list[Signal] = []
        for event in events:
            signals.extend(self.process_one(event, EventContext(event)))
        return signals

    @abc.abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Return the learned state as plain serialisable values."""

    @abc.abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""

    def ring_snapshots(self) -> list[RingSnapshot]:
        """Return the risky rings (groups of accounts) this detector holds now.

        Runtimes store them for analysts (``trustwatch rings``). Detectors
        that do not group accounts hold none.
        """
        return []

    def get_params(self) -> dict[str, Any]:
        """Return the constructor parameters of this detector."""
        return dict(getattr(self, "_params", {}))

    def count_signal(
        self,
        event: EventBase,
        *,
        kind: str,
        count: int,
        threshold: int,
        entity_type: str,
        entity: str,
        reason: str,
        evidence: dict[str, Any],
        weight: float = 1.0,
    ) -> list[Signal]:
        """Return one signal when ``count`` reaches ``threshold``, else none.

        The score is :func:`threshold_score` times ``weight``.
        """
        if count < threshold:
            return []
        return [
            self.signal(
                event,
                kind=kind,
                score=threshold_score(count, threshold) * weight,
                entity_type=entity_type,
                entity=entity,
                reasons=(reason,),
                evidence=evidence,
            )
        ]

    def signal(
        self,
        event: EventBase,
        *,
        kind: str,
        score: float,
        entity_type: str,
        entity: str,
        reasons: tuple[str, ...],
        evidence: dict[str, Any] | None = None,
        indicators: tuple[IndicatorRef, ...] = (),
    ) -> Signal:
        """Build a :class:`Signal` stamped with this detector's name and version."""
        return Signal(
            detector=self.name,
            detector_version=self.version,
            kind=kind,
            score=min(1.0, max(0.0, score)),
            entity_type=entity_type,
            entity=entity,
            event_id=event.event_id,
            reasons=reasons,
            evidence=evidence or {},
            indicators=indicators,
        )
