"""Simulate a file-sharing platform's telemetry with attacks mixed in.

One seed gives one stream: every random draw comes from a
:class:`random.Random` seeded from the configuration (benign use, the
population and each attack campaign have their own), and no id or timestamp
depends on the wall clock.

The run advances in windows of fifteen minutes. Each window generates the
sessions and attack campaigns that start in it; events that fall later (a
link opened hours after it was shared) wait in a buffer until their window is
emitted. The stream therefore comes out in exact timestamp order while memory
stays bounded by the population and a few hours of follow-ups, however long
the run.

Examples
--------
>>> from trustwatch.simulation import SimulationConfig, simulate
>>> sim = simulate(SimulationConfig(accounts=200, days=0.5))
>>> sim.events == sorted(sim.events, key=lambda e: e.ts)
True
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from random import Random
from typing import NamedTuple

import msgspec

from trustwatch.errors import ConfigError
from trustwatch.events.model import Event
from trustwatch.simulation.attack_urls import malware_url, phishing_url
from trustwatch.simulation.attacks import ALL_ATTACKS, ATTACKS, AttackContext
from trustwatch.simulation.benign import BenignActivity, BenignBehaviour, Timed
from trustwatch.simulation.ids import IdSpace, at, epoch_seconds, hex_token
from trustwatch.simulation.population import Population
from trustwatch.simulation.scales import (
    BruteForceScale,
    LinkCampaignScale,
    MalwareSpreadScale,
    StuffingScale,
)
from trustwatch.simulation.truth import GroundTruth, TruthRecorder

__all__ = [
    "ALL_ATTACKS",
    "Simulation",
    "SimulationConfig",
    "SimulationPaths",
    "iter_events",
    "simulate",
    "write_simulation",
]

logger = logging.getLogger(__name__)

_WINDOW = 900.0
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_WRITE_BATCH = 10_000


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that shapes a simulation run.

    Parameters
    ----------
    seed
        Seed of every random draw of the run.
    accounts
        Accounts at the start (a few more sign up during the run).
    days
        Length of the run in days.
    start
        Start of the run (timezone-aware).
    attacks
        Names of the attacks to mix in, from :data:`ALL_ATTACKS`.
    benign
        How ordinary users behave.
    brute_force, credential_stuffing, phishing_links, malware_links, malware_spread
        Scale of each attack.
    intel_decoys
        Indicators in the simulated intel feed that never appear in the
        stream, as in any real feed.
    """

    seed: int = 7
    accounts: int = 2000
    days: float = 2.0
    start: datetime = datetime(2026, 11, 2, tzinfo=UTC)
    attacks: tuple[str, ...] = ALL_ATTACKS
    benign: BenignBehaviour = field(default_factory=BenignBehaviour)
    brute_force: BruteForceScale = field(default_factory=BruteForceScale)
    credential_stuffing: StuffingScale = field(default_factory=StuffingScale)
    phishing_links: LinkCampaignScale = field(default_factory=LinkCampaignScale)
    malware_links: LinkCampaignScale = field(
        default_factory=lambda: LinkCampaignScale(campaigns=2, urls=(3, 8))
    )
    malware_spread: MalwareSpreadScale = field(default_factory=MalwareSpreadScale)
    intel_decoys: int = 50

    def __post_init__(self) -> None:
        """Reject values the simulator cannot use, naming the field."""
        if self.accounts < 10:
            raise ConfigError(
                f"accounts={self.accounts!r} is too small; hint: use at least 10"
            )
        if not self.days > 0:
            raise ConfigError(f"days={self.days!r}; hint: the run needs a length > 0")
        if self.start.tzinfo is None:
            raise ConfigError(
                f"start={self.start.isoformat()!r} has no timezone; "
                "hint: pass an aware datetime such as datetime(..., tzinfo=UTC)"
            )
        unknown = sorted(set(self.attacks) - set(ATTACKS))
        if unknown:
            raise ConfigError(
                f"unknown attacks {unknown!r}; hint: choose from {list(ATTACKS)!r}"
            )
        if len(set(self.attacks)) != len(self.attacks):
            raise ConfigError(
                f"attacks={self.attacks!r} names an attack twice; "
                "hint: raise its scale's campaigns instead"
            )
        if self.intel_decoys < 0:
            raise ConfigError(f"intel_decoys={self.intel_decoys!r} is negative")
        for name in ALL_ATTACKS:
            getattr(self, name).validate(name)


@dataclass
class Simulation:
    """A finished run: the events in time order, the answer key, the feed.

    Attributes
    ----------
    config
        The configuration of the run.
    events
        Every event, sorted by timestamp, ids unique.
    truth
        What the attacks did and what should be flagged.
    intel
        Lines of a plain threat-intel feed: the URLs and hashes a feed would
        know (not the ``unlisted`` URLs), plus decoys.
    """

    config: SimulationConfig
    events: list[Event]
    truth: GroundTruth
    intel: list[str]


class SimulationPaths(NamedTuple):
    """Where :func:`write_simulation` put each file."""

    events: Path
    intel: Path
    truth: Path


def simulate(config: SimulationConfig | None = None) -> Simulation:
    """Run a simulation and keep every event in memory.

    Parameters
    ----------
    config
        The run's configuration (defaults to :class:`SimulationConfig`).

    Returns
    -------
    Simulation
        Events sorted by timestamp, the ground truth and the intel feed.
    """
    run = _Run(config or SimulationConfig())
    events = [event for chunk in run.chunks() for event in chunk]
    logger.info("simulated %d events, seed %d", len(events), run.config.seed)
    return Simulation(run.config, events, run.truth(), run.intel())


