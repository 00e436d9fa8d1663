"""``trustwatch demo``: simulate a platform under attack and show what was caught.

The demo generates telemetry with attacks mixed in, writes it to files like a
user's own export (two deliberately broken lines included), loads the matching
threat-intel feed, runs the embedded pipeline, and then scores what the
pipeline decided against the simulation's answer key: ``truth.json`` for the
attacks, ``rings.json`` for the rings mixed in (their member accounts, the
late joiners among them, and the events injected for them).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import msgspec
from rich.console import Console
from rich.table import Table

from trustwatch.cli.render import summary_table
from trustwatch.enrichment.geo import BundledGeo
from trustwatch.events.model import Event
from trustwatch.graph.inject import InjectedRing, RingSpec, inject_rings
from trustwatch.runtime.embedded import load_intel, run_embedded
from trustwatch.simulation import (
    GroundTruth,
    SimulationConfig,
    simulate,
    write_simulation,
)
from trustwatch.storage.sqlite import SqliteStore

__all__ = [
    "DEMO_RINGS",
    "Flagged",
    "flagged_entities",
    "run_demo",
    "score_attacks",
    "score_rings",
    "write_ring_key",
]

#: Rings mixed into the demo's telemetry: sign-up bursts through shared
#: proxies, shared files and links, camouflage on popular files.
DEMO_RINGS = (
    RingSpec(members=24, proxies=2, late_joiners=2),
    RingSpec(members=10, proxies=1),
)

#: Two lines a real export might contain: cut short, and a duplicated key.
BROKEN_LINES = (
    b'{"type":"login","event_id":"broken-1","ts":"2026-11-02T00:00:00Z","succ\n',
    b'{"type":"logout","event_id":"broken-2","event_id":"x",'
    b'"ts":"2026-11-02T00:00:00Z"}\n',
)


@dataclass
class Flagged:
    """Entities the pipeline acted on (a decision other than allow), by type."""

    by_type: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    events: set[str] = field(default_factory=set)
    #: The decision taken on each event acted on.
    decisions: dict[str, str] = field(default_factory=dict)

    def has(self, entity_type: str, value: str) -> bool:
        """Return whether the entity was flagged."""
        return value in self.by_type[entity_type]


def flagged_entities(store: SqliteStore) -> Flagged:
    """Collect what the stored verdicts acted on."""
    flagged = Flagged()
    for verdict in store.iter_verdicts():
        if verdict.decision == "allow":
            continue
        flagged.events.add(verdict.event_id)
        flagged.decisions[verdict.event_id] = verdict.decision
        for signal in verdict.signals:
            flagged.by_type[signal.entity_type].add(signal.entity)
            if signal.entity_type == "file":
                flagged.by_type["hash"].add(signal.entity.split(":", 1)[-1])
        for hit in verdict.rules:
            flagged.by_type[hit.target_type].add(hit.target)
        if verdict.account and verdict.event_type == "login":
            flagged.by_type["login_account"].add(verdict.account)
    return flagged


def score_attacks(truth: GroundTruth, flagged: Flagged) -> list[tuple[str, str, str]]:
    """Return one row per attack: what was planted and what was caught."""
    rows = []
    for name, attack in sorted(truth.attacks.items()):
        parts = []
        content = bool(attack.urls or attack.hashes)
        for label, values, kind in (
            ("sources", () if content else attack.ips, "ip"),
            ("accounts", attack.accounts, "account" if content else "login_account"),
            ("URLs", attack.urls, "url"),
            ("unlisted URLs", attack.unlisted_urls, "url"),
            ("hashes", attack.hashes, "hash"),
        ):
            if values:
                hit = sum(flagged.has(kind, v) for v in values)
                parts.append(f"{hit}/{len(values)} {label}")
        events = sum(e in flagged.events for e in attack.event_ids)
        rows.append(
            (name, f"{events}/{len(attack.event_ids)}", ", ".join(parts) or "-")
        )
    return rows


def score_rings(
    rings: Sequence[InjectedRing], flagged: Flagged
) -> list[tuple[str, str, str]]:
    """Return one row per injected ring: its accounts flagged, late joiners too."""
    rows = []
    for ring in rings:
        found = sum(flagged.has("account", m) for m in ring.members)
        parts = [f"{found}/{len(ring.members)} accounts"]
        if ring.late_joiners:
            late = sum(flagged.has("account", m) for m in ring.late_joiners)
            parts.append(f"{late}/{len(ring.late_joiners)} late joiners")
        rows.append((f"ring ({ring.name})", "-", ", ".join(parts)))
    return rows


def write_ring_key(
    rings: Sequence[InjectedRing], event_ids: set[str], path: Path
) -> None:
    """Write the rings' answer key: members, late joiners among them, per ring.

    ``event_ids`` are the events injected for the rings (their sign-ups,
    logins, uploads and shares), listed once for all rings, sorted.
    """
    key = {
        "rings": [
            {
                "name": ring.name,
                "members": sorted(ring.members),
                "late_joiners": sorted(ring.late_joiners),
            }
            for ring in rings
        ],
        "event_ids": sorted(event_ids),
    }
    path.write_bytes(msgspec.json.format(msgspec.json.encode(key), indent=2))


def _by_decision(counts: Counter[str]) -> str:
    """Say how many events each decision took, most common first."""
    return ", ".join(f"{n:,} {decision}" for decision, n in counts.most_common())


def run_demo(
    console: Console,
    out: Path,
    *,
    accounts: int,
    days: float,
    seed: int,
    on: Callable[..., None] | None = None,
) -> None:
    """Simulate, run the pipeline, and print what was caught.

    The store in ``out`` is replaced, so the report scores this run alone.
    """
    out.mkdir(parents=True, exist_ok=True)
    sim = simulate(SimulationConfig(seed=seed, accounts=accounts, days=days))
    events, rings = inject_rings(sim.events, DEMO_RINGS, seed=seed)
    ring_event_ids = {e.event_id for e in events} - {e.event_id for e in sim.events}
    # the injected events are of the platform's own types
    sim = replace(sim, events=cast(list[Event], events))
    paths = write_simulation(sim, out)
    write_ring_key(rings, ring_event_ids, out / "rings.json")
    with paths.events.open("ab") as fh:
        fh.writelines(BROKEN_LINES)
    console.print(
        f"simulated {len(sim.events):,} events from {accounts:,} accounts over "
        f"{days:g} days, with {len(sim.truth.attacks)} attacks and {len(rings)} "
        f"rings mixed in -> {out}"
    )
    db = out / "trustwatch.sqlite"
    for stale in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    total = len(sim.events) + len(BROKEN_LINES)
    with SqliteStore(db) as store:
        intel = load_intel([paths.intel])
        summary = run_embedded(
            [paths.events],
            store,
            intel=intel,
            geo=BundledGeo(),
            on_progress=(lambda done: on(done, total)) if on else None,
        )
        flagged = flagged_entities(store)
    console.print(summary_table(summary, title="Pipeline"))
    table = Table(title="Attacks mixed in, and what was caught", title_justify="left")
    for column in ("attack", "attack events acted on", "entities flagged"):
        table.add_column(column)
    for row in [*score_attacks(sim.truth, flagged), *score_rings(rings, flagged)]:
        table.add_row(*row)
    console.print(table)
    bad = sim.truth.malicious_event_ids() | ring_event_ids
    benign = len(sim.events) - len(bad)
    false = flagged.events - bad
    how = Counter(flagged.decisions[e] for e in false)
    console.print(
        f"benign events acted on: {len(false):,} of {benign:,} "
        f"({len(false) / max(benign, 1):.3%})"
        + (f": {_by_decision(how)}" if how else "")
        + f"; dead letters: {summary.dead_letters} "
        "(two broken lines are appended on purpose)"
    )
    console.print(
        f"answer key: {paths.truth} (attacks), {out / 'rings.json'} (rings)\n"
        f"explore: trustwatch alerts --db {db}\n"
        f"         trustwatch alerts --db {db} explain VERDICT_ID\n"
        f"         trustwatch rings --db {db}\n"
        f"         trustwatch rings --db {db} show RING_ID --picture {out}\n"
        f"         trustwatch dead-letters --db {db}"
    )
