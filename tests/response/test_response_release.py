"""Held actions: a person releases them (sent after all) or drops them (never
sent), on SQLite and PostgreSQL, from the ledger and from the command line."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_backends import CountingAdapter, any_ledger
from response_rig import T0, make_action

from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.response.config import response_config_from_dict
from trustwatch.response.dispatch import Dispatcher, reverse_action
from trustwatch.response.ledger import DispatchLedger
from trustwatch.storage.sqlite import SqliteStore

__all__ = ["any_ledger"]

#: The ledger tables as the first dispatch ledger created them.
FIRST_LEDGER_SCHEMA = """
CREATE TABLE action_dispatch (action_id TEXT PRIMARY KEY, state TEXT NOT NULL
    CHECK (state IN ('pending', 'held', 'dispatched', 'failed', 'reversed',
    'expired')), attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
    last_error TEXT, dispatched_at TEXT, due_at TEXT NOT NULL,
    reversal_of TEXT UNIQUE);
CREATE INDEX action_dispatch_due ON action_dispatch (state, next_attempt_at);
CREATE TABLE action_reversals (reversal_id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL UNIQUE, actor TEXT NOT NULL, reason TEXT NOT NULL,
    requested_at TEXT NOT NULL);
CREATE TABLE breaker_rules (rule TEXT PRIMARY KEY, body TEXT NOT NULL);
INSERT INTO action_dispatch VALUES ('act-lock-stuffed-00001', 'held', 2,
    '2026-12-01T12:00:00.000000Z', 'budget: full', NULL,
    '2026-12-01T12:00:00.000000Z', NULL);