def iter_events(config: SimulationConfig | None = None) -> Iterator[Event]:
    """Stream a simulation's events in timestamp order with bounded memory.

    Yields the same events as :func:`simulate` with the same configuration,
    without keeping them; use it for runs of millions of events.
    """
    for chunk in _Run(config or SimulationConfig()).chunks():
        yield from chunk


def write_simulation(sim: Simulation, directory: Path) -> SimulationPaths:
    """Write ``events.jsonl``, ``intel.txt`` and ``truth.json`` to a directory.

    Events are JSON lines encoded by :mod:`msgspec` from the event structs, so
    :data:`trustwatch.events.Event` decodes them back. The directory is
    created when missing; existing files of the same names are replaced.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = SimulationPaths(
        directory / "events.jsonl", directory / "intel.txt", directory / "truth.json"
    )
    encoder = msgspec.json.Encoder()
    with paths.events.open("wb") as sink:
        for i in range(0, len(sim.events), _WRITE_BATCH):
            sink.write(encoder.encode_lines(sim.events[i : i + _WRITE_BATCH]))
    paths.intel.write_text("".join(f"{line}\n" for line in sim.intel), "utf-8")
    paths.truth.write_bytes(msgspec.json.format(encoder.encode(sim.truth), indent=2))
    logger.info("wrote %d events to %s", len(sim.events), directory)
    return paths


class _Run:
    """The state of one run: population, benign activity and attack plan."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        seed = config.seed
        self.start = epoch_seconds(config.start)
        self.end = self.start + config.days * 86_400.0
        self.ids = IdSpace(seed)
        self.population = Population(
            Random(f"{seed}/population"),
            config.accounts,
            self.start,
            self.end,
            mfa_share=config.benign.mfa_share,
            travel_share=config.benign.travel_share,
        )
        self.benign = BenignActivity(
            Random(f"{seed}/benign"), self.population, self.ids, self.end, config.benign
        )
        self.recorders = {name: TruthRecorder(name) for name in config.attacks}
        self.plan = self._plan()
        self._claimed: set[str] = set()

    def _plan(self) -> list[tuple[float, str, int]]:
        """Schedule every campaign: ``(start, attack, index)`` sorted by start."""
        rng = Random(f"{self.config.seed}/plan")
        span = self.end - self.start
        plan = []
        for name in self.config.attacks:
            # Leave the first stretch to benign traffic and finish before the end.
            lo = self.start + 0.05 * span
            hi = max(lo, self.end - ATTACKS[name].span)
            for index in range(getattr(self.config, name).campaigns):
                plan.append((rng.uniform(lo, hi), name, index))
        plan.sort()
        return plan

    def chunks(self) -> Iterator[list[Event]]:
        """Yield the run's events as time-ordered lists, one per window."""
        pending: list[Timed] = []
        planned = iter(self.plan)
        upcoming = next(planned, None)
        w0 = self.start
        while w0 < self.end:
            w1 = min(w0 + _WINDOW, self.end)
            self.benign.window(w0, w1, pending)
            while upcoming is not None and upcoming[0] < w1:
                pending.extend(self._campaign(*upcoming))
                upcoming = next(planned, None)
            pending.sort(key=_FIRST)
            # Benign follow-ups past the end are cut; attack ones never get here.
            cut = bisect_left(pending, w1, key=_FIRST)
            if cut:
                yield list(map(_SECOND, pending[:cut]))
                del pending[:cut]
            w0 = w1

    def _campaign(self, start: float, name: str, index: int) -> list[Timed]:
        """Run one campaign; drop (and forget) events past the end of the run."""
        recorder = self.recorders[name]
        rng = Random(f"{self.config.seed}/{name}/{index}")
        ctx = AttackContext(rng, self.ids, self.population, recorder, self._claimed)
        ATTACKS[name].run(ctx, start, getattr(self.config, name))
        timed = [(epoch_seconds(e.ts), e) for e in ctx.out]
        late = [e.event_id for t, e in timed if t >= self.end]
        if late:
            recorder.discard(late)
            logger.debug(
                "%s campaign %d: %d events past the end", name, index, len(late)
            )
            timed = [(t, e) for t, e in timed if t < self.end]
        return timed

    def truth(self) -> GroundTruth:
        """Return the ground truth (complete once :meth:`chunks` is exhausted)."""
        return GroundTruth(
            seed=self.config.seed,
            start=at(self.start),
            end=at(self.end),
            attacks={name: rec.freeze() for name, rec in self.recorders.items()},
        )

    def intel(self) -> list[str]:
        """Return the feed: known attack URLs and hashes, plus decoys, sorted."""
        known: set[str] = set()
        for rec in self.recorders.values():
            known.update(rec.urls - rec.unlisted_urls)
            known.update(rec.hashes)
        rng = Random(f"{self.config.seed}/intel")
        posted = {u for rec in self.recorders.values() for u in rec.urls}
        decoys: set[str] = set()
        while len(decoys) < self.config.intel_decoys:
            kind = len(decoys) % 3
            if kind == 0:
                decoy = phishing_url(rng, "paypal" if rng.random() < 0.5 else "apple")
            elif kind == 1:
                decoy = malware_url(rng)
            else:
                decoy = hex_token(rng, 256)
            if decoy not in posted:
                decoys.add(decoy)
        return sorted(known | decoys)
