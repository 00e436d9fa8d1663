"""Sweep detectors: Leiden communities and FRAUDAR dense blocks as stream detectors."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from trustwatch.detectors import available, create, known_signal_kinds
from trustwatch.detectors.base import Signal
from trustwatch.detectors.graph_sweeps import (
    CommunityDetector,
    DenseBlockDetector,
    GraphSweepDetector,
)
from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    AccountCreated,
    EventBase,
    FileDownloaded,
    FileUploaded,
    Login,
    UrlPosted,
)
from trustwatch.features.context import EventContext
from trustwatch.testing import check_detector

START = datetime(2026, 3, 2, tzinfo=UTC)
RING = tuple(f"ring{m:02d}" for m in range(12))
POPULAR = tuple(f"popular-{p}" for p in range(3))


def _stream(seed: int = 3, late: int = 0) -> list[EventBase]:
    """Benign users, and a ring of 12 on two proxies sharing files and links.

    Ring members also download all three popular files, each of which a
    third of the users download (camouflage). With ``late``, that many
    more ring accounts join on day 2.
    """
    rng = random.Random(seed)
    events: list[EventBase] = []
    n = 0

    def eid() -> str:
        nonlocal n
        n += 1
        return f"ev-{n}"

    for u in range(60):
        user, ip = f"user{u:02d}", f"203.0.{u // 50}.{u % 50 + 1}"
        for _ in range(6):
            ts = START + timedelta(minutes=rng.uniform(0, 2 * 24 * 60))
            events.append(
                Login(event_id=eid(), ts=ts, account=user, ip=ip, success=True)
            )
            events.append(
                FileDownloaded(
                    event_id=eid(),
                    ts=ts + timedelta(seconds=5),
                    account=user,
                    ip=ip,
                    file_id=POPULAR[u % len(POPULAR)],
                )
            )
    members = list(RING) + [f"late{m}" for m in range(late)]
    files = [rng.randbytes(32).hex() for _ in range(3)]
    for m, account in enumerate(members):
        base = START + timedelta(hours=2, days=1 if account.startswith("late") else 0)
        ip = f"198.18.7.{10 + m % 2}"

        def at(burst: int, base: datetime = base) -> datetime:
            return base + timedelta(hours=2 * burst, minutes=rng.uniform(0, 30))

        events.append(
            AccountCreated(
                event_id=eid(),
                ts=at(0),
                account=account,
                ip=ip,
                email=f"qzx{rng.randrange(1000, 9999)}@mail.example",
                device_id=f"dev-{account}",
            )
        )
        for i, sha in enumerate(files):
            events.append(
                FileUploaded(
                    event_id=eid(),
                    ts=at(1 + i),
                    account=account,
                    ip=ip,
                    file_id=f"f-{account}-{i}",
                    sha256=sha,
                )
            )
        events.append(
            UrlPosted(
                event_id=eid(),
                ts=at(2),
                account=account,
                ip=ip,
                url="https://qzx-drop.example/d/1",
            )
        )
        for p in POPULAR:
            events.append(
                FileDownloaded(
                    event_id=eid(), ts=at(3), account=account, ip=ip, file_id=p
                )
            )
    return sorted(events, key=lambda e: e.ts)


def _run(detector: GraphSweepDetector, events: list[EventBase]) -> list[Signal]:
    signals: list[Signal] = []
    for event in events:
        signals.extend(detector.process_one(event, EventContext(event)))
    return signals


DETECTORS = {
    "communities": lambda: CommunityDetector(sweep_interval=1800.0),
    "dense_blocks": lambda: DenseBlockDetector(sweep_interval=1800.0),
}


def test_sweep_detectors_are_registered_with_their_kinds() -> None:
    assert available()["communities"] is CommunityDetector
    assert available()["dense_blocks"] is DenseBlockDetector
    assert {"ring_community", "ring_dense_block"} <= known_signal_kinds()
    assert isinstance(create("communities", resolution=2.0), CommunityDetector)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_planted_ring_is_found_and_only_the_ring(name: str) -> None:
    detector = DETECTORS[name]()
    signals = _run(detector, _stream())
    flagged = {s.entity for s in signals}
    assert flagged == set(RING)
    risky = detector.risky_groups()
    assert [set(g.members) for g in risky] == [set(RING)]
    assert all(s.kind == detector.signal_kind for s in signals)
    assert all(s.entity_type == "account" and s.score >= 0.6 for s in signals)


def test_dense_blocks_see_through_camouflage() -> None:
    """The ring's edges to the popular files weigh little: they stay out."""
    detector = DenseBlockDetector(sweep_interval=1800.0)
    _run(detector, _stream())
    (group,) = detector.risky_groups()
    assert set(group.members) == set(RING)
    # the popular files are held by the ring, but are not what ties it
    assert not any(a.startswith("target:popular") for a in list(group.evidence)[:4])
    assert any(a.startswith("file:") for a in group.evidence)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_signals_carry_reasons_and_evidence(name: str) -> None:
    detector = DETECTORS[name]()
    signals = _run(detector, _stream())
    first = signals[0]
    group = detector.group_of(first.entity)
    assert group is not None
    assert first.evidence["group_id"] == group.group_id
    assert first.evidence["group_size"] == len(RING)
    assert first.evidence["evidence_by_kind"]["ip"] == 2
    assert first.reasons[0].startswith("found in ")
    assert any("signed up recently" in r for r in first.reasons)
    assert signals[-1].evidence["evidence_by_kind"]["file"] >= 2
    detector.sweep(_stream()[-1].ts.timestamp())  # after every upload
    (group,) = detector.risky_groups()
    assert sum(a.startswith("file:") for a in group.evidence) == 3
    assert "share 3 uploaded files" in group.reasons
    # the announcing sweep flags every member at once, on one event
    announced = [s for s in signals if s.event_id == first.event_id]
    assert {s.entity for s in announced} == set(RING)
    # later events of members raise "member of" signals
    later = [s for s in signals if s.event_id != first.event_id]
    assert later and all(s.reasons[0].startswith("member of ") for s in later)


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_risky_groups_become_ring_snapshots(name: str) -> None:
    detector = DETECTORS[name]()
    assert detector.ring_snapshots() == []
    _run(detector, _stream())
    (snapshot,) = detector.ring_snapshots()
    (group,) = detector.risky_groups()
    assert snapshot.method == name
    assert snapshot.ring_id == group.group_id
    assert set(snapshot.members) == set(RING) and snapshot.size == len(RING)
    assert snapshot.evidence and all(n >= 2 for _, n in snapshot.evidence)
    assert all(snapshot.holdings[m] for m in snapshot.members)


