from datetime import UTC, datetime, timedelta

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import policy_from_dict
from trustwatch.detectors.base import Signal
from trustwatch.events.model import LinkCreated, Login

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)

POLICY = policy_from_dict(
    {
        "name": "t",
        "version": "3",
        "rules": [
            {
                "id": "block",
                "signals": ["brute_force"],
                "action": "block_source",
                "expires": "1h",
            },
            {
                "id": "lock",
                "signals": ["login_after_failures"],
                "min_score": 0.7,
                "action": "lock_account",
                "target": "account",
            },
            {
                "id": "shadow-lock",
                "signals": ["brute_force"],
                "min_score": 0.9,
                "action": "lock_account",
                "target": "account",
                "mode": "shadow",
            },
            {"id": "takedown", "signals": ["intel_url"], "action": "disable_link"},
        ],
    },
    "test",
)


def login(i: int, minutes: float = 0) -> Login:
    return Login(
        event_id=f"e{i}",
        ts=T0 + timedelta(minutes=minutes),
        account="alice",
        ip="198.51.100.7",
        success=False,
    )


def signal(event, kind="brute_force", score=0.8, entity="198.51.100.7") -> Signal:
    return Signal(
        detector="d",
        detector_version="1",
        kind=kind,
        score=score,
        entity_type="ip",
        entity=entity,
        event_id=event.event_id,
        reasons=("why",),
    )


def test_verdict_takes_strongest_enforced_action_and_records_provenance():
    engine = DecisionEngine(POLICY)
    event = login(1)
    verdict, actions = engine.decide(event, [signal(event, score=0.95)])
    assert verdict.decision == "block_source"  # the lock is only in shadow
    assert {(h.rule_id, h.mode) for h in verdict.rules} == {
        ("block", "dry_run"),
        ("shadow-lock", "shadow"),
    }
    assert verdict.policy == "t@3"
    assert verdict.signals[0].reasons == ("why",)
    block = next(a for a in actions if a.type == "block_source")
    assert (block.target_type, block.target) == ("ip", "198.51.100.7")
    assert block.expires_at == event.ts + timedelta(hours=1)
    assert block.actor == "policy:t@3#block"


def test_below_threshold_signals_give_allow_with_no_actions():
    engine = DecisionEngine(POLICY)
    event = login(1)
    verdict, actions = engine.decide(
        event, [signal(event, "login_after_failures", 0.6)]
    )
    assert verdict.decision == "allow"
    assert actions == []
    assert verdict.score == 0.6


def test_ids_are_deterministic_across_engines():
    event = login(1)
    first = DecisionEngine(POLICY).decide(event, [signal(event)])
    second = DecisionEngine(POLICY).decide(event, [signal(event)])
    assert first == second


def test_action_in_force_is_not_repeated_until_it_expires():
    engine = DecisionEngine(POLICY)
    counts = []
    for i, minutes in enumerate((0, 10, 59, 61)):
        event = login(i, minutes)
        _, actions = engine.decide(event, [signal(event)])
        counts.append(sum(a.type == "block_source" for a in actions))
    assert counts == [1, 0, 0, 1]


def test_disable_link_targets_the_link_of_the_event():
    engine = DecisionEngine(POLICY)
    event = LinkCreated(event_id="l", ts=T0, link_id="lnk-9", url="http://x.example/")
    _, actions = engine.decide(
        event, [signal(event, "intel_url", 0.9, "http://x.example/")]
    )
    assert [(a.target_type, a.target) for a in actions] == [("link", "lnk-9")]


def test_enforce_mode_marks_actions_for_dispatch():
    event = login(1)
    _, actions = DecisionEngine(POLICY, mode="enforce").decide(event, [signal(event)])
    assert {a.mode for a in actions} == {"enforce"}


def test_one_rule_hit_per_rule_and_target_keeps_the_strongest_signal():
    engine = DecisionEngine(POLICY)
    event = login(1)
    weak, strong = signal(event, score=0.6), signal(event, score=0.8)
    verdict, actions = engine.decide(event, [weak, strong])
    blocks = [h for h in verdict.rules if h.rule_id == "block"]
    assert [h.score for h in blocks] == [0.8]
    assert len(verdict.signals) == 2
    assert sum(a.type == "block_source" for a in actions) == 1
