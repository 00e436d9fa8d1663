"""Actions dated ahead of the dispatcher's clock: sent now, counted now."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from response_rig import T0, log_config, make_action

from trustwatch.response.adapters import Delivery, build_adapters
from trustwatch.response.delay import TEST_DELAY_KEY, delay_for
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import DispatchLedger, parse_utc

FAR_AHEAD = datetime(2199, 6, 1, tzinfo=UTC)


def _dispatcher(ledger: DispatchLedger, log: Path, **extra) -> Dispatcher:
    config = log_config(log, **extra)
    return Dispatcher(
        ledger,
        config,
        build_adapters(config),
        rng=random.Random(3),
        delays={"lock-stuffed": (timedelta(minutes=5), timedelta(minutes=30))},
        delay_key=TEST_DELAY_KEY,
    )


def test_an_action_dated_far_ahead_is_due_from_the_pass_that_takes_it_in(
    ledger, tmp_path
) -> None:
    action = make_action(1, created_at=FAR_AHEAD)
    ledger.store.write_actions([action])
    dispatcher = _dispatcher(ledger, tmp_path / "actions.jsonl")
    dispatcher.run_once(T0)
    record = ledger.record(action.action_id)
    assert record is not None
    delay = delay_for(
        action.action_id, timedelta(minutes=5), timedelta(minutes=30), TEST_DELAY_KEY
    )
    assert parse_utc(record.due_at) == T0 + delay
    assert dispatcher.run_once(T0 + delay).dispatched == 1


def test_an_action_dated_far_ahead_does_not_blind_its_rules_runaway_check(
    ledger, tmp_path
) -> None:
    # a budget out of the way: only the runaway check (10 x a floor of 5) holds
    dispatcher = _dispatcher(
        ledger,
        tmp_path / "actions.jsonl",
        breaker={"budgets": {"lock_account": "1000 per minute"}},
    )
    ledger.store.write_actions([make_action(0, created_at=FAR_AHEAD)])
    dispatcher.run_once(T0)
    ledger.store.write_actions([make_action(n) for n in range(1, 61)])
    summary = dispatcher.run_once(T0)
    # the one dated ahead counted in this window too: 61 in all, 50 allowed
    assert summary.held == 11


class _Recording:
    """A platform double keeping every delivery."""

    name = "audit"

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def send(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def close(self) -> None:
        return


def test_an_action_dated_far_ahead_lasts_its_length_from_when_it_is_taken_in(
    ledger, tmp_path
) -> None:
    action = make_action(
        1, rule="block-bad", created_at=FAR_AHEAD, expires=timedelta(minutes=3)
    )
    ledger.store.write_actions([action])
    platform = _Recording()
    config = log_config(tmp_path / "actions.jsonl")
    dispatcher = Dispatcher(ledger, config, {"audit": platform}, rng=random.Random(3))

    assert dispatcher.run_once(T0).dispatched == 1
    [applied] = platform.deliveries
    assert applied.payload()["expires_at"] == "2026-12-01T12:03:00+00:00"
    assert dispatcher.run_once(T0 + timedelta(minutes=2)).reversals_sent == 0
    assert dispatcher.run_once(T0 + timedelta(minutes=3)).reversals_sent == 1
    assert platform.deliveries[-1].operation == "reverse"
    assert ledger.record(action.action_id).state == "expired"


def test_an_action_dated_in_the_past_keeps_its_own_expiry(ledger, tmp_path) -> None:
    action = make_action(1, rule="block-bad", expires=timedelta(minutes=3))
    ledger.store.write_actions([action])
    platform = _Recording()
    config = log_config(tmp_path / "actions.jsonl")
    dispatcher = Dispatcher(ledger, config, {"audit": platform}, rng=random.Random(3))

    dispatcher.run_once(T0 + timedelta(minutes=1))

    assert platform.deliveries[0].action.expires_at == action.expires_at
    assert ledger.record(action.action_id).expires_at is None
