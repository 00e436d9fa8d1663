"""The rings detector: ring members and new accounts attaching to known rings."""

from __future__ import annotations

from datetime import timedelta

import pytest

from trustwatch.detectors.base import Signal
from trustwatch.detectors.registry import available
from trustwatch.detectors.rings import RingDetector
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, Login
from trustwatch.graph.inject import InjectedRing, RingSpec, inject_rings
from trustwatch.simulation import SimulationConfig, simulate
from trustwatch.testing import check_detector

SPECS = (
    RingSpec(members=25, late_joiners=4),
    RingSpec(members=10, proxies=2, files=2, urls=1, camouflage=5),
)


@pytest.fixture(scope="module")
def stream() -> tuple[list[EventBase], list[EventBase], list[InjectedRing]]:
    benign = list(simulate(SimulationConfig(accounts=800, days=2, attacks=())).events)
    events, key = inject_rings(benign, SPECS, seed=21)
    return benign, events, key


@pytest.fixture(scope="module")
def signals(stream) -> list[Signal]:
    return RingDetector().process(stream[1])


def test_rings_detector_is_registered_and_conforms(stream) -> None:
    assert available()["rings"] is RingDetector
    check_detector(lambda: RingDetector(min_members=2, risk_threshold=0.3))
    # on a stream with a ring in it, so that signals and state are exercised
    small, _ = inject_rings(stream[0][:600], (RingSpec(members=10),), seed=2)
    assert RingDetector().process(small), "the ring should raise signals"
    check_detector(RingDetector, small)


def test_rings_detector_flags_ring_members_only(stream, signals) -> None:
    _, _, key = stream
    truth = {m for ring in key for m in ring.members}
    flagged = {s.entity for s in signals}
    assert len(flagged & truth) / len(truth) >= 0.95
    assert flagged <= truth
    assert {s.kind for s in signals} == {"ring_member", "ring_attach"}
    assert all(s.entity_type == "account" and s.score >= 0.6 for s in signals)


def test_rings_detector_signal_names_the_ring_and_its_evidence(stream, signals) -> None:
    _, _, key = stream
    first = next(
        s for s in signals if s.kind == "ring_member" and s.entity in key[0].members
    )
    member = first.entity
    assert first.evidence["ring_id"].startswith("ring-")
    assert first.evidence["ring_size"] >= 5
    assert first.reasons[0] == f"member of ring {first.evidence['ring_id']}"
    assert any("lockstep" in r for r in first.reasons)
    # the sign-up burst founds the ring; the shared uploads add to its evidence
    last = [s for s in signals if s.entity == member][-1]
    assert last.evidence["evidence_by_kind"].get("file", 0) == 3
    assert any("uploaded file hashes" in r for r in last.reasons)
    # every member of one injected ring is told the same ring id
    ids = {s.evidence["ring_id"] for s in signals if s.entity in key[0].members}
    assert len(ids) == 1


def test_rings_detector_late_new_accounts_inherit_the_ring_risk(
    stream, signals
) -> None:
    _, _, key = stream
    late = set(key[0].late_joiners)
    attach = [s for s in signals if s.kind == "ring_attach" and s.entity in late]
    assert {s.entity for s in attach} == late
    assert all(s.reasons[0].startswith("new account attached to ring") for s in attach)
    ring_id = next(s.evidence["ring_id"] for s in signals if s.entity in key[0].members)
    assert {s.evidence["ring_id"] for s in attach} == {ring_id}


def test_rings_detector_benign_telemetry_raises_nothing(stream) -> None:
    benign, _, _ = stream
    assert RingDetector().process(benign) == []


def test_rings_detector_flags_later_logins_of_members(stream) -> None:
    _, events, key = stream
    detector = RingDetector()
    detector.process(events)
    member = key[1].members[0]
    login = Login(
        event_id="later-login",
        ts=events[-1].ts + timedelta(minutes=5),
        account=member,
        ip="192.0.2.44",
        success=True,
    )
    (signal,) = detector.process([login])
    assert signal.kind == "ring_member" and signal.entity == member
    quiet = RingDetector(every_event=False)
    quiet.process(events)
    assert quiet.process([login]) == []


@pytest.mark.parametrize(
    "params",
    [
        {"risk_threshold": 0.0},
        {"risk_threshold": 1.5},
        {"new_account_age": -1},
        {"hub_size": 1},
        {"min_groups": 0},
    ],
)
def test_rings_detector_rejects_bad_parameters(params) -> None:
    with pytest.raises(ConfigError):
        RingDetector(**params)


def test_rings_detector_snapshots_only_its_risky_rings(stream) -> None:
    benign, events, key = stream
    detector = RingDetector()
    assert detector.ring_snapshots() == []
    detector.process(events)
    snapshots = detector.ring_snapshots()
    assert len(snapshots) == len(key)
    for snapshot, ring in zip(snapshots, key, strict=True):
        assert snapshot.method == "lockstep" and snapshot.risk >= 0.6
        assert set(snapshot.members) <= set(ring.members)
    risks = [s.risk for s in snapshots]
    assert risks == sorted(risks, reverse=True)
    quiet = RingDetector()
    quiet.process(benign)
    assert quiet.ring_snapshots() == []
