"""Population-level login attacks: spraying, botnets, many sources on one account."""

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.errors import ConfigError
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext
from trustwatch.testing import check_detector

T0 = datetime(2026, 5, 1, tzinfo=UTC)
BOT_AGENT = "python-requests/2.31.0"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36"


def login(
    i,
    *,
    user="alice",
    ip="198.51.100.7",
    ok=False,
    at=None,
    agent=None,
    exists=True,
    reason=None,
):
    return Login(
        event_id=f"e{i}",
        ts=T0 + timedelta(seconds=i if at is None else at),
        account=user if exists else None,
        username=user,
        ip=ip,
        user_agent=agent,
        success=ok,
        failure_reason=reason if ok is False else None,
    )


def by_kind(signals, kind):
    return [s for s in signals if s.kind == kind]


# ------------------------------------------------------------ password spraying


def test_slow_spraying_under_the_stuffing_rate_is_password_spraying():
    # 25 usernames from one source, one every 5 minutes: never 10 in 10 min
    events = [
        login(
            i,
            user=f"user{i}",
            at=i * 300,
            exists=i % 3 == 0,
            reason="bad_credentials" if i % 3 == 0 else "invalid_user",
        )
        for i in range(25)
    ]
    found = CredentialAttackDetector().process(events)
    assert {s.kind for s in found} == {"password_spraying"}
    assert found[0].event_id == "e19"  # the 20th distinct name
    assert found[0].entity == "198.51.100.7"
    assert found[0].score == pytest.approx(0.5)
    assert found[-1].evidence["distinct_usernames"] == 25
    assert found[-1].evidence["tries_per_username"] == 1.0
    assert found[-1].evidence["unknown_user_share"] == pytest.approx(16 / 25, abs=1e-3)
    assert any("exist nowhere here" in r for r in found[-1].reasons)


def test_many_tries_per_name_is_not_spraying():
    # 20 names, 4 guesses each, paced slowly: guessing, not spraying
    events = [login(n, user=f"user{n // 4}", at=n * 200) for n in range(80)]
    found = CredentialAttackDetector(brute_force_failures=50).process(events)
    assert by_kind(found, "password_spraying") == []


def test_a_source_that_mostly_succeeds_is_a_shared_address_not_a_sprayer():
    # an office NAT: 25 people mistype once over a day, 200 logins succeed
    events = []
    for i in range(225):
        ok = i % 9 != 0
        events.append(login(i, user=f"staff{i % 120}", at=i * 300, ok=ok))
    found = CredentialAttackDetector().process(events)
    assert by_kind(found, "password_spraying") == []
    assert by_kind(found, "credential_stuffing") == []


def test_fast_stuffing_is_not_also_reported_as_spraying():
    events = [login(i, user=f"user{i}", at=i * 2) for i in range(30)]
    found = CredentialAttackDetector().process(events)
    assert {s.kind for s in found} == {"credential_stuffing"}
    last = found[-1]
    assert last.evidence["success_share"] == 0.0
    assert last.evidence["unknown_user_share"] == 0.0


def test_stuffing_says_when_most_names_do_not_exist():
    events = [
        login(i, user=f"ghost{i}", at=i, exists=False, reason="invalid_user")
        for i in range(12)
    ]
    found = by_kind(CredentialAttackDetector().process(events), "credential_stuffing")
    assert found and found[-1].evidence["unknown_user_share"] == 1.0
    assert "100% of its failures name no existing user" in found[-1].reasons


# ------------------------------------------------------------ one account, many sources


def test_one_account_brute_forced_from_many_sources():
    # 24 failures on bob, each from its own address: no source reaches 10
    events = [login(i, user="bob", ip=f"203.0.{i}.9", at=i * 5) for i in range(24)]
    found = CredentialAttackDetector().process(events)
    assert {s.kind for s in found} == {"distributed_brute_force"}
    first = found[0]
    assert (first.event_id, first.entity_type, first.entity) == (
        "e19",
        "account",
        "bob",
    )
    assert first.evidence == {"failures": 20, "sources": 20, "username": "bob"}
    assert "from 20 sources" in first.reasons[0]


def test_one_source_on_one_account_stays_plain_brute_force():
    events = [login(i, user="bob", at=i) for i in range(25)]
    found = CredentialAttackDetector().process(events)
    assert {s.kind for s in found} == {"brute_force"}


def test_logins_without_a_username_are_not_one_shared_account():
    # session tables name no user: their failures must not pile on account ""
    failures = [
        Login(
            event_id=f"f{i}",
            ts=T0 + timedelta(seconds=i),
            ip=f"192.0.2.{i}",
            success=False,
        )
        for i in range(30)
    ]
    other = Login(
        event_id="ok", ts=T0 + timedelta(seconds=31), ip="198.51.100.200", success=True
    )
    found = CredentialAttackDetector(burst_failures=5).process([*failures, other])
    assert found == []


# ------------------------------------------------------------ distributed stuffing