"""


def _dispatcher(ledger: DispatchLedger, adapter: CountingAdapter) -> Dispatcher:
    config = response_config_from_dict(
        {
            "adapters": {"platform": {"kind": "log", "path": "unused.jsonl"}},
            "routes": {"default": "platform"},
            "breaker": {"budgets": {"lock_account": "2 per minute"}},
        },
        "test-response.toml",
    )
    return Dispatcher(ledger, config, {"platform": adapter}, rng=random.Random(2))


def _hold_two(ledger: DispatchLedger, adapter: CountingAdapter) -> Dispatcher:
    """Four locks against a budget of two a minute: two are held."""
    ledger.store.write_actions([make_action(n) for n in range(1, 5)])
    dispatcher = _dispatcher(ledger, adapter)
    summary = dispatcher.run_once(T0)
    assert summary.dispatched == 2 and summary.held == 2
    return dispatcher


def _held_ids(ledger: DispatchLedger) -> list[str]:
    return sorted(record.action_id for record, _ in ledger.listing(state="held"))


def test_a_released_action_is_sent_once_and_the_release_names_the_person(
    any_ledger: DispatchLedger,
) -> None:
    ledger, adapter = any_ledger, CountingAdapter()
    dispatcher = _hold_two(ledger, adapter)
    first, second = _held_ids(ledger)
    later = T0 + timedelta(minutes=5)

    said = ledger.release(first, "ana", "owner confirmed the takeover", later)

    assert "released" in said
    record = ledger.record(first)
    assert record is not None and record.state == "pending"
    assert (
        record.attempts == 0 and record.next_attempt_at == "2026-12-01T12:05:00.000000Z"
    )
    assert record.last_error == "released by ana: owner confirmed the takeover"
    [release] = ledger.releases(first)
    assert (release.actor, release.reason) == ("ana", "owner confirmed the takeover")
    assert release.released_at == "2026-12-01T12:05:00.000000Z"

    dispatcher.run_once(later)
    dispatcher.run_once(later + timedelta(hours=1))
    assert adapter.deliveries[first] == 1
    sent = ledger.record(first)
    assert sent is not None and sent.state == "dispatched"
    assert second not in adapter.deliveries
    assert _held_ids(ledger) == [second]


def test_a_dropped_action_is_never_sent_and_its_reversal_names_the_person(
    any_ledger: DispatchLedger,
) -> None:
    ledger, adapter = any_ledger, CountingAdapter()
    dispatcher = _hold_two(ledger, adapter)
    first, _second = _held_ids(ledger)

    said = ledger.drop(first, "bo", "the rule misfired", T0 + timedelta(minutes=1))

    assert "dropped" in said
    record = ledger.record(first)
    assert record is not None and record.state == "reversed"
    assert record.last_error == "dropped by bo: the rule misfired"
    reversal = ledger.reversal_of(first)
    assert reversal is not None
    assert (reversal.actor, reversal.reason) == ("bo", "the rule misfired")
    dispatcher.run_once(T0 + timedelta(hours=1))
    assert first not in adapter.deliveries
    assert [op for op, key in adapter.operations if key == first] == []


def test_release_and_drop_refuse_every_other_state_with_a_hint(
    any_ledger: DispatchLedger,
) -> None:
    ledger, adapter = any_ledger, CountingAdapter()
    _hold_two(ledger, adapter)
    first, second = _held_ids(ledger)
    sent = next(key for key in adapter.deliveries)
    ledger.store.write_actions([make_action(9)])
    now = T0 + timedelta(minutes=1)

    ledger.release(first, "ana", "ok", now)
    with pytest.raises(ConfigError, match=r"is pending, not held.*hint:"):
        ledger.release(first, "ana", "twice", now)
    with pytest.raises(ConfigError, match=r"is pending, not held.*hint:"):
        ledger.drop(first, "ana", "after release", now)
    with pytest.raises(ConfigError, match=r"is dispatched, not held"):
        ledger.release(sent, "ana", "r", now)
    with pytest.raises(ConfigError, match="not been taken in"):
        ledger.drop(make_action(9).action_id, "ana", "r", now)
    with pytest.raises(ConfigError, match="not in the store"):
        ledger.release("act-none", "ana", "r", now)
    with pytest.raises(ConfigError, match="a person and a reason"):
        ledger.drop(second, " ", "r", now)
    with pytest.raises(ConfigError, match="a person and a reason"):
        ledger.release(second, "ana", "", now)

    ledger.drop(second, "ana", "confirmed bad", now)
    with pytest.raises(ConfigError, match=r"is reversed, not held"):
        ledger.release(second, "ana", "changed my mind", now)
    reverse_action(ledger, sent, "ana", "owner verified", now)
    reversal = ledger.reversal_of(sent)
    assert reversal is not None
    with pytest.raises(ConfigError, match="is a reversal"):
        ledger.release(reversal.reversal_id, "ana", "r", now)
    assert ledger.releases(second) == []


def test_a_ledger_file_from_the_first_version_opens_and_its_held_action_releases(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    with SqliteStore(db) as store:
        store.write_actions([make_action(1)])
    with sqlite3.connect(db) as old:
        old.executescript(FIRST_LEDGER_SCHEMA)

    with DispatchLedger(db) as ledger:
        record = ledger.record("act-lock-stuffed-00001")
        assert record is not None and record.state == "held" and record.attempts == 2
        ledger.release("act-lock-stuffed-00001", "ana", "fine", T0)
        assert [r.actor for r in ledger.releases("act-lock-stuffed-00001")] == ["ana"]
    with DispatchLedger(db) as reopened:
        record = reopened.record("act-lock-stuffed-00001")
        assert record is not None and record.state == "pending"


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_actions_release_and_drop_from_the_command_line(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.db"
    with DispatchLedger(db) as ledger:
        _hold_two(ledger, CountingAdapter())
        first, second = _held_ids(ledger)

    status, out, _ = _cli(
        capsys, "actions", "release", first, "--as", "ana", "--reason", "ok",
        "--db", str(db),
    )  # fmt: skip
    assert status == 0 and "released" in out
    status, out, _ = _cli(
        capsys, "actions", "drop", second, "--as", "bo", "--reason", "misfire",
        "--db", str(db),
    )  # fmt: skip
    assert status == 0 and "dropped" in out

    status, out, _ = _cli(capsys, "actions", "show", first, "--db", str(db))
    shown = json.loads(out)
    assert shown["dispatch"]["state"] == "pending"
    assert [(r["actor"], r["reason"]) for r in shown["releases"]] == [("ana", "ok")]
    status, out, _ = _cli(capsys, "actions", "show", second, "--db", str(db))
    shown = json.loads(out)
    assert shown["dispatch"]["state"] == "reversed"
    assert (shown["reversal"]["actor"], shown["reversal"]["reason"]) == (
        "bo",
        "misfire",
    )

    status, _, err = _cli(
        capsys, "actions", "drop", first, "--as", "bo", "--reason", "late",
        "--db", str(db),
    )  # fmt: skip
    assert status != 0 and "not held" in err and "hint:" in err
    status, _, err = _cli(
        capsys, "actions", "release", first, "--reason", "who?", "--db", str(db)
    )
    assert status != 0 and "--as" in err
