"""The embedded runtime: event files in, decisions in a SQLite file out.

No services: events are read from JSON Lines, Parquet or SSH logs, threat intel
from feed files, and verdicts, actions and dead letters land in one SQLite
store. Writes are batched and idempotent, so running the same input twice
leaves the store as it was after the first run.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from trustwatch.content.store import ContentSource, ContentStore
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import Action, Mode, Verdict
from trustwatch.decisions.policy import Policy, default_policy
from trustwatch.detectors import default_detectors
from trustwatch.detectors.base import Detector
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.errors import ConfigError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.decode import EventDecoder
from trustwatch.events.readers import read_events
from trustwatch.events.repeats import DEFAULT_WINDOW, RepeatedEvents, RepeatFilter
from trustwatch.intel.allowlists import AllowList
from trustwatch.intel.feeds import load_feed, resolve_feed_paths
from trustwatch.intel.indicators import Indicator
from trustwatch.intel.store import IndicatorStore
from trustwatch.runtime.lateness import LATENESS, LateEvents
from trustwatch.runtime.pipeline import Decision, Pipeline
from trustwatch.storage.sqlite import SqliteStore

__all__ = ["LATENESS", "IntelLoad", "RunSummary", "load_intel", "run_embedded"]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]


@dataclass(slots=True)
class IntelLoad:
    """What loading the intel files gave: the store, and per-feed counts.

    ``allowlisted`` counts the indicators left out per allow-list name.
    """

    store: IndicatorStore
    loaded: dict[str, int] = field(default_factory=dict)
    rejected: list[DeadLetter] = field(default_factory=list)
    allowlisted: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class RunSummary:
    """Counts from one embedded run."""

    events: int = 0
    verdicts: int = 0
    new_verdicts: int = 0
    actions: int = 0
    new_actions: int = 0
    dead_letters: int = 0
    new_dead_letters: int = 0
    #: The message of the run's first dead letter ("" when none).
    first_dead_letter: str = ""
    late_events: int = 0
    #: Events dated more than a day off the events around them that no others
    #: followed: a broken or forged clock, not a late event (see
    #: :mod:`trustwatch.runtime.lateness`).
    out_of_line: int = 0
    #: The first of them, by event id.
    first_out_of_line: str | None = None
    #: Events identical to one of the last 50,000 read, skipped undecided.
    repeats: int = 0
    rings: int = 0
    seconds: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)
    #: Times each rule's condition failed while running (it did not match).
    rule_errors: Counter[str] = field(default_factory=Counter)
    #: Targets each rule's action could not act on (a URL to lock), by rule.
    unfit_targets: Counter[str] = field(default_factory=Counter)
    #: Uploaded files the content store was asked for, and those it lacked
    #: (``None`` without a content store).
    files_asked: int | None = None
    files_missing: int | None = None
    signal_kinds: Counter[str] = field(default_factory=Counter)
    intel: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        """Return the run's throughput."""
        return self.events / self.seconds if self.seconds else 0.0


def load_intel(
    paths: Iterable[str | Path],
    format: str = "auto",
    allowlist: AllowList | None = None,
) -> IntelLoad:
    """Load threat-intel files into one indicator store; rejects become letters.

    ``paths`` may name files, folders and globs (see
    :func:`~trustwatch.intel.feeds.resolve_feed_paths`). Indicators that
    ``allowlist`` holds are not loaded: each becomes a dead letter with reason
    ``allow_listed`` naming the list, counted per list in
    :attr:`IntelLoad.allowlisted`.
    """
    result = IntelLoad(IndicatorStore())
    for path in resolve_feed_paths(paths):
        feed = load_feed(path, format=format)
        source = str(path.resolve())
        indicators = feed.indicators
        if allowlist is not None:
            indicators = _drop_allowlisted(indicators, allowlist, source, result)
        result.store.add_many(indicators)
        if feed.patterns:
            result.store.add_patterns(feed.patterns)
        result.loaded[str(path)] = len(indicators) + len(feed.patterns)
        result.rejected.extend(
            DeadLetter.build(source, r.location, r.reason, r.message, r.raw)
            for r in feed.rejects
        )
        log.info(
            "intel file loaded: %d indicators, %d patterns, %d rejects",
            len(feed.indicators),
            len(feed.patterns),
            len(feed.rejects),
        )
    return result