def test_group_ids_are_stable_across_sweeps_and_late_joiners_inherit() -> None:
    detector = CommunityDetector(sweep_interval=1800.0)
    events = _stream(late=3)
    day_two = START + timedelta(days=1)
    head = [e for e in events if e.ts < day_two]
    _run(detector, head)
    (before,) = detector.risky_groups()
    assert set(before.members) == set(RING)
    signals = _run(detector, [e for e in events if e.ts >= day_two])
    (after,) = detector.risky_groups()
    assert after.group_id == before.group_id
    assert after.found == before.found
    assert set(after.members) == set(RING) | {"late0", "late1", "late2"}
    joined = {s.entity for s in signals if s.reasons[0].startswith("found in ")}
    assert joined == {"late0", "late1", "late2"}


def test_group_ids_do_not_carry_over_to_a_different_group() -> None:
    detector = CommunityDetector(sweep_interval=1e9, match_jaccard=0.9)
    _run(detector, _stream())
    t = _stream()[-1].ts.timestamp()
    detector.sweep(t)
    (first,) = detector.risky_groups()
    detector.sweep(t + 1)
    assert detector.risky_groups()[0].group_id == first.group_id
    fresh = CommunityDetector(sweep_interval=1e9, match_jaccard=0.9)
    _run(fresh, _stream(late=12))  # 24 members: Jaccard 0.5 with the 12
    fresh.set_state({**fresh.get_state(), "groups": [first.to_json()], "announced": []})
    fresh.sweep(t + 86_400.0)
    assert all(g.group_id != first.group_id for g in fresh.groups())


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_state_round_trips_mid_stream(name: str) -> None:
    events = _stream(late=2)
    whole = _run(DETECTORS[name](), events)
    half = len(events) // 2
    before = DETECTORS[name]()
    head = _run(before, events[:half])
    state = msgspec.json.decode(msgspec.json.encode(before.get_state()))
    after = DETECTORS[name]()
    after.set_state(state)
    assert head + _run(after, events[half:]) == whole


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_sweep_detectors_pass_conformance(name: str) -> None:
    check_detector(DETECTORS[name], _stream())
    check_detector(DETECTORS[name])  # the shared synthetic stream


