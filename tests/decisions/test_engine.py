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


def _locks(*rules: tuple[str, str | None]):
    """A policy of lock rules on login_after_failures: (id, expires or None)."""
    return policy_from_dict(
        {
            "name": "locks",
            "version": "1",
            "rules": [
                {
                    "id": rule_id,
                    "signals": ["login_after_failures"],
                    "action": "lock_account",
                    "target": "account",
                    **({"expires": expires} if expires else {}),
                }
                for rule_id, expires in rules
            ],
        },
        "test",
    )


def test_a_rule_whose_target_the_event_lacks_acts_on_nothing_and_decides_nothing():
    policy = _locks(("lock", "1h"))
    event = Login(event_id="u", ts=T0, account=None, ip="198.51.100.7", success=False)
    verdict, actions = DecisionEngine(policy).decide(
        event, [signal(event, "login_after_failures", 0.9)]
    )
    assert actions == []
    assert verdict.decision == "allow"
    [hit] = verdict.rules
    assert (hit.rule_id, hit.target_type, hit.target) == ("lock", "account", "")
    assert not hit.in_force


def test_the_longest_lasting_of_two_rules_with_one_action_acts_in_either_order():
    for order in (
        (("short", "1m"), ("forever", None)),
        (("forever", None), ("short", "1m")),
    ):
        event = login(1)
        verdict, actions = DecisionEngine(_locks(*order)).decide(
            event, [signal(event, "login_after_failures", 0.9)]
        )
        assert [(a.actor, a.expires_at) for a in actions] == [
            ("policy:locks@1#forever", None)
        ]
        held = {h.rule_id: h.in_force for h in verdict.rules}
        assert held == {"short": True, "forever": False}


def test_a_longer_rule_issues_its_action_over_a_shorter_one_in_force():
    engine = DecisionEngine(_locks(("short", "1m"), ("day", "1d")))
    # only the short rule matches at first: a later rule needs a higher score
    engine.policy = _locks(("short", "1m"))
    first = login(1)
    _, actions = engine.decide(first, [signal(first, "login_after_failures", 0.9)])
    assert [a.actor for a in actions] == ["policy:locks@1#short"]
    engine.policy = _locks(("short", "1m"), ("day", "1d"))
    later = login(2, minutes=0.5)
    _, actions = engine.decide(later, [signal(later, "login_after_failures", 0.9)])
    assert [a.actor for a in actions] == ["policy:locks@1#day"]
    # the day's lock is in force now: neither rule repeats it within the day
    again = login(3, minutes=30)
    _, actions = engine.decide(again, [signal(again, "login_after_failures", 0.9)])
    assert actions == []


def test_in_force_actions_saved_before_they_kept_their_length_still_hold():
    engine = DecisionEngine(_locks(("forever", None)))
    engine.set_state(
        {"active": [["lock_account:dry_run", "account:alice", T0.timestamp() + 60]]}
    )
    event = login(1)
    _, actions = engine.decide(event, [signal(event, "login_after_failures", 0.9)])
    assert actions == []
    restored = DecisionEngine(_locks(("forever", None)))
    restored.set_state(engine.get_state())
    assert restored.get_state() == engine.get_state()


def test_in_force_actions_are_saved_so_that_earlier_versions_read_them():
    engine = DecisionEngine(_locks(("day", "1d")))
    event = login(1)
    engine.decide(event, [signal(event, "login_after_failures", 0.9)])
    state = engine.get_state()
    # earlier versions unpack each entry of "active" into three values
    [(kind, target, until)] = state["active"]
    assert (kind, target) == ("lock_account:dry_run", "account:alice")
    assert until == event.ts.timestamp() + 86_400
    assert state["lasting"] == [86_400.0]


def _lock_at(engine: DecisionEngine, i: int, when: datetime):
    event = Login(
        event_id=f"e{i}", ts=when, account="alice", ip="198.51.100.7", success=False
    )
    return engine.decide(event, [signal(event, "login_after_failures", 0.9)])


def test_an_action_dated_far_ahead_does_not_hold_back_the_events_before_it():
    for expires in (None, "1h"):
        engine = DecisionEngine(_locks(("lock", expires)))
        _, ahead = _lock_at(engine, 1, datetime(2199, 6, 1, tzinfo=UTC))
        _, first = _lock_at(engine, 2, T0)
        verdict, second = _lock_at(engine, 3, T0 + timedelta(minutes=1))
        assert [len(ahead), len(first), len(second)] == [1, 1, 0]
        assert first[0].created_at == T0
        # the event after it is covered by the action of the event before
        assert [h.in_force for h in verdict.rules] == [True]


def test_an_action_covers_late_events_up_to_its_length_before_it():
    engine = DecisionEngine(_locks(("lock", "1h")))
    issued = [
        len(_lock_at(engine, i, T0 + timedelta(minutes=minutes))[1])
        for i, minutes in enumerate((70, 69.9, 69.8, 11, 9, 100, 131, 132))
    ]
    # 69.9, 69.8 and 11 arrive late, within an hour before the action at 70;
    # 9 is earlier still and issues its own: the two cover 9 to 130, so 131
    # issues one more, which covers 132
    assert issued == [1, 0, 0, 0, 1, 0, 1, 0]


def test_events_alternating_between_two_times_issue_at_most_two_actions():
    # a lock for good covers the later time; an hour's lock does not
    for expires, expected in ((None, 1), ("1h", 2)):
        engine = DecisionEngine(_locks(("lock", expires)))
        issued = sum(
            len(_lock_at(engine, i, T0 + timedelta(days=30 * (i % 2), seconds=i))[1])
            for i in range(100)
        )
        assert issued == expected, expires


def test_the_times_an_action_covers_survive_a_checkpoint():
    engine = DecisionEngine(_locks(("lock", None)))
    _lock_at(engine, 1, datetime(2199, 6, 1, tzinfo=UTC))
    restored = DecisionEngine(_locks(("lock", None)))
    restored.set_state(engine.get_state())
    assert restored.get_state() == engine.get_state()
    _, actions = _lock_at(restored, 2, T0)
    assert len(actions) == 1