def test_a_botnet_across_networks_is_grouped_by_its_user_agent():
    # 40 usernames from 40 addresses in 40 different /24s, one client string
    events = [
        login(i, user=f"user{i}", ip=f"192.0.{i}.{i + 1}", at=i * 10, agent=BOT_AGENT)
        for i in range(40)
    ]
    found = CredentialAttackDetector().process(events)
    assert {s.kind for s in found} == {"distributed_stuffing"}
    first = found[0]
    assert (first.event_id, first.entity_type, first.entity) == (
        "e29",
        "user_agent",
        BOT_AGENT,
    )
    assert first.evidence["sources"] == 30
    # a bot on a 10-second schedule: corroborated, so above the bare 0.5
    assert first.evidence["gap_cv"] == 0.0
    assert first.evidence["mean_gap_s"] == 10.0
    assert first.score == pytest.approx(1 - 0.5 * 0.7)
    assert any("on a schedule" in r for r in first.reasons)


def test_a_popular_browser_with_mostly_successful_logins_is_not_a_botnet():
    events = []
    for i in range(400):
        fail = i % 10 == 0  # 40 typos among 400 logins from 400 people
        events.append(
            login(
                i,
                user=f"user{i}",
                ip=f"192.0.{i % 200}.{i % 250 + 1}",
                at=i,
                ok=not fail,
                agent=BROWSER,
            )
        )
    found = CredentialAttackDetector().process(events)
    assert by_kind(found, "distributed_stuffing") == []


def test_network_group_reports_a_shared_agent_and_irregular_timing():
    # 8 addresses of one /24, human-like uneven gaps, all on one client
    gaps = [3, 41, 7, 19, 2, 33, 11, 5, 27, 1]
    at, events = 0, []
    for i in range(40):
        at += gaps[i % len(gaps)]
        events.append(
            login(i, user=f"user{i}", ip=f"198.51.100.{i % 8}", at=at, agent=BOT_AGENT)
        )
    found = CredentialAttackDetector().process(events)
    network = [s for s in found if s.entity_type == "network"]
    assert network and network[0].entity == "198.51.100.0/24"
    evidence = network[0].evidence
    assert evidence["shared_agent_share"] == 1.0
    assert evidence["gap_cv"] > 0.35  # uneven: no schedule claimed
    assert any("send one user agent" in r for r in network[0].reasons)
    assert not any("on a schedule" in r for r in network[0].reasons)
    assert network[0].score == pytest.approx(1 - 0.5 * 0.7)


def test_network_group_without_agents_has_no_agent_evidence():
    events = [login(i, user=f"user{i}", ip=f"198.51.100.{i % 8}") for i in range(40)]
    found = CredentialAttackDetector().process(events)
    assert found[0].evidence["shared_agent_share"] is None
    assert found[0].score == pytest.approx(1 - 0.5 * 0.7)  # a regular 1 s pace


# ------------------------------------------------------------ state


def mixed_attacks():
    """A sprayer, a botnet on one agent, many sources on bob, then bob's success."""
    spray = [login(i, user=f"name{i}", ip="203.0.113.5", at=i * 90) for i in range(40)]
    botnet = [
        login(100 + i, user=f"user{i}", ip=f"192.0.{i}.7", at=i * 13, agent=BOT_AGENT)
        for i in range(45)
    ]
    on_bob = [
        login(200 + i, user="bob", ip=f"198.51.{i}.20", at=600 + i * 4)
        for i in range(25)
    ]
    success = [login(300, user="bob", ip="198.51.0.20", at=720, ok=True)]
    return sorted([*spray, *botnet, *on_bob, *success], key=lambda e: e.ts)


def test_conformance_on_mixed_population_attacks():
    events = mixed_attacks()
    kinds = {
        s.kind for s in CredentialAttackDetector(spray_usernames=15).process(events)
    }
    assert kinds == {
        "password_spraying",
        "distributed_stuffing",
        "distributed_brute_force",
        "login_after_failures",
    }
    check_detector(lambda: CredentialAttackDetector(spray_usernames=15), events)


def test_a_version_one_checkpoint_still_restores():
    old = CredentialAttackDetector()
    events = [login(i, user="bob", at=i) for i in range(8)]
    old.process(events)
    state = msgspec.json.decode(msgspec.json.encode(old.get_state()))
    v1 = {
        k: state[k]
        for k in (
            "pair_failures",
            "source_failures",
            "account_failures",
            "source_usernames",
            "network_usernames",
            "network_sources",
        )
    }
    restored = CredentialAttackDetector()
    restored.set_state(v1)
    more = [login(i, user="bob", at=i) for i in range(8, 10)]
    found = [s for e in more for s in restored.process_one(e, EventContext(e))]
    assert [s.kind for s in found] == ["brute_force"]


def test_group_state_is_bounded_by_max_keys():
    detector = CredentialAttackDetector(max_keys=5, max_agent_keys=3)
    events = [
        login(i, user=f"user{i}", ip=f"192.0.{i}.1", agent=f"agent-{i}", ok=i % 2 == 1)
        for i in range(50)
    ]
    detector.process(events)
    state = detector.get_state()
    per_agent = {name for name in state if name.startswith(("agent_", "recent_agent"))}
    assert per_agent == {
        "agent_usernames",
        "agent_sources",
        "agent_logins",
        "recent_agent_failures",
    }
    assert all(len(state[name]["keys"]) == 3 for name in per_agent)
    assert all(len(window["keys"]) <= 5 for window in state.values())
    assert state["recent_failures"]["evicted"] > 0
    assert state["agent_logins"]["evicted"] > 0


@pytest.mark.parametrize(
    "params",
    [{"max_success_rate": 1.5}, {"window": 600.0, "spray_window": 60.0}],
)
def test_unusable_parameters_are_clear_errors(params):
    with pytest.raises(ConfigError):
        CredentialAttackDetector(**params)