def test_hubs_do_not_tie_a_group() -> None:
    """Sixty users behind one NAT address, a popular file: no group."""
    events: list[EventBase] = []
    for u in range(60):
        ts = START + timedelta(minutes=u)
        events.append(
            Login(
                event_id=f"nat-{u}",
                ts=ts,
                account=f"nat{u}",
                ip="192.0.2.1",
                success=True,
            )
        )
        events.append(
            FileDownloaded(
                event_id=f"dl-{u}",
                ts=ts,
                account=f"nat{u}",
                ip="192.0.2.1",
                file_id="popular-0",
            )
        )
    events.sort(key=lambda e: e.ts)
    for name in sorted(DETECTORS):
        detector = available()[name](sweep_interval=600.0, hub_size=20)
        assert _run(detector, events) == []
        assert detector.graph.is_hub("ip:192.0.2.1")
        assert detector.groups() == []


@pytest.mark.parametrize(
    ("name", "kwargs", "hint"),
    [
        ("communities", {"risk_threshold": 0.0}, "risk_threshold"),
        ("communities", {"sweep_interval": 0}, "sweep_interval"),
        ("communities", {"min_size": 1}, "min_size"),
        ("communities", {"max_group_size": 2}, "max_group_size"),
        ("communities", {"match_jaccard": 1.5}, "match_jaccard"),
        ("communities", {"core_share": 0.0}, "core_share"),
        ("communities", {"cohesion_scale": -1.0}, "cohesion_scale"),
        ("communities", {"max_attribute_members": 1}, "max_attribute_members"),
        ("communities", {"resolution": 0.0}, "resolution"),
        ("communities", {"max_edges": 0}, "max_edges"),
        ("communities", {"engine": "louvain"}, "engine"),
        ("communities", {"hub_size": 1}, "hub_size"),
        ("dense_blocks", {"max_blocks": 0}, "max_blocks"),
        ("dense_blocks", {"c": 0.0}, "c="),
        ("dense_blocks", {"min_density": -1.0}, "min_density"),
    ],
)
def test_bad_parameters_are_config_errors(
    name: str, kwargs: dict[str, object], hint: str
) -> None:
    with pytest.raises(ConfigError, match=hint):
        available()[name](**kwargs)


def test_risk_formula_weighs_size_breadth_cohesion_and_youth() -> None:
    detector = CommunityDetector()
    held = {"file:x": 10, "ip:198.18.7.10": 10, "signup:1": 10}
    weights = {"file:x": 1.0, "ip:198.18.7.10": 1.0, "signup:1": 1.0}
    full = detector.group_risk(10, held, weights, young=10)
    # size part 0.75 at twice min_members; breadth 1, cohesion 3/2.5 -> 1, youth 1
    assert full.score == pytest.approx(0.75)
    old = detector.group_risk(10, held, weights, young=0)
    assert old.score == pytest.approx(0.75 * 0.8)
    narrow = detector.group_risk(10, {"file:x": 10}, {"file:x": 1.0}, young=0)
    assert narrow.score == pytest.approx(0.75 * (0.3 + 0.1 + 0.2 * 0.4))
    loose = detector.group_risk(10, {"file:x": 2}, {"file:x": 1.0}, young=0)
    assert loose.score == 0.0 and "no attribute shared" in loose.reasons[0]
