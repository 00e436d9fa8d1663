"""What a success after failures says, and success counted per account."""

from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.detectors.base import Signal
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext
from trustwatch.testing import check_detector

T0 = datetime(2026, 5, 1, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"


def login(event_id, at, *, user, ip, ok=False, agent=BROWSER):
    return Login(
        event_id=event_id,
        ts=T0 + timedelta(seconds=at),
        account=user,
        username=user,
        ip=ip,
        user_agent=agent,
        success=ok,
    )


def run(events, detector=None, raised=None):
    """Run events in order; ``raised`` holds earlier signals per event id."""
    detector = detector or CredentialAttackDetector()
    found = []
    for event in events:
        ctx = EventContext(event)
        ctx.raised.extend((raised or {}).get(event.event_id, []))
        found += detector.process_one(event, ctx)
    return found


def on(found, event_id):
    return [s for s in found if s.event_id == event_id]


def guesses_on_ceo(ip="103.1.200.9", n=7):
    return [login(f"f{i}", i * 20, user="ceo", ip=ip) for i in range(n)]


# ------------------------------------------------- one decoy account's logins


def stuffing_with_a_decoy():
    """The review's scenario: 60 names failed in 6 min, 30 logins to one account."""
    events = []
    for i in range(60):
        events.append(login(f"s{i}", 6 * i, user=f"stuff{i}", ip="5.9.20.20"))
        if i % 4 == 0:
            for j in range(2):
                events.append(
                    login(
                        f"m{i}.{j}",
                        6 * i + 1 + j,
                        user="mallory",
                        ip="5.9.20.20",
                        ok=True,
                    )
                )
    return events


def test_logins_to_one_own_account_do_not_hide_stuffing():
    found = run(stuffing_with_a_decoy())
    stuffing = [s for s in found if s.kind == "credential_stuffing"]
    assert stuffing and stuffing[0].entity == "5.9.20.20"
    assert stuffing[0].event_id == "s9"  # the 10th distinct name, as without logins
    last = stuffing[-1].evidence
    assert last["distinct_usernames"] == 60
    assert last["accounts_logged_in"] == 1  # 30 logins, one account
    assert last["success_share"] == pytest.approx(1 / 61, abs=1e-3)


def test_logins_to_one_own_account_do_not_hide_slow_spraying():
    events = []
    for i in range(30):  # one name every 5 minutes, a login to the decoy each time
        events.append(login(f"s{i}", 300 * i, user=f"name{i}", ip="5.9.10.10"))
        events.append(
            login(f"m{i}", 300 * i + 1, user="mallory", ip="5.9.10.10", ok=True)
        )
    spraying = [s for s in run(events) if s.kind == "password_spraying"]
    assert spraying and spraying[0].event_id == "s19"
    assert "1 of 21 accounts tried logged in" in spraying[0].reasons


def test_a_shared_address_where_most_accounts_log_in_is_still_quiet():
    # 40 people log in from one office NAT, 12 of them mistype once first
    events = []
    for i in range(40):
        if i < 12:
            events.append(login(f"t{i}", 10 * i, user=f"staff{i}", ip="192.0.2.1"))
        events.append(
            login(f"ok{i}", 10 * i + 5, user=f"staff{i}", ip="192.0.2.1", ok=True)
        )
    found = run(events)
    assert not [s for s in found if s.kind != "brute_force"]


# ------------------------------------------------- where the failures came from


def test_the_owner_after_someone_elses_guesses_is_only_elsewhere():
    # 7 failures from one address, then the owner's login
    owner = login("owner", 300, user="ceo", ip="194.25.3.3", ok=True)
    found = on(run([*guesses_on_ceo(), owner]), "owner")
    assert [(s.kind, s.entity) for s in found] == [
        ("login_after_failures_elsewhere", "ceo")
    ]
    assert found[0].reasons == (
        "success after 7 failures for this account from 1 other source",
    )
    assert found[0].evidence["failures_from"] == "elsewhere"
    assert found[0].score == pytest.approx(1 - 0.5 ** (7 / 5))


def test_a_success_from_the_guessing_source_is_the_attacker():
    win = login("win", 300, user="ceo", ip="103.1.200.9", ok=True)
    found = on(run([*guesses_on_ceo(), win]), "win")
    assert [s.kind for s in found] == ["login_after_failures"]
    assert found[0].evidence["failures_from"] == "source"
    assert "7 of them from this source" in found[0].reasons[0]


def test_a_success_from_the_guessing_network_is_the_attacker():
    guesses = [
        login(f"f{i}", i * 20, user="ceo", ip=f"103.1.200.{i + 1}") for i in range(7)
    ]
    win = login("win", 300, user="ceo", ip="103.1.200.99", ok=True)
    found = on(run([*guesses, win]), "win")
    assert [s.kind for s in found] == ["login_after_failures"]
    assert found[0].evidence["failures_from"] == "network"
    assert "network 103.1.200.0/24" in found[0].reasons[0]


def test_a_stuffing_source_that_gets_into_a_fresh_account_is_the_attacker():
    tries = [login(f"s{i}", i, user=f"user{i}", ip="5.9.20.20") for i in range(12)]
    hit = login("hit", 20, user="victim", ip="5.9.20.20", ok=True)
    found = on(run([*tries, hit]), "hit")
    assert [(s.kind, s.entity) for s in found] == [("login_after_failures", "victim")]
    assert found[0].evidence["source_accounts_failed"] == 12
    assert found[0].evidence["source_accounts_logged_in"] == 1


@pytest.mark.parametrize(
    ("kind", "score", "expected"),
    [
        ("risky_login", 0.8, "login_after_failures"),
        ("impossible_travel", 0.6, "login_after_failures"),
        ("risky_login", 0.3, "login_after_failures_elsewhere"),  # too weak
        ("malicious_url", 0.99, "login_after_failures_elsewhere"),  # not about logins
    ],
)
def test_a_signal_on_the_same_login_corroborates_failures_elsewhere(
    kind, score, expected
):
    success = login("win", 300, user="ceo", ip="198.51.100.20", ok=True)
    earlier = Signal(
        kind=kind,
        score=score,
        entity_type="account",
        entity="ceo",
        reasons=("new country for this account (BR)",),
        event_id="win",
        detector="other",
        detector_version="1",
    )
    found = on(run([*guesses_on_ceo(), success], raised={"win": [earlier]}), "win")
    assert [s.kind for s in found] == [expected]
    corroborated = expected == "login_after_failures"
    assert ("corroborated_by" in found[0].evidence) is corroborated
    assert any(kind in r for r in found[0].reasons) is corroborated


def test_corroborating_kinds_are_a_parameter():
    detector = CredentialAttackDetector(corroborating_kinds=())
    success = login("win", 300, user="ceo", ip="198.51.100.20", ok=True)
    earlier = Signal(
        kind="risky_login",
        score=0.99,
        entity_type="account",
        entity="ceo",
        event_id="win",
        detector="login_risk",
        detector_version="1",
    )
    found = on(run([*guesses_on_ceo(), success], detector, {"win": [earlier]}), "win")
    assert [s.kind for s in found] == ["login_after_failures_elsewhere"]


def test_a_busy_shared_address_with_typos_says_nothing_about_the_next_login():
    # an office NAT: 32 people log in within 3 minutes, 8 of them mistype first
    events = []
    for i in range(32):
        if i % 4 == 3:
            events.append(login(f"t{i}", 5 * i, user=f"staff{i}", ip="192.0.2.1"))
        events.append(
            login(f"ok{i}", 5 * i + 2, user=f"staff{i}", ip="192.0.2.1", ok=True)
        )
    events.append(login("bob", 170, user="bob", ip="192.0.2.1", ok=True))
    found = run(events)
    assert [s.kind for s in found] == []  # 8 failures, but 32 of 40 accounts got in


def test_success_kinds_pass_the_conformance_suite():
    events = [
        *guesses_on_ceo(),
        login("owner", 300, user="ceo", ip="194.25.3.3", ok=True),
        login("win", 310, user="ceo", ip="103.1.200.9", ok=True),
        *stuffing_with_a_decoy(),
    ]
    events.sort(key=lambda e: e.ts)
    kinds = {s.kind for s in run(events)}
    assert {"login_after_failures", "login_after_failures_elsewhere"} <= kinds
    check_detector(CredentialAttackDetector, events)
