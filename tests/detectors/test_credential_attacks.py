from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.detectors.base import threshold_score
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.events.model import Login

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def login(i, *, user="alice", ip="198.51.100.7", ok=False, seconds=None):
    return Login(
        event_id=f"e{i}",
        ts=T0 + timedelta(seconds=i if seconds is None else seconds),
        account=user,
        username=user,
        ip=ip,
        success=ok,
    )


def kinds(detector, events):
    return [s.kind for s in detector.process(events)]


def test_brute_force_fires_at_threshold_on_one_account():
    detector = CredentialAttackDetector(brute_force_failures=10)
    found = detector.process([login(i) for i in range(12)])
    assert [s.event_id for s in found] == ["e9", "e10", "e11"]
    assert {s.kind for s in found} == {"brute_force"}
    assert found[0].entity == "198.51.100.7"
    assert found[0].score == pytest.approx(0.5)
    assert found[-1].score > found[0].score
    assert "10 failed logins" in found[0].reasons[0]


def test_credential_stuffing_counts_distinct_usernames_per_source():
    detector = CredentialAttackDetector(stuffing_usernames=10)
    events = [login(i, user=f"user{i}") for i in range(15)]
    found = detector.process(events)
    assert {s.kind for s in found} == {"credential_stuffing"}
    assert len(found) == 6
    assert found[-1].evidence["distinct_usernames"] == 15


def test_failures_outside_the_window_do_not_add_up():
    detector = CredentialAttackDetector(window=600, brute_force_failures=10)
    spread = [login(i, seconds=i * 120) for i in range(30)]  # one every 2 min
    assert kinds(detector, spread) == []


def test_success_after_failure_burst_flags_the_account():
    detector = CredentialAttackDetector(burst_failures=5)
    events = [login(i, ip=f"203.0.113.{i}") for i in range(6)]
    events.append(login(6, ip="203.0.113.99", ok=True))
    found = detector.process(events)
    assert [(s.kind, s.entity_type, s.entity) for s in found] == [
        ("login_after_failures", "account", "alice")
    ]
    assert "6 failures for this account" in found[0].reasons[0]


def test_a_normal_typo_then_success_is_quiet():
    detector = CredentialAttackDetector()
    events = [login(0), login(1, ok=True)]
    assert kinds(detector, events) == []


def test_other_events_and_missing_source_are_ignored():
    detector = CredentialAttackDetector(brute_force_failures=2)
    events = [login(i, ip=None) for i in range(5)]
    assert kinds(detector, events) == []


def test_threshold_score_is_half_at_threshold_and_rises():
    assert threshold_score(10, 10) == pytest.approx(0.5)
    assert threshold_score(20, 10) == pytest.approx(0.75)
    assert threshold_score(40, 10) < threshold_score(50, 10) < 1.0


def test_distributed_stuffing_is_seen_per_network_not_per_source():
    detector = CredentialAttackDetector(
        stuffing_usernames=10, network_usernames=30, network_sources=3
    )
    # 40 usernames from 8 addresses of one /24: each source stays under 10
    events = [login(i, user=f"user{i}", ip=f"198.51.100.{i % 8}") for i in range(40)]
    found = detector.process(events)
    assert {s.kind for s in found} == {"distributed_stuffing"}
    assert found[0].entity == "198.51.100.0/24"
    assert found[0].event_id == "e29"
    assert "from 8 sources" in found[0].reasons[0]


def test_network_key_uses_the_geo_resolver_when_given():
    from trustwatch.enrichment.geo import GeoInfo
    from trustwatch.features.context import EventContext

    class OneAs:
        def lookup(self, ip):
            return GeoInfo(country="NL", asn=64500, as_name="Example Hosting")

    assert EventContext(login(1), OneAs()).network() == "AS64500"
    assert EventContext(login(1, ip=None)).network() == ""
