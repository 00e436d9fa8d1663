"""Lockstep rings injected into simulated benign telemetry, found and scored."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, Login, UrlPosted
from trustwatch.graph import EntityGraph, RingSnapshot, RingTracker
from trustwatch.graph.inject import InjectedRing, RingSpec, inject_rings
from trustwatch.simulation import SimulationConfig, simulate

SPECS = (
    RingSpec(members=30),
    RingSpec(members=12, proxies=2, files=2, urls=1),
    RingSpec(members=60, proxies=8, late_joiners=5),
    RingSpec(members=8, proxies=1, files=1, urls=1, camouflage=6),
)


@pytest.fixture(scope="module")
def benign() -> list[EventBase]:
    return list(simulate(SimulationConfig(accounts=1500, days=2, attacks=())).events)


@pytest.fixture(scope="module")
def injected(
    benign: list[EventBase],
) -> tuple[list[EventBase], list[InjectedRing], RingTracker]:
    events, key = inject_rings(benign, SPECS)
    tracker = RingTracker()
    for event in events:
        tracker.add_event(event)
    return events, key, tracker


def test_graph_rings_found_with_high_precision_and_recall(injected) -> None:
    _, key, tracker = injected
    truth = {m for ring in key for m in ring.members}
    flagged = {
        m
        for ring in tracker.rings()
        if tracker.risk(ring).score >= 0.6
        for m in ring.members
    }
    true_positives = len(flagged & truth)
    assert true_positives / len(flagged) >= 0.99
    assert true_positives / len(truth) >= 0.95
    # each injected ring is one ring, not split and not merged with another
    for ring in key:
        found = {tracker.ring_of(m).ring_id for m in ring.members}  # type: ignore[union-attr]
        assert len(found) == 1, f"{ring.name} split into {len(found)} rings"
    assert len({tracker.ring_of(r.members[0]).ring_id for r in key}) == len(key)  # type: ignore[union-attr]


def test_graph_rings_carry_evidence_and_reasons(injected) -> None:
    _, key, tracker = injected
    ring = tracker.ring_of(key[0].members[0])
    assert ring is not None and ring.size == 30
    kinds = ring.evidence_by_kind()
    assert kinds.get("file") == 3 and kinds.get("url") == 2
    assert "net" in kinds and "email" in kinds
    risk = tracker.risk(ring)
    assert risk.score > 0.9
    assert risk.reasons[0] == "30 accounts acting in lockstep"
    assert any("uploaded file hashes" in r for r in risk.reasons)


def test_graph_late_joiners_attach_to_the_known_ring(injected) -> None:
    _, key, tracker = injected
    late = key[2]
    ring_ids = {tracker.ring_of(m).ring_id for m in late.members}  # type: ignore[union-attr]
    assert len(ring_ids) == 1
    ring = tracker.ring(ring_ids.pop())
    assert ring is not None
    founders = min(ring.members.values())
    for account in late.late_joiners:
        assert ring.members[account] - founders > 20 * 3600


def test_graph_benign_telemetry_makes_no_risky_rings(benign) -> None:
    tracker = RingTracker()
    for event in benign:
        tracker.add_event(event)
    risky = [r for r in tracker.rings() if tracker.risk(r).score >= 0.6]
    assert risky == []
    assert all(r.size <= 3 for r in tracker.rings())


def test_graph_ring_ids_are_stable(benign) -> None:
    events, _ = inject_rings(benign[:3000], SPECS[:2], seed=5)
    ids = []
    for _ in range(2):
        tracker = RingTracker()
        for event in events:
            tracker.add_event(event)
        ids.append(sorted(r.ring_id for r in tracker.rings(min_size=5)))
    assert ids[0] == ids[1] and len(ids[0]) == 2


def _nat_and_popular_url(hub_size: int) -> RingTracker:
    """250 accounts behind one carrier NAT and one browser, all posting one
    popular URL within minutes: what they share is hubs only."""
    t0 = datetime(2026, 11, 2, 9, tzinfo=UTC)
    tracker = RingTracker(EntityGraph(hub_size=hub_size, max_pairs=2_000_000))
    for i in range(250):
        ts = t0 + timedelta(seconds=i)
        common = {"account": f"user{i}", "ip": "100.64.0.1", "user_agent": "UA"}
        tracker.add_event(Login(event_id=f"l{i}", ts=ts, success=True, **common))
        tracker.add_event(
            UrlPosted(
                event_id=f"p{i}", ts=ts, url="https://popular.example/clip", **common
            )
        )
    return tracker


def test_graph_hubs_do_not_glue_the_platform_together() -> None:
    bounded = _nat_and_popular_url(hub_size=100)
    # the first accounts link before the address and URL turn into hubs; after
    # that nobody joins, and a ring tied only by hubs carries no risk
    assert max(r.size for r in bounded.rings()) <= 101
    assert all(bounded.risk(r).score == 0.0 for r in bounded.rings())
    assert all(bounded.live_evidence(r) == {} for r in bounded.rings())
    # the same stream without a hub bound merges everybody: the bound matters
    unbounded = _nat_and_popular_url(hub_size=100_000)
    assert max(r.size for r in unbounded.rings()) == 250
    assert max(unbounded.risk(r).score for r in unbounded.rings()) > 0.6


def test_graph_ring_state_round_trips_mid_stream(benign) -> None:
    events, _ = inject_rings(benign[:4000], SPECS[:1], seed=3)
    half = len(events) // 2
    straight = RingTracker()
    for event in events:
        straight.add_event(event)
    first = RingTracker()
    for event in events[:half]:
        first.add_event(event)
    resumed = RingTracker()
    resumed.set_state(json.loads(json.dumps(first.get_state())))
    for event in events[half:]:
        resumed.add_event(event)
    assert resumed.get_state() == straight.get_state()
    assert [r.ring_id for r in resumed.rings()] == [r.ring_id for r in straight.rings()]


def test_graph_rings_state_is_bounded(benign) -> None:
    events, _ = inject_rings(benign, SPECS, seed=9)
    tracker = RingTracker(
        EntityGraph(max_accounts=300, max_attributes=500, max_pairs=400),
        max_rings=2,
        max_members=10,
    )
    for event in events:
        tracker.add_event(event)
    assert len(tracker.rings()) <= 2
    assert all(len(r.members) <= 10 for r in tracker.rings())
    sizes = tracker.graph.sizes()
    assert sizes["accounts"] <= 300 and sizes["pairs"] <= 400
    assert len(tracker.get_state()["ring_of"]) <= 300


@pytest.mark.parametrize(
    "params",
    [{"pair_threshold": 0}, {"min_groups": 0}, {"min_groups": 9}, {"min_members": 1}],
)
def test_graph_ring_tracker_rejects_bad_parameters(params) -> None:
    with pytest.raises(ConfigError):
        RingTracker(**params)


def test_graph_injection_rejects_bad_specs() -> None:
    with pytest.raises(ConfigError):
        RingSpec(members=1)
    with pytest.raises(ConfigError):
        RingSpec(members=5, late_joiners=5)
    with pytest.raises(ConfigError):
        inject_rings([], [RingSpec()])


def test_graph_ring_snapshot_lists_members_evidence_and_holdings(injected) -> None:
    _, key, tracker = injected
    ring = tracker.ring_of(key[0].members[0])
    assert ring is not None
    snapshot = tracker.snapshot(ring, max_members=10, max_holdings=4, max_evidence=5)
    assert snapshot.ring_id == ring.ring_id and snapshot.size == ring.size
    assert snapshot.members == tuple(ring.members)[:10]
    assert len(snapshot.evidence) == 5
    counts = [n for _, n in snapshot.evidence]
    assert counts == sorted(counts, reverse=True)
    assert list(snapshot.holdings) == list(snapshot.members[:4])
    listed = {attribute for attribute, _ in snapshot.evidence}
    assert all(set(held) <= listed for held in snapshot.holdings.values())
    assert any(snapshot.holdings.values())
    assert snapshot.risk == tracker.risk(ring).score
    assert snapshot.founded <= snapshot.updated
    restored = RingSnapshot.from_json(json.loads(json.dumps(snapshot.to_json())))
    assert restored == snapshot
