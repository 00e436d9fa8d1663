"""Injected-ring evaluation: rings mixed into simulated telemetry, and found.

Simulated platform telemetry (:mod:`trustwatch.simulation`, its attacks
included) gets lockstep rings of several sizes mixed in
(:func:`trustwatch.graph.inject.inject_rings`: sign-up bursts from shared
proxies, shared files and links, camouflage downloads of popular files, late
joiners). The stream runs through the rings detector
(:class:`~trustwatch.detectors.rings.RingDetector`) as the stream runtime runs
it, and the rings its tracker holds at the end, those at or above the
detector's risk threshold, are scored against the answer key: recall and
precision of ring members, per injected ring and overall.

The same telemetry with no ring injected runs through a fresh detector too:
every ring it forms there is a false cluster (count and sizes), and every
risky one a false alarm.

The same two streams also run through the sweep detectors
(:mod:`trustwatch.detectors.graph_sweeps`): Leiden communities of the account
projection (``communities``) and FRAUDAR dense blocks of accounts x
attributes (``dense_blocks``). Their groups of a final sweep at the end of
each stream, those at or above their risk threshold, are scored the same way,
so the three methods compare on the same telemetry (:class:`MethodScore`).

On request (``methods`` naming ``graph_scores``), a supervised method joins
them: an account scorer (:mod:`trustwatch.graph.account_training`) trained
on *other* telemetry — a simulation of another seed with rings of other
sizes injected (:func:`training_ring_sizes`), ring members labelled abusive
and every other account benign — runs as the ``graph_scores`` detector
(:class:`~trustwatch.detectors.graph_scores.AccountScoreDetector`) over both
streams; its flagged accounts after a final sweep are scored the same way.
Its groups are the connected sets of flagged accounts; an isolated flagged
account counts as a group of one, so every flagged account is counted.

The issue's targets: recall of ring members at least 0.95 at precision at
least 0.99.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from trustwatch.detectors.graph_scores import AccountScoreDetector
from trustwatch.detectors.graph_sweeps import (
    CommunityDetector,
    DenseBlockDetector,
    GraphSweepDetector,
)
from trustwatch.detectors.rings import RingDetector
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.graph.account_training import (
    AccountScorerTraining,
    train_account_scorer,
)
from trustwatch.graph.inject import InjectedRing, RingSpec, inject_rings
from trustwatch.graph.rings import Ring, RingTracker
from trustwatch.simulation import SimulationConfig, simulate

__all__ = [
    "DEFAULT_RING_SIZES",
    "OPTIONAL_RING_METHODS",
    "RING_METHODS",
    "TARGET_PRECISION",
    "TARGET_RECALL",
    "TRAINING_RING_SHARE",
    "TRAINING_SEED_OFFSET",
    "FalseClusters",
    "InjectedRingScore",
    "MethodScore",
    "RingEvaluation",
    "RingSummary",
    "default_ring_specs",
    "evaluate_injected_rings",
    "training_ring_sizes",
]

#: Sizes of the rings injected by default, smallest to largest.
DEFAULT_RING_SIZES: tuple[int, ...] = (8, 12, 20, 30, 50, 80)

#: The ring-finding methods compared: lockstep rings, Leiden communities and
#: FRAUDAR dense blocks.
RING_METHODS: tuple[str, ...] = ("lockstep", "communities", "dense_blocks")

#: Methods evaluated only when named: ``graph_scores`` trains a model first.
OPTIONAL_RING_METHODS: tuple[str, ...] = ("graph_scores",)

#: The rings injected into the telemetry the account scorer trains on are
#: this share of the evaluated rings' sizes (rounded down, 3 at least): other
#: sizes, but about as many ring members among as many accounts. (What grows
#: into a hub depends on that mass: rings of a quarter of the accounts make
#: the popular files their camouflage downloads hubs, rings of a few percent
#: do not, and a model learns which.)
TRAINING_RING_SHARE = 0.75

#: The account scorer's training telemetry is simulated and injected with the
#: evaluation's seed plus this, so it never shares the evaluated telemetry.
TRAINING_SEED_OFFSET = 1000

#: Stream time between the sweep detectors' sweeps in the evaluation (a final
#: sweep at the end of each stream is the one scored).
EVALUATION_SWEEP_INTERVAL = 86_400.0

#: The issue's targets for ring members.
TARGET_RECALL = 0.95
TARGET_PRECISION = 0.99

#: Members and evidence kept per summarised ring (for the report and pictures).
_MAX_SUMMARY_MEMBERS = 60
_MAX_SUMMARY_EVIDENCE = 16


def default_ring_specs(sizes: Sequence[int] = DEFAULT_RING_SIZES) -> list[RingSpec]:
    """Return one ring spec per size, varying proxies and late joiners.

    Ring ``i`` signs up through ``1 + i % 4`` proxies and has ``i % 3`` late
    joiners (accounts that attach a day later), so the sizes also vary in how
    much network evidence ties them.

    Raises
    ------
    ConfigError
        When there is no size, or a size is below 3 (a ring with late joiners
        needs members before them).
    """
    if not sizes:
        raise ConfigError("no ring sizes; hint: give at least one size")
    specs = []
    for index, size in enumerate(sizes):
        if size < 3:
            raise ConfigError(f"ring size {size}; hint: use 3 or more members")
        specs.append(
            RingSpec(
                members=size,
                proxies=1 + index % 4,
                late_joiners=min(index % 3, size - 2),
            )
        )
    return specs


@dataclass(frozen=True, slots=True)
class InjectedRingScore:
    """How well one injected ring was found.

    Attributes
    ----------
    name, size, late_joiners
        The injected ring's name, member count and late joiners.
    found
        Members that ended in a risky ring.
    late_found
        Late joiners among ``found``.
    rings
        Ids of the risky rings holding its members, largest share first.
    recall
        ``found / size``.
    precision
        Share of the accounts in those risky rings that are members of this
        injected ring (1.0 when no ring holds any).
    """

    name: str
    size: int
    late_joiners: int
    found: int
    late_found: int
    rings: tuple[str, ...]
    recall: float
    precision: float

    def to_dict(self) -> dict[str, Any]:
        """Return the score as plain JSON values."""
        return {
            "name": self.name,
            "size": self.size,
            "late_joiners": self.late_joiners,
            "found": self.found,
            "late_found": self.late_found,
            "rings": list(self.rings),
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
        }


@dataclass(frozen=True, slots=True)
class RingSummary:
    """One ring the tracker formed, for the report and its picture.

    Attributes
    ----------
    ring_id, size, risk, reasons
        The ring's id, member count, risk and the reasons for it.
    members
        Member ids, first joined first (at most 60).
    evidence
        Shared attributes with how many links cited each, most cited first
        (at most 16, hubs left out).
    holdings
        For each listed member, the listed evidence it holds.
    injected
        Name of the injected ring most of its members come from, or ``""``.
    """

    ring_id: str
    size: int
    risk: float
    reasons: tuple[str, ...]
    members: tuple[str, ...]
    evidence: tuple[tuple[str, int], ...]
    holdings: dict[str, tuple[str, ...]]
    injected: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON values (holdings left out)."""
        return {
            "ring_id": self.ring_id,
            "size": self.size,
            "risk": round(self.risk, 4),
            "reasons": list(self.reasons),
            "injected": self.injected,
            "members": list(self.members),
            "evidence": [[a, n] for a, n in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class FalseClusters:
    """Rings formed on telemetry with no ring injected.

    Attributes
    ----------
    events, accounts
        Size of the ring-free stream.
    sizes
        Size of every ring formed, largest first.
    risky_sizes
        Size of every ring at or above the risk threshold, largest first.
    flagged_accounts
        Accounts in those risky rings (all false alarms).
    """

    events: int
    accounts: int
    sizes: tuple[int, ...]
    risky_sizes: tuple[int, ...]
    flagged_accounts: int

    def to_dict(self) -> dict[str, Any]:
        """Return the counts as plain JSON values."""
        return {
            "events": self.events,
            "accounts": self.accounts,
            "rings": len(self.sizes),
            "ring_sizes": list(self.sizes),
            "risky_rings": len(self.risky_sizes),
            "risky_ring_sizes": list(self.risky_sizes),
            "flagged_accounts": self.flagged_accounts,
        }


@dataclass(frozen=True, slots=True)
class MethodScore:
    """One ring-finding method on the injected and the ring-free telemetry.

    Attributes
    ----------
    method
        ``"lockstep"``, ``"communities"``, ``"dense_blocks"`` or
        ``"graph_scores"``.
    risk_threshold
        The method's detector's risk threshold (``graph_scores``: the
        model's score threshold).
    truth, flagged, hits
        Ring members injected, accounts in the method's risky groups, both.
    recall, precision
        ``hits / truth`` and ``hits / flagged`` (1.0 when nothing is flagged).
    groups_formed
        Groups (rings, communities, blocks) the method holds at the end.
    per_ring
        One score per injected ring.
    false_clusters
        Groups formed on the ring-free telemetry, and the risky ones.
    seconds
        Wall time of the method on both streams (training included).
    training
        For a trained method: the training telemetry's seed and ring sizes
        and the validation figures (see
        :func:`~trustwatch.graph.account_training.train_account_scorer`).
    """

    method: str
    risk_threshold: float
    truth: int
    flagged: int
    hits: int
    recall: float
    precision: float
    groups_formed: int
    per_ring: tuple[InjectedRingScore, ...]
    false_clusters: FalseClusters
    seconds: float = field(default=0.0, compare=False)
    training: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def meets_targets(self) -> bool:
        """Whether recall and precision reach the issue's targets."""
        return self.recall >= TARGET_RECALL and self.precision >= TARGET_PRECISION

    def to_dict(self) -> dict[str, Any]:
        """Return the score as plain JSON values (``training`` when trained)."""
        extra = {"training": self.training} if self.training else {}
        return {
            "risk_threshold": self.risk_threshold,
            "ring_members": self.truth,
            "flagged": self.flagged,
            "hits": self.hits,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "meets_targets": self.meets_targets,
            "groups_formed": self.groups_formed,
            "per_ring": [score.to_dict() for score in self.per_ring],
            "false_clusters": self.false_clusters.to_dict(),
            "seconds": round(self.seconds, 2),
            **extra,
        }


@dataclass(frozen=True, slots=True)
class RingEvaluation:
    """Outcome of :func:`evaluate_injected_rings`.

    Attributes
    ----------
    accounts, days, seed, risk_threshold
        The run's configuration.
    events, injected_events
        Events in the stream with rings, and how many of them the rings added.
    per_ring
        One score per injected ring.
    truth, flagged, hits
        Ring members injected, accounts in risky rings, and both.
    recall, precision
        Overall ``hits / truth`` and ``hits / flagged`` (1.0 when nothing
        is flagged).
    rings_formed
        Rings of two or more accounts the tracker holds at the end.
    top_rings
        The risky rings, largest first, summarised.
    false_clusters
        The same telemetry with no ring injected.
    seconds
        Wall time of the whole evaluation.
    methods
        Each method compared (:data:`RING_METHODS`), lockstep included.
    """

    accounts: int
    days: float
    seed: int
    risk_threshold: float
    events: int
    injected_events: int
    per_ring: tuple[InjectedRingScore, ...]
    truth: int
    flagged: int
    hits: int
    recall: float
    precision: float
    rings_formed: int
    top_rings: tuple[RingSummary, ...]
    false_clusters: FalseClusters
    seconds: float = field(default=0.0, compare=False)
    methods: tuple[MethodScore, ...] = ()

    @property
    def meets_targets(self) -> bool:
        """Whether recall and precision reach the issue's targets."""
        return self.recall >= TARGET_RECALL and self.precision >= TARGET_PRECISION

    def method(self, name: str) -> MethodScore:
        """Return the score of method ``name``.

        Raises
        ------
        ConfigError
            When the method was not evaluated.
        """
        for score in self.methods:
            if score.method == name:
                return score
        known = ", ".join(m.method for m in self.methods) or "none"
        raise ConfigError(f"method {name!r} was not evaluated; evaluated: {known}")

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as plain JSON values."""
        return {
            "config": {
                "accounts": self.accounts,
                "days": self.days,
                "seed": self.seed,
                "risk_threshold": self.risk_threshold,
            },
            "events": self.events,
            "injected_events": self.injected_events,
            "overall": {
                "ring_members": self.truth,
                "flagged": self.flagged,
                "hits": self.hits,
                "recall": round(self.recall, 4),
                "precision": round(self.precision, 4),
                "target_recall": TARGET_RECALL,
                "target_precision": TARGET_PRECISION,
                "meets_targets": self.meets_targets,
            },
            "rings_formed": self.rings_formed,
            "per_ring": [score.to_dict() for score in self.per_ring],
            "top_rings": [ring.to_dict() for ring in self.top_rings],
            "false_clusters": self.false_clusters.to_dict(),
            "methods": {m.method: m.to_dict() for m in self.methods},
            "seconds": round(self.seconds, 2),
        }

    def render(self, pictures: Sequence[tuple[str, str]] = ()) -> str:
        """Return the evaluation as Markdown.

        Parameters
        ----------
        pictures
            ``(ring_id, file name)`` of each ring picture written beside the
            report, linked under the top rings.
        """
        verdict = "meets" if self.meets_targets else "misses"
        lines = [
            "## Injected rings in simulated telemetry",
            "",
            f"{self.accounts:,} accounts, {self.days:g} days, seed {self.seed}: "
            f"{self.events:,} events, {self.injected_events:,} of them from "
            f"{len(self.per_ring)} injected rings; the rings detector's risky "
            f"rings (risk >= {self.risk_threshold:g}) against the answer key.",
            "",
            f"Overall: recall **{self.recall:.3f}** ({self.hits} of {self.truth} "
            f"ring members), precision **{self.precision:.3f}** ({self.hits} of "
            f"{self.flagged} flagged accounts); {verdict} the targets (recall >= "
            f"{TARGET_RECALL}, precision >= {TARGET_PRECISION}).",
            "",
            "| ring | members | late joiners | found | late found | recall | "
            "precision | rings |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for score in self.per_ring:
            lines.append(
                f"| {score.name} | {score.size} | {score.late_joiners} | "
                f"{score.found} | {score.late_found} | {score.recall:.3f} | "
                f"{score.precision:.3f} | {len(score.rings)} |"
            )
        fc = self.false_clusters
        lines += [
            "",
            "### False clusters (the same telemetry, no ring injected)",
            "",
            f"{fc.events:,} events, {fc.accounts:,} accounts: "
            f"rings formed: {len(fc.sizes)} (sizes {_sizes(fc.sizes)}), "
            f"{len(fc.risky_sizes)} risky (sizes {_sizes(fc.risky_sizes)}), "
            f"accounts falsely flagged: {fc.flagged_accounts}.",
            "",
            *self._render_methods(),
            "### Top rings",
            "",
        ]
        if not self.top_rings:
            lines.append("No risky ring.")
        linked = dict(pictures)
        for ring in self.top_rings:
            source = f" (injected: {ring.injected})" if ring.injected else ""
            lines.append(
                f"- ring `{ring.ring_id}`{source}: {ring.size} accounts, "
                f"risk {ring.risk:.2f}; " + "; ".join(ring.reasons[1:])
            )
            if ring.ring_id in linked:
                lines += ["", f"  ![ring {ring.ring_id}]({linked[ring.ring_id]})", ""]
        return "\n".join(lines).rstrip() + "\n"

    def _render_methods(self) -> list[str]:
        if not self.methods:
            return []
        lines = [
            "### Methods compared (the same telemetry, with and without rings)",
            "",
            "| method | risk threshold | recall | precision | flagged | groups | "
            "false groups | risky false groups | falsely flagged | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in self.methods:
            fc = m.false_clusters
            lines.append(
                f"| {m.method} | {m.risk_threshold:g} | {m.recall:.3f} | "
                f"{m.precision:.3f} | {m.flagged} | {m.groups_formed} | "
                f"{len(fc.sizes)} | {len(fc.risky_sizes)} | {fc.flagged_accounts} | "
                f"{m.seconds:.1f} |"
            )
        lines += [
            "",
            "Recall per injected ring: "
            + "; ".join(
                f"{m.method} "
                + ", ".join(f"{s.name} {s.recall:.2f}" for s in m.per_ring)
                for m in self.methods
            )
            + ".",
            "",
        ]
        return lines


def _sizes(sizes: Sequence[int]) -> str:
    if not sizes:
        return "none"
    shown = ", ".join(str(s) for s in sizes[:10])
    return shown + (f", ... ({len(sizes) - 10} more)" if len(sizes) > 10 else "")


def _run_detector(events: Sequence[EventBase]) -> RingDetector:
    detector = RingDetector()
    for event in events:
        detector.process_one(event, EventContext(event))
    return detector


def _run_sweeps(
    detector: GraphSweepDetector, events: Sequence[EventBase]
) -> list[Ring]:
    """Run a sweep detector over ``events``, sweep at the end, return its groups.

    Groups come back as :class:`~trustwatch.graph.Ring` values (id, members,
    size, evidence) so that they score like the lockstep rings.
    """
    for event in events:
        detector.process_one(event, EventContext(event))
    if events:
        detector.sweep(events[-1].ts.timestamp())
    return [
        Ring(
            ring_id=g.group_id,
            founded=g.found,
            members=dict.fromkeys(g.members, g.found),
            size=g.size,
            evidence=dict(g.evidence),
        )
        for g in detector.groups()
    ]


def training_ring_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """Return the ring sizes the account scorer trains on for evaluated ``sizes``.

    Each is :data:`TRAINING_RING_SHARE` of an evaluated size, rounded down,
    at least 3; one that equals an evaluated size is one smaller.
    """
    evaluated = set(sizes)
    trained = []
    for size in sizes:
        scaled = max(3, int(size * TRAINING_RING_SHARE))
        trained.append(scaled - 1 if scaled in evaluated and scaled > 3 else scaled)
    return tuple(trained)


def _train_scorer(
    accounts: int, days: float, seed: int, sizes: Sequence[int]
) -> AccountScorerTraining:
    """Train an account scorer on telemetry of another seed with its own rings."""
    telemetry = simulate(SimulationConfig(accounts=accounts, days=days, seed=seed))
    events, key = inject_rings(telemetry.events, default_ring_specs(sizes), seed=seed)
    labels = {e.account: False for e in events if e.account}
    labels.update((m, True) for ring in key for m in ring.members)
    return train_account_scorer(events, labels, seed=seed)


def _run_scored(
    detector: AccountScoreDetector, events: Sequence[EventBase]
) -> list[Ring]:
    """Run the account scorer over ``events``, sweep at the end, return groups.

    Every flagged account is in one group: its connected set of flagged
    accounts, or a group of one.
    """
    for event in events:
        detector.process_one(event, EventContext(event))
    if not events:
        return []
    t = events[-1].ts.timestamp()
    detector.sweep(t)
    grouped: set[str] = set()
    found = []
    for group_id, members in detector.groups():
        grouped.update(members)
        found.append(
            Ring(
                ring_id=group_id,
                founded=t,
                members=dict.fromkeys(members, t),
                size=len(members),
                evidence={},
            )
        )
    for account in detector.flagged():
        if account not in grouped:
            found.append(
                Ring(
                    ring_id=f"scored-{account}",
                    founded=t,
                    members={account: t},
                    size=1,
                    evidence={},
                )
            )
    return found


def _graph_scores(
    events: Sequence[EventBase],
    benign: Sequence[EventBase],
    key: Sequence[InjectedRing],
    config: tuple[int, float, int, tuple[int, ...]],
    sweep_interval: float,
) -> MethodScore:
    """Train on other telemetry, then score both streams with ``graph_scores``."""
    started = time.perf_counter()
    accounts, days, seed, sizes = config
    train_seed = seed + TRAINING_SEED_OFFSET
    train_sizes = training_ring_sizes(sizes)
    trained = _train_scorer(accounts, days, train_seed, train_sizes)
    with tempfile.TemporaryDirectory(prefix="trustwatch-rings-") as folder:
        path = trained.model.save(Path(folder) / "accounts.model")
        detector = AccountScoreDetector(str(path), sweep_interval=sweep_interval)
        clean_detector = AccountScoreDetector(str(path), sweep_interval=sweep_interval)
    found = _run_scored(detector, events)
    clean = _run_scored(clean_detector, benign)
    figures = trained.figures
    score = _method_score(
        "graph_scores",
        detector.threshold,
        (found, found),
        (clean, clean),
        key,
        benign,
        time.perf_counter() - started,
    )
    return replace(
        score,
        training={
            "seed": train_seed,
            "ring_sizes": list(train_sizes),
            "accounts": figures["accounts"],
            "train": figures["train"],
            "validation": {
                k: round(v, 4) if isinstance(v, float) else v
                for k, v in figures["validation"].items()
            },
            "threshold": round(figures["threshold"], 6),
            "threshold_rule": figures["threshold_rule"],
            "trees_per_model": figures["trees_per_model"],
        },
    )


def _sweep_detector(method: str, sweep_interval: float) -> GraphSweepDetector:
    if method == "communities":
        return CommunityDetector(sweep_interval=sweep_interval)
    return DenseBlockDetector(sweep_interval=sweep_interval)


def _method_score(
    method: str,
    threshold: float,
    found: tuple[list[Ring], list[Ring]],
    clean: tuple[list[Ring], list[Ring]],
    key: Sequence[InjectedRing],
    benign: Sequence[EventBase],
    seconds: float,
) -> MethodScore:
    """Score one method from its (all, risky) groups on both streams."""
    groups, risky = found
    clean_groups, clean_risky = clean
    owner = {m: ring.name for ring in key for m in ring.members}
    flagged = {m for ring in risky for m in ring.members}
    hits = sum(1 for m in flagged if m in owner)
    return MethodScore(
        method=method,
        risk_threshold=threshold,
        truth=len(owner),
        flagged=len(flagged),
        hits=hits,
        recall=hits / len(owner),
        precision=hits / len(flagged) if flagged else 0.0,
        groups_formed=len(groups),
        per_ring=tuple(_score_ring(ring, risky, owner) for ring in key),
        false_clusters=FalseClusters(
            events=len(benign),
            accounts=len({e.account for e in benign if e.account}),
            sizes=tuple(sorted((r.size for r in clean_groups), reverse=True)),
            risky_sizes=tuple(sorted((r.size for r in clean_risky), reverse=True)),
            flagged_accounts=len({m for r in clean_risky for m in r.members}),
        ),
        seconds=seconds,
    )


def _risky(tracker: RingTracker, threshold: float) -> list[Ring]:
    return [r for r in tracker.rings() if tracker.risk(r).score >= threshold]


def _summary(tracker: RingTracker, ring: Ring, owner: dict[str, str]) -> RingSummary:
    risk = tracker.risk(ring)
    live = tracker.live_evidence(ring)
    evidence = sorted(live.items(), key=lambda kv: (-kv[1], kv[0]))
    evidence = evidence[:_MAX_SUMMARY_EVIDENCE]
    listed = {attribute for attribute, _ in evidence}
    members = tuple(ring.members)[:_MAX_SUMMARY_MEMBERS]
    holdings = {
        member: tuple(a for a in tracker.graph.attributes(member) if a in listed)
        for member in members
    }
    votes: dict[str, int] = {}
    for member in ring.members:
        name = owner.get(member)
        if name:
            votes[name] = votes.get(name, 0) + 1
    injected = max(sorted(votes), key=lambda n: votes[n]) if votes else ""
    return RingSummary(
        ring_id=ring.ring_id,
        size=ring.size,
        risk=risk.score,
        reasons=risk.reasons,
        members=members,
        evidence=tuple(evidence),
        holdings=holdings,
        injected=injected,
    )


def _score_ring(
    injected: InjectedRing, rings: Sequence[Ring], owner: dict[str, str]
) -> InjectedRingScore:
    members = set(injected.members)
    shares = [(len(members & set(r.members)), r) for r in rings]
    touched = sorted(
        [(n, r) for n, r in shares if n], key=lambda nr: (-nr[0], nr[1].ring_id)
    )
    found_accounts = {m for _, r in touched for m in r.members if m in members}
    in_rings = sum(r.size for _, r in touched)
    own = sum(1 for _, r in touched for m in r.members if owner.get(m) == injected.name)
    return InjectedRingScore(
        name=injected.name,
        size=len(members),
        late_joiners=len(injected.late_joiners),
        found=len(found_accounts),
        late_found=len(found_accounts & set(injected.late_joiners)),
        rings=tuple(r.ring_id for _, r in touched),
        recall=len(found_accounts) / len(members),
        precision=own / in_rings if in_rings else 0.0,
    )


def evaluate_injected_rings(
    accounts: int = 5000,
    days: float = 3.0,
    seed: int = 7,
    sizes: Sequence[int] = DEFAULT_RING_SIZES,
    top: int = 6,
    methods: Sequence[str] = RING_METHODS,
    sweep_interval: float = EVALUATION_SWEEP_INTERVAL,
) -> RingEvaluation:
    """Inject rings into simulated telemetry and measure the rings detector.

    Parameters
    ----------
    accounts, days, seed
        The simulation (:class:`~trustwatch.simulation.SimulationConfig`,
        its attacks included); ``seed`` also seeds the injection.
    sizes
        Members of each injected ring (see :func:`default_ring_specs`).
    top
        Risky rings summarised for the report and its pictures.
    methods
        Methods compared beside the lockstep rings (which always run), from
        :data:`RING_METHODS` and :data:`OPTIONAL_RING_METHODS`; ``graph_scores``
        trains its model on telemetry of seed ``seed +``
        :data:`TRAINING_SEED_OFFSET` with rings of :func:`training_ring_sizes`.
    sweep_interval
        Stream time between the sweep detectors' sweeps; the groups of a
        final sweep at each stream's end are scored.

    Returns
    -------
    RingEvaluation
        Recall and precision of ring members, per ring and overall, and the
        false clusters on the same telemetry with no ring.

    Raises
    ------
    ConfigError
        When the configuration is out of range.
    """
    if accounts < 10:
        raise ConfigError(f"accounts={accounts}; hint: simulate at least 10")
    if not 0 < days <= 60:
        raise ConfigError(f"days={days}; hint: use more than 0 and at most 60")
    if top < 0:
        raise ConfigError(f"top={top}; hint: use 0 or more")
    known = (*RING_METHODS, *OPTIONAL_RING_METHODS)
    unknown = sorted(set(methods) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown ring methods {unknown}; hint: use {', '.join(known)}"
        )
    if not sweep_interval > 0:
        raise ConfigError(f"sweep_interval={sweep_interval}; hint: use > 0")
    # The rings start one hour apart and late joiners come a day after.
    if days * 24 < len(sizes) + 2 * 3 + 24:
        raise ConfigError(
            f"days={days} is too short for {len(sizes)} rings; hint: use at "
            f"least {(len(sizes) + 30) / 24:.2f} days"
        )
    members = sum(sizes)
    if accounts < 2 * members:
        # with more ring members than platform accounts, precision and the
        # false clusters say nothing about a platform
        raise ConfigError(
            f"accounts={accounts} for {members} ring members; hint: simulate at "
            f"least {2 * members} accounts (twice the ring members)"
        )
    specs = default_ring_specs(sizes)
    started = time.perf_counter()
    benign = simulate(SimulationConfig(accounts=accounts, days=days, seed=seed)).events
    if not benign:
        raise ConfigError("the simulation made no events; hint: more accounts or days")
    events, key = inject_rings(benign, specs, seed=seed)

    lockstep_started = time.perf_counter()
    detector = _run_detector(events)
    tracker = detector.tracker
    threshold = detector.risk_threshold
    risky = _risky(tracker, threshold)
    owner = {m: ring.name for ring in key for m in ring.members}
    flagged = {m for ring in risky for m in ring.members}
    hits = sum(1 for m in flagged if m in owner)

    clean_detector = _run_detector(benign)
    clean_tracker = clean_detector.tracker
    clean_rings = clean_tracker.rings()
    clean_risky = _risky(clean_tracker, threshold)
    false_clusters = FalseClusters(
        events=len(benign),
        accounts=len({e.account for e in benign if e.account}),
        sizes=tuple(r.size for r in clean_rings),
        risky_sizes=tuple(r.size for r in clean_risky),
        flagged_accounts=len({m for r in clean_risky for m in r.members}),
    )
    scores = [
        _method_score(
            "lockstep",
            threshold,
            (tracker.rings(), risky),
            (clean_rings, clean_risky),
            key,
            benign,
            time.perf_counter() - lockstep_started,
        )
    ]
    for method in RING_METHODS[1:]:
        if method not in methods:
            continue
        method_started = time.perf_counter()
        sweeper = _sweep_detector(method, sweep_interval)
        groups = _run_sweeps(sweeper, events)
        clean_sweeper = _sweep_detector(method, sweep_interval)
        clean_groups = _run_sweeps(clean_sweeper, benign)
        bar = sweeper.risk_threshold
        scores.append(
            _method_score(
                method,
                bar,
                (
                    groups,
                    [
                        g
                        for g, s in zip(groups, sweeper.groups(), strict=True)
                        if s.risk >= bar
                    ],
                ),
                (
                    clean_groups,
                    [
                        g
                        for g, s in zip(
                            clean_groups, clean_sweeper.groups(), strict=True
                        )
                        if s.risk >= bar
                    ],
                ),
                key,
                benign,
                time.perf_counter() - method_started,
            )
        )
    if "graph_scores" in methods:
        scores.append(
            _graph_scores(
                events,
                benign,
                key,
                (accounts, days, seed, tuple(sizes)),
                sweep_interval,
            )
        )
    return RingEvaluation(
        accounts=accounts,
        days=days,
        seed=seed,
        risk_threshold=threshold,
        events=len(events),
        injected_events=len(events) - len(benign),
        per_ring=tuple(_score_ring(ring, risky, owner) for ring in key),
        truth=len(owner),
        flagged=len(flagged),
        hits=hits,
        recall=hits / len(owner),
        precision=hits / len(flagged) if flagged else 0.0,
        rings_formed=len(tracker.rings()),
        top_rings=tuple(_summary(tracker, r, owner) for r in risky[:top]),
        false_clusters=false_clusters,
        seconds=time.perf_counter() - started,
        methods=tuple(scores),
    )
