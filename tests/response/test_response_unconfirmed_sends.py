"""Sends the platform may have applied without saying so, refused reversals,
throttling and take-ins cut off half-way, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_backends import any_ledger
from response_rig import T0, make_action

from trustwatch.cli.main import main
from trustwatch.decisions.model import stable_id
from trustwatch.errors import ConfigError
from trustwatch.response.adapters import AdapterError, Delivery
from trustwatch.response.config import response_config_from_dict
from trustwatch.response.dispatch import Dispatcher, reverse_action
from trustwatch.response.ledger import DispatchLedger
from trustwatch.storage.sqlite import SqliteStore

__all__ = ["any_ledger"]

ACTION = "act-lock-stuffed-00001"
REVERSAL = stable_id("rev", ACTION)


class ScriptedPlatform:
    """Answers each send with the next scripted error (``None``: accepted)."""

    name = "platform"

    def __init__(self, *answers: AdapterError | None) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str]] = []

    def send(self, delivery: Delivery) -> None:
        self.sent.append((delivery.operation, delivery.key))
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer

    def close(self) -> None:
        return


def _timed_out() -> AdapterError:
    return AdapterError("platform: no answer in time (ReadTimeout)", unreachable=True)


def _refused(status: int = 400) -> AdapterError:
    return AdapterError(f"platform: answered HTTP {status}", permanent=status < 500)


def _dispatcher(
    ledger: DispatchLedger, platform: ScriptedPlatform, **retry: object
) -> Dispatcher:
    config = response_config_from_dict(
        {
            "adapters": {"platform": {"kind": "log", "path": "unused.jsonl"}},
            "routes": {"default": "platform"},
            "retry": {"max_attempts": 3, "first_backoff": "10s", "max_backoff": "5m"}
            | retry,
        },
        "test",
    )
    return Dispatcher(ledger, config, {"platform": platform}, rng=random.Random(3))


def _state(ledger: DispatchLedger, action_id: str) -> str | None:
    found = ledger.record(action_id)
    return found.state if found else None


def test_reversing_an_action_whose_send_timed_out_sends_a_reversal(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    platform = ScriptedPlatform(_timed_out())
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0)
    assert _state(any_ledger, ACTION) == "pending"

    outcome = reverse_action(any_ledger, ACTION, "ana", "false positive", T0)

    assert "reversal queued" in outcome and "nothing was sent" not in outcome
    # in force (the platform may have applied it) until the reversal is confirmed
    assert _state(any_ledger, ACTION) == "dispatched"
    # the action is never tried again; its reversal goes out instead
    dispatcher.run_once(T0 + timedelta(hours=1))
    assert platform.sent == [("apply", ACTION), ("reverse", REVERSAL)]
    assert _state(any_ledger, REVERSAL) == "dispatched"
    assert _state(any_ledger, ACTION) == "reversed"


def test_a_reversal_waits_for_the_lease_of_an_attempt_in_flight(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    # a dispatcher claimed the action and was killed while sending
    any_ledger.add(ACTION, T0)
    assert any_ledger.claim(ACTION, T0, T0 + timedelta(minutes=5)) == 1

    reverse_action(any_ledger, ACTION, "ana", "false positive", T0)

    platform = ScriptedPlatform()
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0 + timedelta(minutes=4))
    assert platform.sent == []
    dispatcher.run_once(T0 + timedelta(minutes=5))
    assert platform.sent == [("reverse", REVERSAL)]


def test_expiry_after_a_timed_out_send_sends_a_reversal(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1, expires=timedelta(hours=1))])
    platform = ScriptedPlatform(_timed_out())
    dispatcher = _dispatcher(any_ledger, platform, max_backoff="2h", first_backoff="2h")
    dispatcher.run_once(T0)

    dispatcher.run_once(T0 + timedelta(hours=1, minutes=1))

    # in force (the platform may have applied it) until the reversal is confirmed
    assert _state(any_ledger, ACTION) == "dispatched"
    # sent once no attempt can still be going on (a lease at most from now)
    dispatcher.run_once(T0 + timedelta(hours=1, minutes=6))
    assert platform.sent == [("apply", ACTION), ("reverse", REVERSAL)]
    assert any_ledger.reversal_of(ACTION).actor == "expiry"
    assert _state(any_ledger, ACTION) == "expired"


def test_an_action_never_attempted_is_still_reversed_unsent(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    any_ledger.add(ACTION, T0 + timedelta(hours=1))

    outcome = reverse_action(any_ledger, ACTION, "ana", "false positive", T0)

    assert outcome == "reversed before dispatch: nothing was sent"
    assert any_ledger.record(REVERSAL) is None


def test_a_refused_reversal_can_be_retried(any_ledger: DispatchLedger) -> None:
    any_ledger.store.write_actions([make_action(1)])
    platform = ScriptedPlatform(None, _refused(400))
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0)
    reverse_action(any_ledger, ACTION, "ana", "false positive", T0)
    assert dispatcher.run_once(T0).failed == 1
    assert _state(any_ledger, REVERSAL) == "failed"

    with pytest.raises(ConfigError, match=f"actions retry {REVERSAL}"):
        reverse_action(any_ledger, ACTION, "ana", "again", T0)
    outcome = any_ledger.retry(REVERSAL, "ana", "platform fixed", T0)

    assert "queued again" in outcome
    assert dispatcher.run_once(T0).reversals_sent == 1
    assert _state(any_ledger, ACTION) == "reversed"
    [retried] = any_ledger.releases(REVERSAL)
    assert (retried.actor, retried.reason) == ("ana", "platform fixed")


def test_only_failed_rows_can_be_retried(any_ledger: DispatchLedger) -> None:
    any_ledger.store.write_actions([make_action(1)])
    any_ledger.add(ACTION, T0)
    with pytest.raises(ConfigError, match="is pending, not failed"):
        any_ledger.retry(ACTION, "ana", "why not", T0)
    with pytest.raises(ConfigError, match="a person and a reason"):
        any_ledger.retry(ACTION, "ana", " ", T0)


def test_throttling_never_uses_up_the_attempts(any_ledger: DispatchLedger) -> None:
    any_ledger.store.write_actions([make_action(1)])
    slow_down = [
        AdapterError("platform: HTTP 429", throttled=True, retry_after=120.0)
        for _ in range(6)
    ]
    platform = ScriptedPlatform(*slow_down)
    dispatcher = _dispatcher(any_ledger, platform)
    now = T0
    for _ in range(6):
        summary = dispatcher.run_once(now)
        assert summary.failed == 0
        found = any_ledger.record(ACTION)
        assert found.state == "pending" and found.attempts == 0
        # Retry-After is honoured: not due a moment before it
        assert dispatcher.run_once(now + timedelta(seconds=119)).retrying == 0
        now += timedelta(seconds=120)

    assert dispatcher.run_once(now).dispatched == 1
    assert len(platform.sent) == 7


def test_retry_after_is_capped_by_the_longest_back_off(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    platform = ScriptedPlatform(
        AdapterError("platform: HTTP 503", retry_after=86_400.0)
    )
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0)
    assert dispatcher.run_once(T0 + timedelta(minutes=5)).dispatched == 1


def test_a_take_in_cut_off_half_way_is_finished(any_ledger: DispatchLedger) -> None:
    from trustwatch.response.dispatch import _TAKING_IN

    actions = [make_action(number) for number in range(1, 4)]
    any_ledger.store.write_actions(actions)
    # a dispatcher put the rows in held and was killed before the breaker spoke
    for action in actions:
        any_ledger.add(action.action_id, T0, state="held", last_error=_TAKING_IN)
    platform = ScriptedPlatform()

    summary = _dispatcher(any_ledger, platform).run_once(T0)

    assert summary.taken_in == 3 and summary.dispatched == 3
    assert any_ledger.listing(state="held") == []


def test_a_take_in_cut_off_in_a_runaway_is_held_with_its_review(
    any_ledger: DispatchLedger,
) -> None:
    from trustwatch.response.dispatch import _TAKING_IN

    actions = [make_action(number) for number in range(1, 31)]
    any_ledger.store.write_actions(actions)
    for action in actions:
        any_ledger.add(action.action_id, T0, state="held", last_error=_TAKING_IN)
    config = response_config_from_dict(
        {
            "adapters": {"platform": {"kind": "log", "path": "unused.jsonl"}},
            "routes": {"default": "platform"},
            "breaker": {"rate_floor": 2, "rate_factor": 10},
        },
        "test",
    )
    dispatcher = Dispatcher(any_ledger, config, {"platform": ScriptedPlatform()})

    summary = dispatcher.run_once(T0)

    assert summary.held == 10
    held = any_ledger.listing(state="held")
    assert len(held) == 10
    assert all("sent to review as act-" in record.last_error for record, _ in held)


def test_dropping_a_held_action_with_a_timed_out_attempt_sends_a_reversal(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    platform = ScriptedPlatform(_timed_out())
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0)
    # the breaker held it on its next attempt
    any_ledger.set_state(ACTION, "held", leaving=("pending",), error="budget: full")

    outcome = any_ledger.drop(ACTION, "ana", "not needed", T0)

    assert "a reversal is sent" in outcome
    dispatcher.run_once(T0 + timedelta(hours=1))
    assert platform.sent == [("apply", ACTION), ("reverse", REVERSAL)]


def test_actions_retry_from_the_command_line(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.db"
    with SqliteStore(db) as store:
        store.write_actions([make_action(1)])
    with DispatchLedger(db) as ledger:
        ledger.add(ACTION, T0)
        ledger.set_state(ACTION, "failed", leaving=("pending",), error="HTTP 400")

    argv = ["actions", "retry", ACTION, "--as", "ana", "--reason", "fixed", "--db"]
    assert main([*argv, str(db)]) == 0
    assert "queued again" in capsys.readouterr().out
    assert main(["actions", "show", ACTION, "--db", str(db)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dispatch"]["state"] == "pending"
    assert shown["releases"][0]["reason"] == "fixed"
    assert main([*argv, str(db)]) != 0


def test_a_retried_action_whose_send_timed_out_is_still_taken_back(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    # the first send timed out (the platform may have applied it), the second
    # was refused: the action failed
    platform = ScriptedPlatform(_timed_out(), _refused(400))
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0)
    assert dispatcher.run_once(T0 + timedelta(hours=1)).failed == 1
    any_ledger.retry(ACTION, "ana", "platform fixed", T0 + timedelta(hours=2))
    assert any_ledger.record(ACTION).attempts == 1

    outcome = reverse_action(
        any_ledger, ACTION, "ana", "false positive", T0 + timedelta(hours=2)
    )

    assert "reversal queued" in outcome
    dispatcher.run_once(T0 + timedelta(hours=3))
    assert platform.sent[-1] == ("reverse", REVERSAL)


def test_a_retried_action_gets_the_attempts_left_but_the_first(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    platform = ScriptedPlatform(_refused(400), _refused(503), _refused(503))
    dispatcher = _dispatcher(any_ledger, platform)
    assert dispatcher.run_once(T0).failed == 1
    any_ledger.retry(ACTION, "ana", "platform fixed", T0)

    # max_attempts is 3: the refused first try counts as one that may have
    # reached the platform, so two more are made before the action fails
    assert dispatcher.run_once(T0).retrying == 1
    assert dispatcher.run_once(T0 + timedelta(hours=1)).failed == 1
    assert len(platform.sent) == 3


def test_reversing_a_refused_action_sends_the_reversal_on_the_next_pass(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    # a timed-out send, then a refusal: the action failed, nothing is in flight
    platform = ScriptedPlatform(_timed_out(), _refused(400))
    dispatcher = _dispatcher(any_ledger, platform)
    dispatcher.run_once(T0)
    assert dispatcher.run_once(T0 + timedelta(hours=1)).failed == 1
    now = T0 + timedelta(hours=1, seconds=1)

    outcome = reverse_action(any_ledger, ACTION, "ana", "false positive", now)

    assert outcome.endswith("a reversal is sent on the next dispatch pass")
    assert dispatcher.run_once(now).reversals_sent == 1
    assert platform.sent[-1] == ("reverse", REVERSAL)


def test_a_reversal_that_waits_for_an_attempt_says_until_when(
    any_ledger: DispatchLedger,
) -> None:
    any_ledger.store.write_actions([make_action(1)])
    any_ledger.add(ACTION, T0)
    assert any_ledger.claim(ACTION, T0, T0 + timedelta(minutes=5)) == 1

    outcome = reverse_action(any_ledger, ACTION, "ana", "false positive", T0)

    assert "from 2026-12-01 12:05:00 UTC, once an attempt" in outcome