def _drop_allowlisted(
    indicators: list[Indicator],
    allowlist: AllowList,
    source: str,
    result: IntelLoad,
) -> list[Indicator]:
    """Return the indicators no list holds; the rest become dead letters."""
    kept: list[Indicator] = []
    for indicator in indicators:
        listed = allowlist.reason(indicator)
        if listed is None:
            kept.append(indicator)
            continue
        result.allowlisted[listed] += 1
        result.rejected.append(
            DeadLetter.build(
                source,
                indicator.reference or indicator.value,
                "allow_listed",
                f"{indicator.type} indicator is on the allow-list {listed!r}; "
                "hint: known-benign values are never matched, drop the "
                "allow-list to load it anyway",
                indicator.value,
            )
        )
    if len(kept) < len(indicators):
        log.info(
            "intel file: %d indicators allow-listed",
            len(indicators) - len(kept),
        )
    return kept


def run_embedded(
    event_paths: Sequence[str | Path],
    store: SqliteStore,
    *,
    intel: IntelLoad | None = None,
    content: ContentSource | None = None,
    policy: Policy | None = None,
    mode: Mode = "dry_run",
    detectors: Sequence[Detector] | None = None,
    geo: GeoResolver | None = None,
    format: str = "auto",
    source_tz: str | None = None,
    resume: bool = False,
    reset_state: bool = False,
    batch_size: int = 5000,
    on_progress: ProgressCallback | None = None,
    dead_letters: Sequence[DeadLetter] = (),
) -> RunSummary:
    """Run the pipeline over event files and store what it decides.

    Parameters
    ----------
    event_paths
        Event files, directories or globs (see
        :func:`~trustwatch.events.readers.read_events`).
    store
        Where verdicts, actions and dead letters go.
    intel
        Loaded threat intel; without it the intel detector is left out.
    content
        The uploaded files by SHA-256 (a
        :class:`~trustwatch.content.store.ContentStore`); without it the file
        phishing detector is left out.
    policy
        The policy; the shipped default when ``None``.
    mode
        ``"dry_run"`` (record only) or ``"enforce"``.
    detectors
        Detectors to run instead of the defaults.
    geo
        Resolves source addresses to countries and networks; without one,
        networks are keyed by address prefix.
    format
        Event file format, or ``"auto"`` to go by each file's name.
    source_tz
        Time zone of timestamps written without one, and of syslog lines
        (read as UTC, with a warning, when it is not given).
    resume
        Start from the detector state the last resumed run left in the store,
        and leave this run's state there for the next. Without it every run
        starts fresh, so replaying a file adds nothing.
    reset_state
        With ``resume``: ignore the checkpoint the last resumed run left (one
        that is damaged or from another version cannot be restored) and start
        from fresh detector state; this run's state replaces it.
    batch_size
        Events between store writes and progress calls.
    on_progress
        Called with the number of events read so far.
    dead_letters
        Records other inputs refused while loading (bad fuzzy-intel lines),
        stored with the run's own, as ``intel``'s rejects are.

    Raises
    ------
    ConfigError
        When ``resume`` meets a checkpoint that cannot be restored (damaged,
        or written by another version of a detector), naming the detector;
        or when ``reset_state`` is given without ``resume``.
    """
    if reset_state and not resume:
        raise ConfigError(
            "--reset-state only applies with --resume; hint: a run without "
            "--resume starts fresh and leaves the checkpoint as it is"
        )
    started = time.perf_counter()
    summary = RunSummary()
    if detectors is None:
        detectors = default_detectors(intel.store if intel else None, content)
    engine = DecisionEngine(policy or default_policy(), mode)
    pipeline = Pipeline(detectors, engine, geo)
    restore = resume and not reset_state
    recent = RepeatFilter(DEFAULT_WINDOW)
    lateness = LateEvents()
    if restore:
        _restore(pipeline, recent, lateness, store)
    batch = _Batch(store, summary)
    if intel is not None:
        summary.intel = dict(intel.loaded)
        batch.letters.extend(intel.rejected)
    batch.letters.extend(dead_letters)
    decoder = EventDecoder(source_tz=source_tz)
    events = read_events(
        event_paths, decoder=decoder, format=format, sshlog_tz=source_tz
    )
    # the same event twice (a file given twice, a line repeated) would count
    # twice in every window and baseline: repeats are told by the event's
    # encoding, whatever the file format it came in
    repeated = RepeatedEvents(recent)
    try:
        for item in events:
            if isinstance(item, DeadLetter):
                batch.letters.append(item)
                continue
            if repeated.is_repeat(item):
                summary.repeats += 1
                continue
            summary.events += 1
            t = item.ts.timestamp()
            lateness.observe(t, item.event_id)
            decision = pipeline.process_one(item, t)
            if decision is not None:
                batch.add(decision)
            if pipeline.failures:
                batch.letters.extend(pipeline.failures)
                pipeline.failures.clear()
            if summary.events % batch_size == 0:
                batch.flush()
                if on_progress is not None:
                    on_progress(summary.events)
    finally:
        # what was decided before a failure is kept
        batch.flush()
    lateness.finish()
    summary.late_events = lateness.late
    summary.out_of_line = lateness.out_of_line
    summary.first_out_of_line = lateness.first_out_of_line
    summary.rings = store.write_rings(
        snapshot
        for detector in pipeline.detectors
        for snapshot in detector.ring_snapshots()
    )
    if resume:
        store.save_state(
            _STATE_KEY,
            {
                "pipeline": pipeline.get_state(),
                # "newest" also for earlier versions, which read only that
                "newest": lateness.newest,
                "lateness": lateness.get_state(),
                "recent": recent.get_state(),
            },
        )
    summary.verdicts = sum(summary.decisions.values())
    summary.rule_errors = Counter(engine.rule_errors)
    summary.unfit_targets = Counter(engine.unfit_targets)
    if isinstance(content, ContentStore):
        lookups = content.lookups()
        summary.files_asked, summary.files_missing = lookups.asked, lookups.missing
    summary.seconds = time.perf_counter() - started
    if summary.repeats:
        log.info("skipped %d repeated events", summary.repeats)
    log.info(
        "run finished: %d events, %d verdicts, %d actions, %d dead letters",
        summary.events,
        summary.verdicts,
        summary.actions,
        summary.dead_letters,
    )
    return summary


