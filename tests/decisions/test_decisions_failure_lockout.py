"""Failed logins by anyone must not lock the owner out: the shipped policy."""

from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import default_detectors
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.detectors.impossible_travel import ImpossibleTravelDetector
from trustwatch.detectors.login_risk import LoginRiskDetector
from trustwatch.detectors.takeover_chain import TakeoverChainDetector
from trustwatch.enrichment.geo import BundledGeo
from trustwatch.events.model import Login
from trustwatch.runtime.pipeline import Pipeline

T0 = datetime(2025, 8, 1, 9, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"
OWNER_IP = "194.25.3.3"
GUESSER_IP = "103.1.200.9"


def login(event_id, when, ip, *, ok, agent=BROWSER, user="ceo"):
    return Login(
        event_id=event_id,
        ts=when,
        account=user,
        username=user,
        ip=ip,
        user_agent=agent,
        success=ok,
    )


def guessed_then(last):
    """The review's scenario: 5 days of the owner, 7 guesses, then ``last``."""
    history = [
        login(f"h{day}", T0 + timedelta(days=day), OWNER_IP, ok=True)
        for day in range(5)
    ]
    attack = T0 + timedelta(days=6)
    guesses = [
        login(
            f"x{i}",
            attack + timedelta(seconds=30 * i),
            GUESSER_IP,
            ok=False,
            agent="curl/8",
        )
        for i in range(7)
    ]
    return [*history, *guesses, last(attack + timedelta(minutes=5))]


def decide(events, detectors=None):
    """Return the last event's decision under the shipped policy, enforced."""
    engine = DecisionEngine(default_policy(), mode="enforce")
    pipeline = Pipeline(detectors or default_detectors(), engine, geo=BundledGeo())
    decisions = {d.verdict.event_id: d for d in pipeline.process(events)}
    return decisions.get(events[-1].event_id)


def actions(decision):
    return sorted((a.type, a.target, a.mode) for a in decision.actions)


def login_detectors_in_wired_order():
    """The login detectors with credential_attacks after login_risk, as wired."""
    return [
        ImpossibleTravelDetector(),
        LoginRiskDetector(),
        CredentialAttackDetector(),
        TakeoverChainDetector(),
    ]


def test_the_owners_usual_login_after_guesses_elsewhere_is_challenged_not_locked():
    owner = decide(guessed_then(lambda at: login("owner", at, OWNER_IP, ok=True)))
    assert owner is not None
    assert [s.kind for s in owner.verdict.signals] == ["login_after_failures_elsewhere"]
    assert owner.verdict.decision == "challenge"
    assert actions(owner) == [("challenge", "ceo", "enforce")]


@pytest.mark.parametrize("detectors", [None, login_detectors_in_wired_order])
def test_the_guessing_source_getting_in_is_locked(detectors):
    events = guessed_then(
        lambda at: login("win", at, GUESSER_IP, ok=True, agent="curl/8")
    )
    win = decide(events, detectors() if detectors else None)
    assert "login_after_failures" in {s.kind for s in win.verdict.signals}
    assert win.verdict.decision == "lock_account"
    lock = [a for a in win.actions if a.actor.endswith("#lock-after-failure-burst")]
    assert [(a.type, a.target, a.mode) for a in lock] == [
        ("lock_account", "ceo", "enforce")
    ]
    assert lock[0].expires_at - lock[0].created_at == timedelta(days=7)


def test_a_risky_login_after_guesses_elsewhere_is_locked_when_login_risk_runs_first():
    # a new country and an automation client: login risk corroborates the failures
    events = guessed_then(
        lambda at: login(
            "win", at, "200.160.0.8", ok=True, agent="python-requests/2.31"
        )
    )
    win = decide(events, login_detectors_in_wired_order())
    kinds = {s.kind for s in win.verdict.signals}
    assert {"risky_login", "login_after_failures"} <= kinds
    after = next(s for s in win.verdict.signals if s.kind == "login_after_failures")
    assert after.evidence["failures_from"] == "elsewhere"
    assert after.evidence["corroborated_by"] == ["risky_login"]
    assert win.verdict.decision == "lock_account"
    assert any(
        a.actor.endswith("#lock-after-failure-burst") and a.mode == "enforce"
        for a in win.actions
    )


def test_stuffing_is_blocked_though_the_source_logs_into_its_own_account():
    # 60 names in 6 minutes, 30 logins to a decoy account, "mallory"
    start = T0 + timedelta(hours=6)
    events = []
    for i in range(60):
        at = start + timedelta(seconds=6 * i)
        events.append(login(f"s{i}", at, "5.9.20.20", ok=False, user=f"stuff{i}"))
        for j in range(2 if i % 4 == 0 else 0):
            ok_at = at + timedelta(seconds=1 + j)
            events.append(
                login(f"m{i}.{j}", ok_at, "5.9.20.20", ok=True, user="mallory")
            )
    engine = DecisionEngine(default_policy(), mode="enforce")
    pipeline = Pipeline(default_detectors(), engine, geo=BundledGeo())
    blocks = [
        a
        for d in pipeline.process(events)
        for a in d.actions
        if a.type == "block_source"
    ]
    assert [(a.target, a.actor.split("#")[-1]) for a in blocks] == [
        ("5.9.20.20", "block-credential-stuffing")
    ]
