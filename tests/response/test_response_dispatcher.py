"""The dispatcher with the log adapter: modes, delays, breaker, expiry, reversal."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from response_rig import T0, log_config, make_action

from trustwatch.decisions.policy import policy_from_dict
from trustwatch.errors import ConfigError, PolicyError
from trustwatch.response.adapters import build_adapters
from trustwatch.response.breaker import BREAKER_ACTOR
from trustwatch.response.config import response_config_from_dict
from trustwatch.response.delay import TEST_DELAY_KEY, delay_for
from trustwatch.response.dispatch import Dispatcher, policy_delays, reverse_action
from trustwatch.response.ledger import DispatchLedger


def _dispatcher(ledger: DispatchLedger, log: Path, **kwargs) -> Dispatcher:
    config = log_config(log, **kwargs.pop("extra", {}))
    return Dispatcher(
        ledger, config, build_adapters(config), rng=random.Random(1), **kwargs
    )


def _lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_log_adapter_writes_one_line_of_ids_per_action(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(1), make_action(2)])
    summary = _dispatcher(ledger, log).run_once(T0)
    assert summary.dispatched == 2
    lines = _lines(log)
    assert [line["action_id"] for line in lines] == [
        "act-lock-stuffed-00001",
        "act-lock-stuffed-00002",
    ]
    assert all(line["idempotency_key"] == line["action_id"] for line in lines)
    assert all("reason" not in line and "actor" not in line for line in lines)
    assert "credential stuffing" not in log.read_text()


def test_dry_run_and_shadow_are_never_dispatched(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions(
        [make_action(1, mode="dry_run"), make_action(2, mode="shadow"), make_action(3)]
    )
    dispatcher = _dispatcher(ledger, log)
    for hour in range(3):
        dispatcher.run_once(T0 + timedelta(hours=hour))
    assert [line["action_id"] for line in _lines(log)] == ["act-lock-stuffed-00003"]
    assert ledger.record("act-lock-stuffed-00001") is None
    assert ledger.record("act-lock-stuffed-00002") is None
    with pytest.raises(ConfigError, match="dry_run mode"):
        reverse_action(ledger, "act-lock-stuffed-00001", "ana", "oops", T0)


def test_delay_is_reproducible_bounded_and_keyed() -> None:
    low, high = timedelta(minutes=5), timedelta(minutes=30)
    ids = [f"act-{n}" for n in range(500)]
    drawn = [delay_for(i, low, high, TEST_DELAY_KEY) for i in ids]
    assert drawn == [delay_for(i, low, high, TEST_DELAY_KEY) for i in ids]
    assert all(low <= d <= high for d in drawn)
    assert len(set(drawn)) > 200
    other = [delay_for(i, low, high, b"another-secret-key-000") for i in ids]
    assert sum(a != b for a, b in zip(drawn, other, strict=True)) > 400
    assert delay_for("x", low, low, TEST_DELAY_KEY) == low


def test_policy_delay_parses_and_is_checked() -> None:
    rule = {"id": "r", "signals": ["s"], "action": "lock_account"}
    policy = policy_from_dict(
        {"name": "p", "version": "1", "rules": [rule | {"delay": "5m-30m"}]}, "t"
    )
    assert policy_delays(policy) == {"r": (timedelta(minutes=5), timedelta(minutes=30))}
    plain = policy_from_dict({"name": "p", "version": "1", "rules": [rule]}, "t")
    assert plain.rules[0].delay is None
    with pytest.raises(PolicyError, match="rule r: delay"):
        policy_from_dict(
            {"name": "p", "version": "1", "rules": [rule | {"delay": "30m-5m"}]}, "t"
        )


def test_delayed_action_waits_for_its_due_time(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    action = make_action(1)
    ledger.store.write_actions([action])
    bounds = (timedelta(minutes=5), timedelta(minutes=30))
    dispatcher = _dispatcher(
        ledger, log, delays={"lock-stuffed": bounds}, delay_key=TEST_DELAY_KEY
    )
    due = T0 + delay_for(action.action_id, *bounds, TEST_DELAY_KEY)
    assert dispatcher.due_at(action) == due
    assert dispatcher.run_once(T0 + timedelta(minutes=4)).dispatched == 0
    assert dispatcher.run_once(due - timedelta(seconds=1)).dispatched == 0
    assert dispatcher.run_once(due).dispatched == 1
    with pytest.raises(ConfigError, match="hint"):
        _dispatcher(ledger, log, delays={"lock-stuffed": bounds})


def test_budget_holds_the_excess_and_sends_it_to_review(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(n) for n in range(5)])
    dispatcher = _dispatcher(
        ledger, log, extra={"breaker": {"budgets": {"lock_account": "3 per minute"}}}
    )
    summary = dispatcher.run_once(T0)
    assert summary.dispatched == 3 and summary.held == 2
    held = ledger.listing(state="held")
    assert len(held) == 2
    assert all(
        "budget: lock_account is limited to 3 per minute" in (r.last_error or "")
        for r, _ in held
    )
    dispatcher.run_once(T0 + timedelta(seconds=1))
    sent = _lines(log)
    reviews = [line for line in sent if line["type"] == "send_to_review"]
    assert len(reviews) == 2
    assert {line["target"] for line in reviews} == {a.target for _, a in held}
    review = ledger.action(reviews[0]["action_id"])
    assert review is not None and review.actor == BREAKER_ACTOR
    assert "budget" in review.reason
    locks = [line for line in sent if line["type"] == "lock_account"]
    assert len(locks) == 3
    # the next minute has a fresh budget, but held actions stay held
    assert dispatcher.run_once(T0 + timedelta(minutes=2)).dispatched == 0
    assert len(ledger.listing(state="held")) == 2


def test_a_rule_gone_wrong_is_held_after_ten_times_its_usual_rate(
    ledger, tmp_path
) -> None:
    log = tmp_path / "actions.jsonl"
    dispatcher = _dispatcher(
        ledger, log, extra={"breaker": {"rate_floor": 2, "rate_factor": 10}}
    )
    number = 0
    # an hour of a healthy rule: three locks a minute
    for minute in range(60):
        batch = []
        for _ in range(3):
            number += 1
            batch.append(make_action(number, created_at=T0 + timedelta(minutes=minute)))
        ledger.store.write_actions(batch)
        summary = dispatcher.run_once(T0 + timedelta(minutes=minute, seconds=30))
        assert summary.held == 0
    # the rule now fires on every event: 200 in one minute
    gone_wrong = T0 + timedelta(minutes=60)
    ledger.store.write_actions(
        [make_action(number + n, created_at=gone_wrong) for n in range(1, 201)]
    )
    summary = dispatcher.run_once(gone_wrong + timedelta(seconds=30))
    # the usual rate has climbed to just under 3 a minute: about 30 go through
    assert 29 <= summary.dispatched <= 30
    assert summary.held == 200 - summary.dispatched
    held = ledger.listing(state="held", limit=1000)
    assert len(held) == summary.held
    assert all(
        "rate: rule policy:test@1#lock-stuffed fired" in (r.last_error or "")
        for r, _ in held
    )
    reviews = ledger.listing(action_type="send_to_review", limit=1000)
    assert len(reviews) == summary.held
    assert all(a.actor == BREAKER_ACTOR for _, a in reviews)
    # another rule is unaffected
    other = make_action(1, rule="other-rule", created_at=gone_wrong)
    ledger.store.write_actions([other])
    later = dispatcher.run_once(gone_wrong + timedelta(seconds=40))
    assert later.held == 0
    assert later.dispatched == summary.held + 1  # the reviews, and the other rule
    record = ledger.record(other.action_id)
    assert record is not None and record.state == "dispatched"


def test_expired_action_is_reversed_through_the_same_adapter(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(1, expires=timedelta(hours=1))])
    dispatcher = _dispatcher(ledger, log)
    dispatcher.run_once(T0)
    dispatcher.run_once(T0 + timedelta(minutes=59))
    assert [line["operation"] for line in _lines(log)] == ["apply"]
    summary = dispatcher.run_once(T0 + timedelta(hours=1))
    assert summary.reversals_sent == 1
    apply, reverse = _lines(log)
    assert reverse["operation"] == "reverse"
    assert reverse["action_id"] == apply["action_id"]
    assert reverse["idempotency_key"] != apply["idempotency_key"]
    record = ledger.record("act-lock-stuffed-00001")
    assert record is not None and record.state == "expired"
    reversal = ledger.reversal_of("act-lock-stuffed-00001")
    assert reversal is not None and reversal.actor == "expiry"
    assert dispatcher.run_once(T0 + timedelta(hours=5)).reversals_sent == 0
    assert len(_lines(log)) == 2


def test_action_expiring_before_dispatch_is_never_sent(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(1, expires=timedelta(minutes=10))])
    bounds = (timedelta(minutes=20), timedelta(minutes=30))
    dispatcher = _dispatcher(
        ledger, log, delays={"lock-stuffed": bounds}, delay_key=TEST_DELAY_KEY
    )
    dispatcher.run_once(T0)
    summary = dispatcher.run_once(T0 + timedelta(minutes=40))
    assert summary.expired == 1 and summary.dispatched == 0
    assert _lines(log) == []


def test_manual_reversal_records_the_person_and_is_sent_once(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(1), make_action(2)])
    dispatcher = _dispatcher(ledger, log)
    dispatcher.run_once(T0)
    said = reverse_action(
        ledger, "act-lock-stuffed-00001", "ana", "owner verified by phone", T0
    )
    assert "queued" in said
    with pytest.raises(ConfigError, match="already"):
        reverse_action(ledger, "act-lock-stuffed-00001", "bo", "again", T0)
    summary = dispatcher.run_once(T0 + timedelta(minutes=1))
    assert summary.reversals_sent == 1
    record = ledger.record("act-lock-stuffed-00001")
    assert record is not None and record.state == "reversed"
    reversal = ledger.reversal_of("act-lock-stuffed-00001")
    assert reversal is not None
    assert (reversal.actor, reversal.reason) == ("ana", "owner verified by phone")
    assert [line["operation"] for line in _lines(log)] == ["apply", "apply", "reverse"]
    action = ledger.action("act-lock-stuffed-00001")
    assert action is not None and action.actor == "policy:test@1#lock-stuffed"


def test_reversing_a_pending_action_means_it_is_never_sent(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(1)])
    said = reverse_action(ledger, "act-lock-stuffed-00001", "ana", "false alarm", T0)
    assert "nothing was sent" in said
    _dispatcher(ledger, log).run_once(T0 + timedelta(hours=1))
    assert _lines(log) == []
    record = ledger.record("act-lock-stuffed-00001")
    assert record is not None and record.state == "reversed"


def test_bad_response_config_names_the_key_with_a_hint(tmp_path) -> None:
    base = {"adapters": {"audit": {"kind": "log"}}, "routes": {"default": "audit"}}
    with pytest.raises(ConfigError, match=r"routes\.lock_account.*hint"):
        response_config_from_dict(
            base | {"routes": {"lock_account": "missing"}}, "r.toml"
        )
    with pytest.raises(ConfigError, match=r"budgets\.lock_account.*hint"):
        response_config_from_dict(
            base | {"breaker": {"budgets": {"lock_account": "many"}}}, "r.toml"
        )
    with pytest.raises(ConfigError, match="kind 'smtp'"):
        response_config_from_dict(
            base | {"adapters": {"audit": {"kind": "smtp"}}}, "r.toml"
        )


def test_the_documented_example_config_loads() -> None:
    from trustwatch.response.config import load_response_config

    example = Path(__file__).resolve().parents[2] / "docs/examples/response.toml"
    config = load_response_config(example)
    assert config.adapter_for("lock_account") == "platform"
    assert config.adapter_for("send_to_review") == "audit"
    assert config.breaker.budgets["lock_account"] == (100, timedelta(minutes=1))


def test_only_one_claimant_wins_an_attempt(ledger) -> None:
    ledger.store.write_actions([make_action(1)])
    assert ledger.add("act-lock-stuffed-00001", T0)
    assert not ledger.add("act-lock-stuffed-00001", T0)
    lease = T0 + timedelta(minutes=5)
    assert ledger.claim("act-lock-stuffed-00001", T0, lease)
    assert not ledger.claim("act-lock-stuffed-00001", T0, lease)
    assert ledger.due(T0 + timedelta(minutes=1)) == []


def test_unwritable_log_leaves_the_action_pending_with_its_error(
    ledger, tmp_path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a folder should be")
    ledger.store.write_actions([make_action(1)])
    summary = _dispatcher(ledger, blocked / "actions.jsonl").run_once(T0)
    assert summary.dispatched == 0 and summary.retrying == 1
    record = ledger.record("act-lock-stuffed-00001")
    assert record is not None and record.state == "pending"
    assert "cannot write" in (record.last_error or "")


def test_actions_not_taken_in_yet_are_listed_as_pending(ledger) -> None:
    ledger.store.write_actions(
        [
            make_action(1),
            make_action(2, type="challenge"),
            make_action(3, mode="shadow"),
        ]
    )
    listed = ledger.listing(state="pending")
    assert [record.action_id for record, _ in listed] == [
        "act-lock-stuffed-00001",
        "act-lock-stuffed-00002",
    ]
    assert all(record.attempts == 0 for record, _ in listed)
    only_challenges = ledger.listing(action_type="challenge")
    assert [a.type for _, a in only_challenges] == ["challenge"]
    assert ledger.listing(state="dispatched") == []


def test_the_loop_runs_passes_until_told_to_stop(ledger, tmp_path) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(1)])
    dispatcher = _dispatcher(ledger, log)
    passes = []
    naps: list[float] = []
    dispatcher.run_forever(
        should_stop=lambda: len(passes) >= 3,
        sleep=naps.append,
        on_pass=passes.append,
    )
    assert len(passes) == 3
    assert sum(p.dispatched for p in passes) == 1
    assert naps == [10.0, 10.0]


def test_an_adapter_that_raises_anything_fails_the_attempt_not_the_pass(
    ledger, tmp_path
) -> None:
    log = tmp_path / "actions.jsonl"
    ledger.store.write_actions([make_action(n) for n in range(2)])
    config = log_config(log)
    adapters = build_adapters(config)
    sent: list[str] = []

    class Broken:
        def __init__(self, inner) -> None:
            self.inner = inner

        def send(self, delivery) -> None:
            if not sent:
                sent.append("boom")
                raise ValueError("invalid literal for int(): '\u00b2'")
            self.inner.send(delivery)

        def __getattr__(self, name):
            return getattr(self.inner, name)

    adapters = {name: Broken(adapter) for name, adapter in adapters.items()}
    dispatcher = Dispatcher(ledger, config, adapters, rng=random.Random(1))

    summary = dispatcher.run_once(T0)

    assert (summary.dispatched, summary.retrying) == (1, 1)
    ((waiting, _),) = ledger.listing(state="pending")
    assert "the adapter raised ValueError" in (waiting.last_error or "")
    assert "\u00b2" not in (waiting.last_error or "")
