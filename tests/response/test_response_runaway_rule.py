"""A rule gone wrong, end to end: policy, engine, store, breaker, dispatcher."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from response_rig import T0, log_config

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import policy_from_dict
from trustwatch.detectors.base import Signal
from trustwatch.events.model import Login
from trustwatch.response.adapters import build_adapters
from trustwatch.response.delay import TEST_DELAY_KEY
from trustwatch.response.dispatch import Dispatcher, policy_delays

POLICY = policy_from_dict(
    {
        "name": "prod",
        "version": "7",
        "rules": [
            {
                "id": "lock-risky-login",
                "signals": ["risky_login"],
                "min_score": 0.8,
                "action": "lock_account",
                "target": "account",
                "delay": "1m-5m",
            }
        ],
    },
    "test-policy",
)


def _login(number: int, minute: int) -> tuple[Login, list[Signal]]:
    event = Login(
        event_id=f"login-{number}",
        ts=T0 + timedelta(minutes=minute, seconds=number % 60),
        account=f"acct-{number}",
        ip="198.51.100.7",
        success=True,
    )
    signal = Signal(
        detector="login_risk",
        detector_version="1",
        kind="risky_login",
        score=0.95,
        entity_type="account",
        entity=event.account or "",
        event_id=event.event_id,
        reasons=("new country and device",),
    )
    return event, [signal]


def test_a_rule_firing_on_every_event_goes_to_review_not_to_the_platform(
    ledger, tmp_path
) -> None:
    log = tmp_path / "actions.jsonl"
    config = log_config(log, breaker={"rate_floor": 2, "rate_factor": 10})
    dispatcher = Dispatcher(
        ledger,
        config,
        build_adapters(config),
        delays=policy_delays(POLICY),
        delay_key=TEST_DELAY_KEY,
        rng=random.Random(3),
    )
    engine = DecisionEngine(POLICY, mode="enforce")
    number = 0
    # two hours of a sane rule: two locks a minute
    for minute in range(120):
        actions = []
        for _ in range(2):
            number += 1
            actions += engine.decide(*_login(number, minute))[1]
        ledger.store.write_actions(actions)
        dispatcher.run_once(T0 + timedelta(minutes=minute, seconds=59))
    assert ledger.listing(state="held") == []
    # a detector bug scores every login risky: 500 locks in one minute
    gone_wrong = []
    for _ in range(500):
        number += 1
        gone_wrong += engine.decide(*_login(number, 120))[1]
    assert len(gone_wrong) == 500
    ledger.store.write_actions(gone_wrong)
    for minute in range(121, 131):
        dispatcher.run_once(T0 + timedelta(minutes=minute))

    ids = {action.action_id for action in gone_wrong}
    held = [r for r, _ in ledger.listing(state="held", limit=1000)]
    sent = [
        r
        for r, _ in ledger.listing(state="dispatched", limit=2000)
        if r.action_id in ids
    ]
    assert len(held) + len(sent) == 500
    assert len(sent) <= 20  # ten times the usual two a minute
    assert all(
        "rate: rule policy:prod@7#lock-risky-login" in (r.last_error or "")
        for r in held
    )
    reviews = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if json.loads(line)["type"] == "send_to_review"
    ]
    assert len(reviews) == len(held)
    locks_sent = [
        json.loads(line)["action_id"]
        for line in log.read_text().splitlines()
        if json.loads(line)["type"] == "lock_account"
    ]
    assert len(locks_sent) == len(set(locks_sent))  # nothing sent twice
