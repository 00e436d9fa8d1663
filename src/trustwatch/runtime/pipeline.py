"""The pipeline every runtime drives: detectors, then the decision engine.

The embedded runner (files in, SQLite out) and the stream workers share this one
class, so the same event meets the same detectors and the same policy wherever
it runs. A detector that raises on an event is recorded as a dead letter
(reason ``detector_failed``) and the other detectors still decide the event.

A checkpoint (:meth:`Pipeline.get_state`) keeps each detector's ``version``
beside its state. Restoring one (:meth:`Pipeline.set_state`) refuses a state
that another version of a detector wrote, and turns any failure of a
detector's ``set_state`` into a :class:`~trustwatch.errors.ConfigError` that
names the detector, so a damaged or outdated checkpoint is a clear error and
never a traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import Action, Verdict
from trustwatch.detectors.base import Detector, Signal
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.errors import ConfigError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext

__all__ = ["CHECKPOINT_FORMAT", "Decision", "Pipeline"]

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

#: The layout of :meth:`Pipeline.get_state`. Format 2 keeps each detector's
#: version beside its state; checkpoints without a format came before it.
CHECKPOINT_FORMAT = 2
_DETAIL_CHARS = 200  # the most of a failure's message an error repeats


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
    timed
        Add up the time each detector takes in :attr:`detector_seconds`.
    time_every
        With ``timed``, time the detectors on one event in this many and
        count each timing that many times: reading the clock around every
        detector on every event costs about a tenth of the pipeline, and an
        estimate from a regular sample serves a metric as well. ``1`` times
        every event.
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        engine: DecisionEngine,
        geo: GeoResolver | None = None,
        *,
        timed: bool = False,
        time_every: int = 1,
    ) -> None:
        if time_every < 1:
            raise ConfigError(f"time_every={time_every}; hint: use 1 or more")
        self.detectors = list(detectors)
        self.time_every = time_every
        self.engine = engine
        self.geo = geo
        # detectors by event type, so each event meets only those that read it
        self._for_type: dict[type[EventBase], list[Detector]] = {}
        self.events_seen = 0
        self.signals_raised = 0
        #: Detector failures not yet collected by the runtime, as dead letters.
        self.failures: list[DeadLetter] = []
        # checkpointed states of detectors this pipeline does not run: kept, so
        # that one run without an opt-in detector does not throw its state away
        self._dormant: dict[str, Any] = {}
        #: Seconds spent in each detector, when the pipeline is timed.
        self.detector_seconds: dict[str, float] | None = (
            dict.fromkeys((d.name for d in self.detectors), 0.0) if timed else None
        )

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
        spent = self.detector_seconds
        if spent is not None and self.events_seen % self.time_every == 0:
            self._timed_run(readers, event, ctx, spent)
        else:
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

    def _timed_run(
        self,
        readers: list[Detector],
        event: EventBase,
        ctx: EventContext,
        spent: dict[str, float],
    ) -> None:
        """Run the detectors on one event, adding each one's time to ``spent``."""
        signals = ctx.raised
        weight = self.time_every
        clock = time.perf_counter
        for detector in readers:
            started = clock()
            try:
                found = detector.process_one(event, ctx)
            except Exception as exc:  # one detector failing must not stop the rest
                self._failed(detector, event, exc)
                continue
            finally:
                spent[detector.name] += (clock() - started) * weight
            if found:
                signals.extend(found)

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
        """Return every detector's version and state, and the actions in force.

        States restored for detectors this pipeline does not run are passed
        on unchanged.
        """
        return {
            "format": CHECKPOINT_FORMAT,
            "detectors": {
                **self._dormant,
                **{
                    d.name: {"version": d.version, "state": d.get_state()}
                    for d in self.detectors
                },
            },
            "engine": self.engine.get_state(),
        }

    def set_state(self, state: Any) -> None:
        """Restore a state returned by :meth:`get_state`.

        A detector the checkpoint does not hold starts fresh; the state of a
        detector the pipeline does not run is kept as it is and written back
        by :meth:`get_state`, for a later run that runs it again.

        Raises
        ------
        ConfigError
            When the checkpoint is not one :meth:`get_state` of this format
            wrote, when a detector's state was written by another version of
            that detector, or when a detector (or the decision engine) fails
            to restore its state. The message names the detector.
        """
        detectors = _checked_layout(state)
        for detector in self.detectors:
            saved = detectors.get(detector.name)
            if saved is not None:
                _restore_detector(detector, saved)
        running = {d.name for d in self.detectors}
        self._dormant = {n: s for n, s in detectors.items() if n not in running}
        if self._dormant:
            log.warning(
                "the checkpoint holds the state of detectors this run does not "
                "run (%s): kept unchanged for a later run",
                ", ".join(sorted(self._dormant)),
            )
        try:
            self.engine.set_state(state.get("engine", {}))
        except Exception as exc:  # any failure of a damaged state is the same error
            raise ConfigError(
                f"the actions in force are damaged ({_describe(exc)})"
            ) from exc


def _checked_layout(state: Any) -> dict[str, Any]:
    """Return a checkpoint's detector states by name, once its layout is right."""
    if not isinstance(state, dict):
        raise ConfigError(
            f"the checkpoint is a {type(state).__name__}, not a pipeline state"
        )
    found = state.get("format")
    if found is None and "detectors" in state:
        # written before versions were kept: which version wrote each detector
        # state cannot be known, and reading one by another silently misleads
        raise ConfigError(
            "the checkpoint was written by an earlier trustwatch that kept no "
            "detector versions, so its detector states cannot be checked"
        )
    if found != CHECKPOINT_FORMAT:
        raise ConfigError(
            f"the checkpoint has format {found!r}, this trustwatch reads "
            f"format {CHECKPOINT_FORMAT}"
        )
    detectors = state.get("detectors")
    if not isinstance(detectors, dict):
        raise ConfigError("the checkpoint holds no detector states")
    return detectors


def _restore_detector(detector: Detector, saved: Any) -> None:
    """Restore one detector's saved state, or raise a ConfigError naming it."""
    name = detector.name
    if not isinstance(saved, dict) or "state" not in saved:
        raise ConfigError(f"detector state for {name} is damaged (no state)")
    version = saved.get("version")
    if version != detector.version:
        raise ConfigError(
            f"detector state for {name} was written by {name} version "
            f"{version!r}, this is version {detector.version!r}"
        )
    try:
        detector.set_state(saved["state"])
    except Exception as exc:  # any failure of a damaged state is the same error
        raise ConfigError(
            f"detector state for {name} is damaged or from another version "
            f"({_describe(exc)})"
        ) from exc


def _describe(exc: Exception) -> str:
    """Say what went wrong in a few words: the type and the message's start.

    A hint the message carries is left out: the caller gives its own.
    """
    message = str(exc).split("; hint:")[0]
    if len(message) > _DETAIL_CHARS:
        message = message[:_DETAIL_CHARS] + "..."
    return f"{type(exc).__name__}: {message}"