_STATE_KEY = "pipeline_state"


def _restore(
    pipeline: Pipeline, recent: RepeatFilter, lateness: LateEvents, store: SqliteStore
) -> None:
    """Restore the last resumed run's state: detectors, repeats and lateness.

    ``recent`` gets back the events that run read last, so that a resumed
    run over a file the last one read in part skips what it decided.

    ``lateness`` gets back the newest event time: events older than it by
    more than :data:`LATENESS` count as late, so resuming over a file that came
    before warns instead of passing silently.

    Raises
    ------
    ConfigError
        When the checkpoint is damaged, or was written by another version of
        a detector (or by a trustwatch that kept no detector versions): the
        message names the detector and says how to start fresh
        (``reset_state``).
    """
    try:
        state = store.load_state(_STATE_KEY)
        if state is None:
            return
        if not isinstance(state, dict) or "pipeline" not in state:
            raise ConfigError("the checkpoint holds no pipeline state")
        pipeline.set_state(state["pipeline"])
        # checkpoints written before repeats were remembered hold none
        recent.set_state(msgspec.convert(state.get("recent", b""), bytes))
        # checkpoints written before hold only the newest time
        lateness.set_state(state.get("lateness", {"newest": state.get("newest")}))
    except (ConfigError, TypeError, ValueError) as exc:
        # TypeError, ValueError: a clock or newest event time that is not a
        # number, or repeat digests that are damaged or not bytes
        raise ConfigError(
            f"cannot resume from the checkpoint in {store.path}: {exc}; "
            "hint: run once with --resume --reset-state to start from fresh "
            "detector state (this drops the saved windows and baselines)"
        ) from exc
    log.info("detector state restored from the store")


class _Batch:
    """Decisions and dead letters waiting to be written together."""

    def __init__(self, store: SqliteStore, summary: RunSummary) -> None:
        self.store = store
        self.summary = summary
        self.verdicts: list[Verdict] = []
        self.actions: list[Action] = []
        self.letters: list[DeadLetter] = []

    def add(self, decision: Decision) -> None:
        verdict = decision.verdict
        self.verdicts.append(verdict)
        self.actions.extend(decision.actions)
        self.summary.decisions[verdict.decision] += 1
        self.summary.signal_kinds.update(s.kind for s in verdict.signals)
        self.summary.actions += len(decision.actions)

    def flush(self) -> None:
        summary, store = self.summary, self.store
        summary.new_verdicts += store.write_verdicts(self.verdicts)
        summary.new_actions += store.write_actions(self.actions)
        if self.letters and not summary.dead_letters:
            summary.first_dead_letter = self.letters[0].message
        summary.dead_letters += len(self.letters)
        summary.new_dead_letters += store.write_dead_letters(self.letters)
        self.verdicts.clear()
        self.actions.clear()
        self.letters.clear()
